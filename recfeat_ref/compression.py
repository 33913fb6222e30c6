r"""Model compression for the CTR models: quantisation, pruning, distillation, hashed embeddings.

The article's answer to the compute cost of large models is compression. Four standard
techniques, each applied to :class:`~recfeat_ref.neural.DeepFM` and measured in the
efficiency chapter (parameters, bytes on disk, CPU latency, AUC):

* **Dynamic int8 quantisation** (Jacob et al., 2018): the weights of every linear layer
  are stored as 8-bit integers with one scale per output channel,
  :math:`W \approx s \odot Q,\ Q = \operatorname{round}(W / s),\ s_o = \max_i |W_{oi}| / 127`;
  activations are quantised on the fly, row by row. :func:`quantize_per_channel` is the
  rule written out; :func:`quantize_dynamic_int8` applies PyTorch's kernels.
* **Magnitude pruning** (Han et al., 2015): the fraction ``amount`` of weights with the
  smallest absolute values, over all layers at once, are set to zero
  (:func:`magnitude_prune`). A dense tensor stays as large on disk; the saving needs a
  sparse format (:func:`model_bytes` reports both).
* **Knowledge distillation** (Hinton, Vinyals and Dean, 2015): a small *student* is
  trained on a mix of the labels and the large *teacher*'s softened predictions
  (:func:`distillation_loss`).
* **The hashing trick** for embedding tables (Weinberger et al., 2009): ids are hashed
  into fewer buckets than there are ids, so colliding ids share a row
  (:func:`hash_codes`).

References
----------
.. [1] B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
   Integer-Arithmetic-Only Inference", CVPR 2018.
.. [2] S. Han, J. Pool, J. Tran and W. Dally, "Learning both Weights and Connections for
   Efficient Neural Networks", NeurIPS 2015.
.. [3] G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a Neural Network",
   NIPS Deep Learning Workshop, 2015.
.. [4] K. Weinberger et al., "Feature Hashing for Large Scale Multitask Learning", ICML 2009.
"""

from __future__ import annotations

import copy
import io
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._validation import _check_positive, _check_positive_int

__all__ = [
    "count_parameters",
    "distillation_loss",
    "hash_codes",
    "magnitude_prune",
    "model_bytes",
    "quantize_dynamic_int8",
    "quantize_per_channel",
    "sparsity",
]


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Symmetric per-output-channel int8 quantisation of a (O, I) weight matrix.

    Returns ``(q, scale)`` with ``q`` int8 in [-127, 127] and ``scale`` (O,) float so that
    ``q * scale[:, None]`` approximates ``weight`` with an error of at most ``scale / 2``
    per entry.

    Examples
    --------
    >>> q, s = quantize_per_channel(torch.tensor([[0.5, -1.0], [2.0, 0.0]]))
    >>> q.tolist(), [round(v, 5) for v in s.tolist()]
    ([[64, -127], [127, 0]], [0.00787, 0.01575])
    """
    if weight.dim() != 2:
        raise ValueError(f"weight must be 2-D (out, in), got shape {tuple(weight.shape)}")
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127  # (O,)
    q = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8)  # (O, I)
    return q, scale


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers run PyTorch's dynamic int8 kernels (CPU).

    Embedding tables and everything else stay float32. PyTorch marks this eager-mode API
    as deprecated in favour of the separate ``torchao`` package, but it still runs and is
    the reference our :func:`quantize_per_channel` is checked against; the deprecation
    notice is silenced here and nowhere else.

    Examples
    --------
    >>> q = quantize_dynamic_int8(nn.Sequential(nn.Linear(3, 2)))
    >>> q(torch.zeros(1, 3)).shape, count_parameters(q)
    (torch.Size([1, 2]), 8)
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        # One scale per output channel, symmetric: the rule of quantize_per_channel.
        return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear: per_channel_dynamic_qconfig},
                                dtype=torch.qint8)


def _prunable(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Weights of linear layers and embedding tables (biases are few and left alone)."""
    out = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear | nn.Embedding):
            out.append((name, module.weight))
    return out


