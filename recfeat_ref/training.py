r"""One trainer for every model in the book.

The trainer knows nothing about the model: it takes ``(inputs, target)`` pairs of
pre-built tensors, calls ``model(*inputs)``, and applies a loss. Mini-batches are
slices of a random permutation of row indices (tensor indexing), not per-sample
``Dataset`` collation: on ML-100K that keeps a matrix-factorisation epoch far
under a second on a laptop CPU.

Features
--------
* device auto-selection: CUDA, then Apple MPS, then CPU (:func:`get_device`);
* one seeding helper (:func:`seed_everything`);
* mixed precision on CUDA (bfloat16 where supported, else float16 with a gradient scaler);
* early stopping on any validation metric, best weights restored;
* history as a :class:`pandas.DataFrame`, plotted by :func:`plot_history`;
* a tqdm progress bar over epochs;
* checkpoints written atomically and loaded with ``torch.load(..., weights_only=True)``.

Models of implicit feedback whose training set changes every epoch (fresh negatives,
fresh corruption noise, adversarial steps) cannot use the trainer's fixed
``(inputs, target)`` pairs; they subclass :class:`ImplicitRecommender`, which owns the
rest of the loop (threads, the bar, timing, early stopping on validation NDCG@k, the
best weights, the history) and leaves each model only its epoch.
"""

from __future__ import annotations

import copy
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from ._validation import _preview, check_columns, check_dataframe, check_ids, check_number, check_seed
from .exceptions import CheckpointError, DataValidationError, InvalidParameterError, NonFiniteLossError
from .recommender import Recommender, evaluate_topn

__all__ = [
    "get_device",
    "seed_everything",
    "TrainConfig",
    "Trainer",
    "plot_history",
    "save_checkpoint",
    "load_checkpoint",
    "cpu_threads",
    "ImplicitRecommender",
]

Inputs = torch.Tensor | Sequence[torch.Tensor]


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the fastest available device: CUDA, then Apple MPS, then CPU.

    Parameters
    ----------
    prefer : str, optional
        Force a device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``). The
        environment variable ``RECFEAT_DEVICE`` does the same without code changes.

    Examples
    --------
    >>> get_device("cpu")
    device(type='cpu')
    """
    prefer = prefer or os.environ.get("RECFEAT_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (CPU and CUDA).

    Call it once before building a model so that its initial weights are
    reproducible. Library functions in :mod:`recfeat_ref` that need randomness
    take a ``seed`` argument instead of relying on this global state.

    Examples
    --------
    >>> seed_everything(0); a = torch.rand(1)
    >>> seed_everything(0); bool(torch.rand(1) == a)
    True
    """
    check_seed(seed)
    random.seed(int(seed))
    np.random.seed(int(seed))
    torch.manual_seed(int(seed))  # also seeds every CUDA device
    torch.backends.cudnn.benchmark = False


