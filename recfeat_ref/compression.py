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
import warnings

import numpy as np
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
    """A copy of ``model`` with the smallest ``amount`` of its weights (in |w|, globally) set to zero.

    The threshold is global over every linear weight and embedding table, so layers with
    many small weights lose more. Returns a plain model (no pruning masks left behind).
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
    """Fraction of zeros among the prunable weights (linear layers and embedding tables)."""
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
    """Number of weights, including those a dynamically quantised linear layer packs away."""
    n = sum(p.numel() for p in model.parameters())
    for module in model.modules():
        if type(module).__name__ == "Linear" and type(module).__module__.startswith("torch.ao.nn.quantized"):
            n += module.weight().numel()
            n += module.bias().numel() if module.bias() is not None else 0
    return n


def model_bytes(model: nn.Module, sparse: bool = False) -> int:
    """Bytes of the model's ``state_dict`` saved with :func:`torch.save`.

    ``sparse=True`` stores every floating tensor with more than half of its entries zero
    in COO format (indices + values): the size a pruned model can reach on disk.
    """
    state = model.state_dict()
    if sparse:
        state = {k: (v.to_sparse() if torch.is_tensor(v) and v.is_floating_point() and v.dim() > 0
                     and (v == 0).float().mean() > 0.5 else v) for k, v in state.items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer().nbytes