def magnitude_prune(model: nn.Module, amount: float) -> nn.Module:
    """A copy of ``model`` with the smallest ``amount`` of its weights (in :math:`|w|`, globally) set to zero.

    The threshold is global over every linear weight and embedding table, so layers with
    many small weights lose more. Returns a plain model (no pruning masks left behind).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> sparsity(magnitude_prune(nn.Linear(4, 5), amount=0.5))
    0.5
    """
    if not 0 <= amount < 1:
        raise ValueError(f"amount must lie in [0, 1), got {amount!r}")
    pruned = copy.deepcopy(model)
    weights = [w for _, w in _prunable(pruned)]
    if not weights or amount == 0:
        return pruned
    magnitudes = torch.cat([w.detach().abs().flatten() for w in weights])
    k = int(amount * magnitudes.numel())
    if k == 0:
        return pruned
    threshold = magnitudes.kthvalue(k).values
    with torch.no_grad():
        for w in weights:
            w.mul_((w.abs() > threshold).to(w.dtype))
    return pruned


def sparsity(model: nn.Module) -> float:
    """Fraction of zeros among the prunable weights (linear layers and embedding tables).

    Examples
    --------
    >>> sparsity(nn.Linear(3, 2))
    0.0
    """
    weights = [w for _, w in _prunable(model)]
    total = sum(w.numel() for w in weights)
    return float(sum((w == 0).sum().item() for w in weights) / total) if total else 0.0


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, target: torch.Tensor,
                      alpha: float = 0.5, temperature: float = 2.0) -> torch.Tensor:
    r"""Binary knowledge distillation: labels and the teacher's softened probabilities.

    .. math:: L = (1 - \alpha)\, \mathrm{BCE}(\sigma(z_s), y)
              + \alpha\, T^2\, \mathrm{BCE}\big(\sigma(z_s / T), \sigma(z_t / T)\big)

    The :math:`T^2` factor keeps the soft term's gradient on the scale of the hard term's
    as :math:`T` grows (Hinton et al., 2015). ``alpha=0`` is ordinary training.

    Shapes: student_logits, teacher_logits, target (B,) -> scalar.

    Examples
    --------
    >>> logits = torch.zeros(2)
    >>> round(distillation_loss(logits, logits, torch.tensor([1.0, 0.0]), alpha=0.0).item(), 4)
    0.6931
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    _check_positive("temperature", temperature)
    hard = F.binary_cross_entropy_with_logits(student_logits, target)
    soft_target = torch.sigmoid(teacher_logits.detach() / temperature)
    soft = F.binary_cross_entropy_with_logits(student_logits / temperature, soft_target)
    return (1 - alpha) * hard + alpha * temperature**2 * soft


def hash_codes(codes: torch.Tensor, n_buckets: int, seed: int = 0) -> torch.Tensor:
    """Map integer codes to ``1..n_buckets`` with a fixed random hash; code 0 (OOV) stays 0.

    A multiply-shift style hash, ``((a * code + b) mod p) mod n_buckets + 1`` with a large
    prime ``p`` and ``a, b`` drawn from ``seed``: the same code always lands in the same
    bucket (unlike Python's salted ``hash``), and distinct codes collide roughly uniformly.

    Examples
    --------
    >>> hashed = hash_codes(torch.arange(0, 1000), n_buckets=100)
    >>> int(hashed[0]), int(hashed.min()), int(hashed.max()) <= 100
    (0, 0, True)
    """
    _check_positive_int("n_buckets", n_buckets)
    p = 2_147_483_647  # the Mersenne prime 2^31 - 1
    rng = np.random.default_rng(seed)
    a, b = int(rng.integers(1, p)), int(rng.integers(0, p))
    codes = torch.as_tensor(codes, dtype=torch.int64)
    hashed = (a * codes + b) % p % n_buckets + 1
    return torch.where(codes == 0, torch.zeros_like(hashed), hashed)


def count_parameters(model: nn.Module) -> int:
    """Number of weights, including those a dynamically quantised linear layer packs away.

    Examples
    --------
    >>> count_parameters(nn.Linear(3, 2))   # 3*2 weights + 2 biases
    8
    """
    n = sum(p.numel() for p in model.parameters())
    for module in model.modules():
        if type(module).__name__ == "Linear" and type(module).__module__.startswith("torch.ao.nn.quantized"):
            n += module.weight().numel()
            n += module.bias().numel() if module.bias() is not None else 0
    return n


def model_bytes(model: nn.Module, sparse: bool = False) -> int:
    """Bytes of the model's ``state_dict`` saved with :func:`torch.save`.

    ``sparse=True`` stores every floating tensor with more than half of its entries zero
    as a bitmask of its non-zeros (1 bit per entry, packed) plus the non-zero values: the
    size a pruned model can reach on disk. (COO or CSR indices take 8 bytes per index in
    PyTorch and would make an 80 %-sparse float32 table *larger* than the dense one.)

    Examples
    --------
    >>> model_bytes(nn.Linear(3, 2)) > 0
    True
    """
    state = model.state_dict()
    if sparse:
        packed = {}
        for k, v in state.items():
            if torch.is_tensor(v) and v.is_floating_point() and v.dim() > 0 and (v == 0).float().mean() > 0.5:
                mask = (v != 0).flatten().numpy()
                packed[k] = {"mask": torch.from_numpy(np.packbits(mask)), "values": v.flatten()[mask],
                             "shape": tuple(v.shape)}
            else:
                packed[k] = v
        state = packed
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer().nbytes


# --- the recipe of the efficiency chapter ----------------------------------------------


@dataclass
class Variant:
    """A compressed model and how to feed it: ``model(*transform(batch))`` gives logits."""

    model: nn.Module
    transform: Callable
    note: str


def _hash_batch(batch, fields: tuple[int, ...], n_buckets: tuple[int, ...], seed: int):
    x_cat = batch.x_cat.clone()
    for f, b in zip(fields, n_buckets):
        x_cat[:, f] = hash_codes(x_cat[:, f], b, seed=seed + f)
    return type(batch)(x_cat=x_cat, x_multi=batch.x_multi, y=batch.y, index=batch.index)


def build_variants(teacher: nn.Module, data, *, seed: int = 0, prune_amounts=(0.5, 0.8),
                   hash_fraction: float = 0.25, hashed_fields=(0, 1), student_embed_dim: int = 4,
                   student_hidden=(32,), alpha: float = 0.5, temperature: float = 2.0,
                   num_epochs: int = 12) -> dict[str, Variant]:
    """The compressed variants of a trained :class:`~recfeat_ref.neural.DeepFM` compared in the book.

    Parameters
    ----------
    teacher : DeepFM
        Trained on ``data.train`` (early-stopped on ``data.valid``).
    data : recfeat_ref.ctr.CTRData
        The featurizer and the train/valid/test batches.
    prune_amounts : tuple of float
        Global magnitude pruning levels, applied to the teacher without retraining.
    hash_fraction : float
        The hashed model's user and item tables get this fraction of the original rows.
    student_embed_dim, student_hidden : int, tuple of int
        The small DeepFM trained with and without distillation.

    Returns
    -------
    dict of name -> Variant, the teacher first.
    """
    from .ctr import fit_ctr
    from .metrics import roc_auc
    from .neural import DeepFM, DeepFMConfig
    from .training import TrainConfig, Trainer, seed_everything

    def identity(batch):
        return batch.inputs

    f = data.featurizer
    variants = {"DeepFM, float32": Variant(teacher.cpu().eval(), identity, "the trained model")}
    variants["DeepFM, int8 linear layers"] = Variant(quantize_dynamic_int8(teacher), identity,
                                                      "dynamic int8 quantisation, no retraining")
    for amount in prune_amounts:
        variants[f"DeepFM, {amount:.0%} pruned"] = Variant(magnitude_prune(teacher, amount).eval(), identity,
                                                         "global magnitude pruning, no retraining")
    small = DeepFMConfig(f.field_dims_, f.multi_dims_, embed_dim=student_embed_dim, hidden_dims=tuple(student_hidden))
    plain = fit_ctr(lambda: DeepFM(small), data.train, data.valid, num_epochs=num_epochs, patience=3, seed=seed).model
    variants["student, labels only"] = Variant(plain.cpu().eval(), identity, "small DeepFM, ordinary training")

    with torch.no_grad():
        t_train = teacher(*data.train.inputs)
        t_valid = teacher(*data.valid.inputs)
    seed_everything(seed)
    student = DeepFM(small)
    config = TrainConfig(num_epochs=num_epochs, lr=1e-2, weight_decay=1e-4, patience=3, monitor="valid_auc",
                         mode="max", seed=seed, progress=False)
    trainer = Trainer(student, lambda out, tgt: distillation_loss(out, tgt[:, 1], tgt[:, 0], alpha, temperature),
                      config, metrics={"auc": lambda y, p: roc_auc(y[:, 0], p)}, output_transform=torch.sigmoid)
    trainer.fit((data.train.inputs, torch.stack([data.train.y, t_train], 1)),
                (data.valid.inputs, torch.stack([data.valid.y, t_valid], 1)))
    variants["student, distilled"] = Variant(student.cpu().eval(), identity,
                                             f"small DeepFM, distillation (alpha={alpha}, T={temperature})")

    buckets = tuple(max(2, int(hash_fraction * f.field_dims_[k])) for k in hashed_fields)
    dims = list(f.field_dims_)
    for k, b in zip(hashed_fields, buckets):
        dims[k] = b + 1  # bucket codes 1..b, 0 stays the OOV slot
    def hashed_inputs(batch):
        return _hash_batch(batch, tuple(hashed_fields), buckets, seed).inputs

    hashed_train, hashed_valid = (_hash_batch(b, tuple(hashed_fields), buckets, seed) for b in (data.train, data.valid))
    hashed = fit_ctr(lambda: DeepFM(DeepFMConfig(tuple(dims), f.multi_dims_)), hashed_train, hashed_valid,
                     num_epochs=num_epochs, patience=3, seed=seed).model
    variants[f"DeepFM, hashed ids ({hash_fraction:.0%} rows)"] = Variant(
        hashed.cpu().eval(), hashed_inputs, "hashing trick on user and item ids, retrained")
    return variants


def latency_ms_per_1000(model: nn.Module, inputs: tuple, repeats: int = 30) -> float:
    """Median milliseconds of one forward pass over 1,000 rows on one CPU thread (after a warm-up)."""
    _check_positive_int("repeats", repeats)
    inputs = tuple(x[:1000] for x in inputs)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        with torch.no_grad():
            model(*inputs)
            for _ in range(repeats):
                start = time.perf_counter()
                model(*inputs)
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return 1000 * float(np.median(times))


def compare_variants(variants: dict[str, Variant], test, measure_latency: bool = False) -> pd.DataFrame:
    """One row per variant: parameters, bytes (dense / sparse), test AUC and log loss, optionally latency."""
    from .metrics import log_loss, roc_auc

    y = test.y.numpy()
    rows = {}
    for name, v in variants.items():
        inputs = v.transform(test)
        with torch.no_grad():
            p = torch.sigmoid(v.model(*inputs)).numpy().astype(float)
        row = {"parameters": count_parameters(v.model), "bytes": model_bytes(v.model),
               "bytes_sparse": model_bytes(v.model, sparse=True), "auc": roc_auc(y, p), "log_loss": log_loss(y, p)}
        if measure_latency:
            row["ms_per_1000"] = latency_ms_per_1000(v.model, inputs)
        rows[name] = row
    return pd.DataFrame(rows).T