@dataclass
class TrainConfig:
    """Settings of :class:`Trainer`; every default says why.

    Attributes
    ----------
    num_epochs : int
        20: enough for the book's ML-100K models to reach their best validation score.
    batch_size : int
        1024: large enough to keep a CPU busy, small enough for many updates per epoch.
    lr : float
        1e-3: Adam's usual default (Kingma and Ba, 2015), the article's value.
    weight_decay : float
        0.0: regularisation is a modelling decision, made per chapter.
    patience : int or None
        3: stop after this many epochs without improvement of ``monitor``; None disables.
    monitor : str or None
        History column to watch; None means ``valid_loss`` when validation data is given,
        else ``train_loss``.
    mode : str
        ``"min"`` for losses, ``"max"`` for scores such as AUC.
    amp : bool
        True: use mixed precision when on CUDA (ignored on CPU/MPS).
    compile : bool
        False: ``torch.compile`` pays off only for long GPU runs.
    seed : int
        0: the shuffling order and dropout masks are reproducible.
    device : str or None
        None: :func:`get_device` chooses.
    progress : bool
        True: show a tqdm bar over epochs.
    checkpoint_path : str or None
        Where to save the best weights (atomically); None keeps them in memory only.
    cpu_threads : int or None
        1: on the CPU, torch threads used during :meth:`Trainer.fit` (restored afterwards).
        The book's models are small, so a second thread buys nothing, and on a shared
        2-core machine (CI, Colab) a busy neighbour process slows multi-threaded epochs
        down a hundredfold (``benchmarks/bench_core.py --busy``). None keeps torch's setting.

    A field of the wrong type or out of range raises
    :class:`~recfeat_ref.exceptions.InvalidParameterError` (a ``ValueError`` and a
    ``TypeError``) naming it, at construction.

    Examples
    --------
    >>> cfg = TrainConfig(lr=1e-2, monitor="valid_auc", mode="max")
    >>> cfg.lr, cfg.mode, cfg.patience
    (0.01, 'max', 3)
    >>> TrainConfig(mode="up")
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.InvalidParameterError: mode must be 'min' or 'max', got 'up'
    """

    num_epochs: int = 20
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 3
    monitor: str | None = None
    mode: str = "min"
    amp: bool = True
    compile: bool = False
    seed: int = 0
    device: str | None = None
    progress: bool = True
    checkpoint_path: str | None = None
    cpu_threads: int | None = 1

    def __post_init__(self):
        # Every check raises InvalidParameterError (a ValueError and a TypeError) naming the field.
        check_number("num_epochs", self.num_epochs, 1, integer=True, example=20)
        check_number("batch_size", self.batch_size, 1, integer=True, example=1024)
        check_number("lr", self.lr, 0, low_open=True, example=1e-3)
        check_number("weight_decay", self.weight_decay, 0, example=0.0)
        check_number("patience", self.patience, 1, integer=True, allow_none=True, example=3)
        check_number("cpu_threads", self.cpu_threads, 1, integer=True, allow_none=True, example=1)
        check_seed(self.seed)
        if self.mode not in ("min", "max"):
            raise InvalidParameterError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.monitor is not None and not isinstance(self.monitor, str):
            raise InvalidParameterError(
                f"monitor must be a history column name (e.g. 'valid_loss') or None, got {self.monitor!r}"
            )
        for name in ("amp", "compile", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidParameterError(f"{name} must be True or False, got {getattr(self, name)!r}")


def _as_tuple(inputs: Inputs) -> tuple[torch.Tensor, ...]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,)
    inputs = tuple(inputs)
    if not inputs or not all(isinstance(t, torch.Tensor) for t in inputs):
        raise TypeError("inputs must be a tensor or a non-empty sequence of tensors")
    return inputs


def _check_finite_tensor(t: torch.Tensor, what: str) -> None:
    """Raise naming ``what`` and the first offending rows if a floating tensor holds NaN or infinity."""
    if not (t.is_floating_point() or t.is_complex()):
        return
    finite = torch.isfinite(t)
    if bool(finite.all()):
        return
    bad_rows = (~finite).reshape(t.shape[0], -1).any(dim=1) if t.dim() else ~finite.reshape(1)
    rows = torch.nonzero(bad_rows).flatten().cpu().numpy()
    values = t[~finite].detach().cpu().numpy()
    raise DataValidationError(
        f"{what} has {int((~finite).sum())} NaN or infinite value(s), in rows {_preview(rows)}: "
        f"{_preview(np.unique(values))}; drop or impute those rows before building the tensors"
    )


def _check_pair(pair, name: str) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(f"{name} must be a pair (inputs, target)")
    inputs, target = _as_tuple(pair[0]), pair[1]
    if not isinstance(target, torch.Tensor):
        raise TypeError(
            f"{name}: the target must be a torch.Tensor, got {type(target).__name__}; "
            "convert it with torch.as_tensor(target, dtype=torch.float32)"
        )
    if target.dim() == 0:
        raise DataValidationError(f"{name}: the target is a scalar; pass one target per row, shape (n,) or (n, ...)")
    n = target.shape[0]
    if n == 0:
        raise DataValidationError(f"{name}: the target is empty")
    for i, t in enumerate(inputs):
        if t.dim() == 0 or t.shape[0] != n:
            rows = "no rows (a scalar)" if t.dim() == 0 else f"{t.shape[0]} rows"
            raise DataValidationError(f"{name}: input {i} has {rows} but the target has {n}")
    if target.dtype == torch.bool:
        raise DataValidationError(
            f"{name}: the target is boolean; losses need numbers: pass target.float() (or .long() for class labels)"
        )
    _check_finite_tensor(target, f"{name}: the target")
    for i, t in enumerate(inputs):
        _check_finite_tensor(t, f"{name}: input {i}")
    return inputs, target


def _check_output_shape(out: torch.Tensor, target: torch.Tensor, where: str) -> None:
    """Raise if output and target differ only by axes of length 1 (e.g. (16,) and (16, 1)).

    Element-wise losses would broadcast such a pair to (16, 16) and average the wrong
    differences (torch's MSELoss only warns). Shapes that differ in size (a (B, C)
    output against (B,) class labels) are the loss's business and pass.
    """
    if out.shape == target.shape or out.numel() != target.numel():
        return
    if [d for d in out.shape if d != 1] == [d for d in target.shape if d != 1]:
        raise DataValidationError(
            f"{where}: the model's output has shape {tuple(out.shape)} but the target has shape "
            f"{tuple(target.shape)}; the loss would broadcast them to {tuple(torch.broadcast_shapes(out.shape, target.shape))} "
            "and compare every output with every target. Make them equal: squeeze the output "
            "(e.g. end the model with nn.Flatten(0) or .squeeze(-1)) or reshape the target"
        )


_PROBABILITY_LOSSES = (nn.BCEWithLogitsLoss, nn.BCELoss)
_CLASS_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)


def _check_target_range(loss_fn, target: torch.Tensor, name: str) -> None:
    """The documented target range of torch's binary losses: labels (or soft labels) in [0, 1]."""
    if isinstance(loss_fn, _PROBABILITY_LOSSES) and target.is_floating_point():
        bad = (target < 0) | (target > 1)
        if bool(bad.any()):
            rows = torch.nonzero(bad.reshape(target.shape[0], -1).any(dim=1)).flatten().cpu().numpy()
            raise DataValidationError(
                f"{name}: {type(loss_fn).__name__} needs targets in [0, 1], found "
                f"{_preview(np.unique(target[bad].cpu().numpy()))} in rows {_preview(rows)}; "
                "binarise the target first, e.g. (rating >= 4).float()"
            )


def _check_class_targets(loss_fn, out: torch.Tensor, target: torch.Tensor, name: str) -> None:
    """Class indices of CrossEntropyLoss / NLLLoss must lie in [0, C) for an output of C classes."""
    if not isinstance(loss_fn, _CLASS_LOSSES) or target.is_floating_point() or out.dim() < 2:
        return
    n_classes = out.shape[1]
    valid = target != loss_fn.ignore_index
    bad = valid & ((target < 0) | (target >= n_classes))
    if bool(bad.any()):
        rows = torch.nonzero(bad.reshape(target.shape[0], -1).any(dim=1)).flatten().cpu().numpy()
        raise DataValidationError(
            f"{name}: class indices must lie in [0, {n_classes}) for a model with {n_classes} outputs, found "
            f"{_preview(np.unique(target[bad].cpu().numpy()))} in rows {_preview(rows)}; encode the classes as "
            f"0..{n_classes - 1} or widen the model's output"
        )


def _nonfinite_loss(value: float, epoch: int, batch: int | None, n_batches: int | None, extra: str = "") -> NonFiniteLossError:
    where = f"epoch {epoch}" + (f", batch {batch} of {n_batches}" if batch is not None else "")
    return NonFiniteLossError(
        f"the training loss is {value} at {where}{extra}; the inputs and targets were checked and are finite, "
        "so training diverged: lower the learning rate, check the loss's domain (log of 0, probabilities "
        "outside [0, 1]) or switch off mixed precision (amp=False)"
    )


class Trainer:
    """Train any ``nn.Module`` on tensors with one loop.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(*inputs)``; must return a tensor shaped like the target.
    loss_fn : callable
        ``loss_fn(output, target) -> scalar tensor``, e.g. ``nn.BCEWithLogitsLoss()``.
    config : TrainConfig
    metrics : dict of str to callable, optional
        Validation metrics ``fn(y_true, y_out) -> float`` on NumPy arrays; they appear in the
        history as ``valid_<name>``.
    output_transform : callable, optional
        Applied to model outputs before metrics and in :meth:`predict`
        (``torch.sigmoid`` turns logits into probabilities).
    optimizer_factory : callable, optional
        ``factory(params, lr, weight_decay) -> Optimizer``; default Adam.

    Attributes
    ----------
    history_ : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``valid_loss``, ``valid_<metric>``, ``seconds``.
    best_epoch_ : int
        The epoch whose weights were restored (the last epoch if the monitored value was
        never a number).

    Notes
    -----
    What :meth:`fit` checks before the first step, each failure a
    :class:`~recfeat_ref.exceptions.DataValidationError` naming the pair (``train`` or
    ``valid``), the tensor and the rows: the target is a non-empty, non-boolean tensor
    with as many rows as every input; floating targets and inputs hold no NaN or
    infinity; ``BCEWithLogitsLoss`` / ``BCELoss`` targets lie in [0, 1];
    ``CrossEntropyLoss`` / ``NLLLoss`` class indices lie in [0, C); an output that differs
    from its target only by axes of length 1 (``(16,)`` against ``(16, 1)``, which an
    element-wise loss would broadcast to ``(16, 16)``) is an error naming both shapes.
    During training, the first NaN or infinite loss stops it with
    :class:`~recfeat_ref.exceptions.NonFiniteLossError`, naming the epoch and the batch.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> X, y = torch.randn(64, 3), torch.randn(64)
    >>> model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))
    >>> cfg = TrainConfig(num_epochs=2, progress=False, device="cpu")
    >>> hist = Trainer(model, nn.MSELoss(), cfg).fit((X, y))
    >>> list(hist.columns)
    ['epoch', 'train_loss', 'seconds']
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        config: TrainConfig | None = None,
        metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]] | None = None,
        output_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        optimizer_factory: Callable[..., torch.optim.Optimizer] | None = None,
    ):
        self.config = config or TrainConfig()
        self.device = get_device(self.config.device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.metrics = dict(metrics or {})
        self.output_transform = output_transform
        factory = optimizer_factory or (lambda params, lr, weight_decay: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay))
        self.optimizer = factory(self.model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        self._amp_dtype = None
        if self.config.amp and self.device.type == "cuda":
            self._amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self._scaler = torch.amp.GradScaler("cuda", enabled=self._amp_dtype == torch.float16)
        self._forward = torch.compile(self.model) if (self.config.compile and self.device.type == "cuda") else self.model

    # -- helpers -----------------------------------------------------------
    def _to_device(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        pin = self.device.type == "cuda"
        return tuple((t.pin_memory() if pin and not t.is_pinned() else t).to(self.device, non_blocking=pin) for t in tensors)

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self._amp_dtype, enabled=self._amp_dtype is not None)

    def _outputs(self, inputs: tuple[torch.Tensor, ...], batch_size: int) -> torch.Tensor:
        self.model.eval()
        outs = []
        with torch.no_grad(), self._autocast():
            for start in range(0, inputs[0].shape[0], batch_size):
                outs.append(self._forward(*(t[start : start + batch_size] for t in inputs)).float())
        return torch.cat(outs)

    # -- public API ----------------------------------------------------------
    def fit(self, train, valid=None) -> pd.DataFrame:
        """Train for ``config.num_epochs`` epochs (fewer if early stopping triggers).

        Parameters
        ----------
        train, valid : pair ``(inputs, target)``
            ``inputs`` is a tensor or a tuple of tensors with the same number of rows as ``target``.

        Returns
        -------
        pandas.DataFrame
            The history, also stored as ``history_``.
        """
        with cpu_threads(self.config.cpu_threads, self.device):
            return self._fit(train, valid)

    def _fit(self, train, valid) -> pd.DataFrame:
        cfg = self.config
        seed_everything(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        x_tr, y_tr = _check_pair(train, "train")
        _check_target_range(self.loss_fn, y_tr, "train: the target")
        if valid is not None:
            x_va, y_va = _check_pair(valid, "valid")
            _check_target_range(self.loss_fn, y_va, "valid: the target")
        x_tr, (y_tr,) = self._to_device(x_tr), self._to_device((y_tr,))
        if valid is not None:
            x_va, (y_va,) = self._to_device(x_va), self._to_device((y_va,))
        monitor = cfg.monitor or ("valid_loss" if valid is not None else "train_loss")
        if monitor.startswith("valid") and valid is None:
            raise ValueError(f"monitor={monitor!r} needs validation data: pass valid=(inputs, target)")
        sign = 1.0 if cfg.mode == "min" else -1.0
        best, best_state, stale = math.inf, None, 0
        rows = []
        n = y_tr.shape[0]
        bar = tqdm(range(1, cfg.num_epochs + 1), desc="epochs", disable=not cfg.progress, leave=True)
        for epoch in bar:
            start = time.perf_counter()
            self.model.train()
            perm = torch.randperm(n, generator=gen).to(self.device)
            total = 0.0
            n_batches = -(-n // cfg.batch_size)
            for batch, lo in enumerate(range(0, n, cfg.batch_size), start=1):
                idx = perm[lo : lo + cfg.batch_size]
                with self._autocast():
                    out = self._forward(*(t[idx] for t in x_tr))
                    if batch == 1:
                        _check_output_shape(out, y_tr[idx], "train")
                        if epoch == 1:
                            _check_class_targets(self.loss_fn, out, y_tr, "train: the target")
                    loss = self.loss_fn(out.float(), y_tr[idx])
                self.optimizer.zero_grad(set_to_none=True)
                self._scaler.scale(loss).backward()
                self._scaler.step(self.optimizer)
                self._scaler.update()
                value = loss.detach().float().item()  # the one host sync per batch, as before
                if not math.isfinite(value):
                    raise _nonfinite_loss(value, epoch, batch, n_batches)
                total += value * idx.shape[0]
            row = {"epoch": epoch, "train_loss": total / n}
            if valid is not None:
                out = self._outputs(x_va, cfg.batch_size * 4)
                if epoch == 1:
                    _check_output_shape(out, y_va, "valid")
                    _check_class_targets(self.loss_fn, out, y_va, "valid: the target")
                row["valid_loss"] = float(self.loss_fn(out, y_va))
                if self.metrics:
                    y_out = (self.output_transform(out) if self.output_transform else out).cpu().numpy()
                    y_true = y_va.cpu().numpy()
                    for name, fn in self.metrics.items():
                        row[f"valid_{name}"] = float(fn(y_true, y_out))
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            if monitor not in row:
                raise ValueError(f"monitor={monitor!r} is not a history column; columns are {list(row)}")
            bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds")})
            score = sign * row[monitor]
            if score < best:
                best, stale, self.best_epoch_ = score, 0, epoch
                best_state = copy.deepcopy(self.model.state_dict())
                if cfg.checkpoint_path:
                    save_checkpoint(cfg.checkpoint_path, self.model, epoch=epoch, metrics=row)
            else:
                stale += 1
                if cfg.patience is not None and stale >= cfg.patience:
                    break
        bar.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        else:  # the monitored value was never a number (NaN every epoch): keep the last weights
            self.best_epoch_ = rows[-1]["epoch"]
        self.history_ = pd.DataFrame(rows)
        return self.history_

    def predict(self, inputs: Inputs, batch_size: int | None = None) -> torch.Tensor:
        """Model outputs (after ``output_transform``) for ``inputs``, as a CPU tensor."""
        inputs = self._to_device(_as_tuple(inputs))
        out = self._outputs(inputs, batch_size or self.config.batch_size * 4)
        if self.output_transform is not None:
            out = self.output_transform(out)
        return out.cpu()


class cpu_threads:  # noqa: N801 - used like a function: ``with cpu_threads(1, device):``
    """Context manager: torch uses ``n`` intra-op threads inside the block on the CPU.

    ``n=None``, or a non-CPU device, leaves the setting alone. The previous value is
    restored on exit, also after an exception. Why one thread by default during training:
    see :class:`TrainConfig` (``cpu_threads``).

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with cpu_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """

    def __init__(self, n: int | None, device: torch.device | str = "cpu"):
        self.n = n if torch.device(device).type == "cpu" else None

    def __enter__(self):
        self.previous = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)
        return False


class ImplicitRecommender(Recommender):
    r"""Base of the top-N recommenders trained epoch by epoch with early stopping on validation NDCG@k.

    A subclass provides

    * ``config``, a dataclass with ``num_epochs``, ``eval_every``, ``patience``, ``k``,
      ``device``, ``progress`` and ``cpu_threads`` (see :class:`~recfeat_ref.mf.BPRConfig`);
    * ``_train(users, items, device)``, which builds the model from the training indices
      and calls :meth:`_run_epochs` with a function that trains one epoch;
    * ``_score`` / ``_score_all`` / ``_fallback`` of :class:`~recfeat_ref.recommender.Recommender`;
    * optionally ``_validation_report(train, valid)``, to rank other candidates than the
      training items (e.g. :class:`~recfeat_ref.text.TextFusedRanker`'s cold items).

    What it gets: ``fit(train, valid=None)`` (ratings, if present, are ignored), torch
    threads set for the fit (:class:`cpu_threads`), a tqdm bar, each epoch timed, the
    validation NDCG@k and Recall@k of :func:`~recfeat_ref.recommender.evaluate_topn`
    (full catalogue, training items excluded) every ``eval_every`` epochs, early stopping
    after ``patience`` evaluations without improvement, the best weights restored, and
    ``history_`` / ``best_epoch_``. Without ``valid`` all ``num_epochs`` run.

    Examples
    --------
    A concrete subclass, :class:`~recfeat_ref.mf.BPRMF`, evaluated on ``valid`` every epoch:

    >>> from recfeat_ref.mf import BPRMF
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 2, 2, 3]})
    >>> valid = pd.DataFrame({"user_id": [2], "item_id": [3]})
    >>> model = BPRMF(n_factors=4, num_epochs=2, eval_every=1, k=2, progress=False,
    ...               device="cpu").fit(train, valid)
    >>> isinstance(model, ImplicitRecommender), model.history_.columns.tolist()[-2:]
    (True, ['valid_ndcg_at_2', 'valid_recall_at_2'])
    """

    target_col = None

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> ImplicitRecommender:
        """Fit on the interactions in ``train``; early-stop on NDCG@k of ``valid`` if given."""
        if valid is not None:
            check_dataframe(valid, "valid")
            check_columns(valid, [self.user_col, self.item_col], "valid")
            for col in (self.user_col, self.item_col):
                check_ids(valid, col, "valid")
        self._frames = (train, valid)
        try:
            return super().fit(train)
        finally:
            del self._frames

    def _fit(self, users, items, values):
        device = get_device(self.config.device)
        with cpu_threads(self.config.cpu_threads, device):
            self._train(users, items, device)

    def _train(self, users: np.ndarray, items: np.ndarray, device: torch.device) -> None:
        raise NotImplementedError

    def _validation_report(self, train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, float]:
        """Metrics of the current state on ``valid``, with keys ``ndcg_at_k`` and ``recall_at_k``.

        Default: :func:`~recfeat_ref.recommender.evaluate_topn` at ``config.k``.
        """
        return evaluate_topn(self, train, valid, k=self.config.k)

    def _run_epochs(self, step: Callable[[int], dict], state: nn.Module, export: Callable[[], None]) -> None:
        """The epoch loop.

        Parameters
        ----------
        step : callable
            ``step(epoch)`` trains one epoch and returns a dict of numbers for the
            history (e.g. ``{"train_loss": ...}``).
        state : torch.nn.Module
            What to keep from the best epoch (its ``state_dict`` is copied and restored).
        export : callable
            Makes the scoring methods reflect the current ``state`` (e.g. copy the
            factors to NumPy); called before each evaluation and once at the end.
        """
        cfg = self.config
        train_frame, valid_frame = self._frames
        rows, best, best_state, stale = [], -math.inf, None, 0
        bar = tqdm(range(1, cfg.num_epochs + 1), desc="epochs", disable=not cfg.progress, leave=True)
        for epoch in bar:
            start = time.perf_counter()
            row = {"epoch": epoch, **step(epoch)}
            row["seconds"] = time.perf_counter() - start
            for name, value in row.items():  # NaN from the first epoch on is a placeholder (CFGAN without D)
                if name.endswith("loss") and not math.isfinite(float(value)):
                    placeholder = math.isnan(float(value)) and name != "train_loss" and all(
                        math.isnan(float(r.get(name, math.nan))) for r in rows)
                    if not placeholder:
                        raise _nonfinite_loss(value, epoch, None, None, f" ({name}, the epoch's mean over its batches)")
            if valid_frame is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.num_epochs):
                export()
                report = self._validation_report(train_frame, valid_frame)
                row[f"valid_ndcg_at_{cfg.k}"] = report["ndcg_at_k"]
                row[f"valid_recall_at_{cfg.k}"] = report["recall_at_k"]
                if report["ndcg_at_k"] > best:
                    best, stale, best_epoch = report["ndcg_at_k"], 0, epoch
                    best_state = copy.deepcopy(state.state_dict())
                else:
                    stale += 1
            rows.append(row)
            bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds")})
            if stale >= cfg.patience:
                break
        bar.close()
        self.best_epoch_ = rows[-1]["epoch"]
        if best_state is not None:
            state.load_state_dict(best_state)
            self.best_epoch_ = best_epoch
        self.history_ = pd.DataFrame(rows)
        export()


def plot_history(history: pd.DataFrame, columns: Sequence[str] | None = None, ax=None, title: str | None = None):
    """Plot training curves from a :class:`Trainer` history.

    Parameters
    ----------
    history : DataFrame with an ``epoch`` column.
    columns : names to plot; default every ``*_loss`` column.
    ax : matplotlib Axes, optional.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.7, 0.6], "valid_loss": [0.8, 0.75, 0.74]})
    >>> ax = plot_history(history, ax=Figure().subplots())
    >>> ax.get_xlabel(), [line.get_label() for line in ax.get_lines()]
    ('epoch', ['train_loss', 'valid_loss'])
    """
    import matplotlib.pyplot as plt

    if "epoch" not in history.columns:
        raise ValueError(f"history has no 'epoch' column; columns are {list(history.columns)}")
    columns = list(columns) if columns is not None else [c for c in history.columns if c.endswith("_loss")]
    missing = [c for c in columns if c not in history.columns]
    if missing:
        raise ValueError(f"history has no column(s) {missing}; columns are {list(history.columns)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for c in columns:
        ax.plot(history["epoch"], history[c], marker="o", label=c)
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra) -> None:
    """Write ``model.state_dict()`` plus plain-Python ``extra`` to ``path`` atomically.

    The file is written to a temporary name in the same directory and renamed, so an
    interruption never leaves a half-written checkpoint behind.

    Examples
    --------
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.pt")
    ...     save_checkpoint(path, nn.Linear(2, 1), epoch=3)
    ...     load_checkpoint(path, nn.Linear(2, 1))
    {'epoch': 3}
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    payload = {"state_dict": model.state_dict(), **extra}
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path: str | os.PathLike, model: nn.Module, map_location="cpu") -> dict:
    """Load weights saved by :func:`save_checkpoint` into ``model``; return the extras.

    Uses ``torch.load(..., weights_only=True)``: a checkpoint can hold tensors and plain
    containers of numbers and strings, never arbitrary pickled code. A file that cannot
    be read (truncated, not a checkpoint, pickled code) or whose weights do not fit
    ``model`` raises :class:`~recfeat_ref.exceptions.CheckpointError` naming the path and
    what to do; a missing file, ``FileNotFoundError``.

    Examples
    --------
    >>> source, target = nn.Linear(2, 1), nn.Linear(2, 1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_checkpoint(os.path.join(folder, "model.pt"), source, note="demo")
    ...     extras = load_checkpoint(os.path.join(folder, "model.pt"), target)
    >>> extras, torch.equal(source.weight, target.weight)
    ({'note': 'demo'}, True)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file; save one with save_checkpoint(path, model) first")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, not a torch file, or pickled code refused by weights_only
        detail = (str(exc).splitlines() or [""])[0]
        raise CheckpointError(
            f"{path}: cannot read this checkpoint ({os.path.getsize(path)} bytes): it is truncated, corrupted "
            f"or not written by save_checkpoint (torch.load: {type(exc).__name__}: {detail}); delete the file "
            "and save the model again with save_checkpoint"
        ) from exc
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"{path}: not a recfeat_ref checkpoint (no 'state_dict' key); write it with save_checkpoint")
    try:
        model.load_state_dict(payload.pop("state_dict"))
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: the checkpoint's weights do not fit this {type(model).__name__}: {exc}; build the model "
            "with the configuration it was saved with"
        ) from exc
    return payload
