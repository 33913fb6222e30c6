r"""The mathematics chapter in code: a layer's forward pass and the losses.

Everything here is plain NumPy so that each formula is visible; the tests check
each function against PyTorch (``torch.nn.functional``) and autograd.

Notation (used in the book's Chapter 4): a batch of :math:`n` examples
:math:`X \in \mathbb{R}^{n \times d}`, weights :math:`W \in \mathbb{R}^{h \times d}`,
bias :math:`b \in \mathbb{R}^{h}`, logits :math:`z`, probabilities
:math:`p = \sigma(z)`, labels :math:`y \in \{0, 1\}`.

References
----------
Goodfellow, Bengio and Courville (2016), *Deep Learning*, MIT Press, sections 5.5
(maximum likelihood) and 6.2.2 (sigmoid units for Bernoulli outputs).
"""

from __future__ import annotations

import numpy as np

from ._validation import _as_float_array, _preview, check_finite_array
from .exceptions import DataValidationError

__all__ = [
    "linear_forward",
    "relu",
    "sigmoid",
    "softmax",
    "mse",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "bce_grad_logit",
    "article_bce",
    "article_bce_grad_logit",
]


def _as_numeric(name: str, x) -> np.ndarray:
    """``x`` as a float64 array; text or other non-numbers raise naming ``name`` and the values."""
    return _as_float_array(x, name)


def _as_float(name: str, x) -> np.ndarray:
    """``x`` as a non-empty, finite float64 array; raise naming ``name``, the values and positions."""
    return check_finite_array(x, name)


def _check_probabilities(name: str, p: np.ndarray) -> None:
    bad = (p < 0) | (p > 1)
    if bad.any():
        raise DataValidationError(
            f"{name}: probabilities must lie in [0, 1], found {_preview(np.unique(p[bad]).tolist())}; "
            "if these are logits, use binary_cross_entropy_with_logits (or apply sigmoid first)"
        )


def _class_labels(name: str, labels, n_classes: int) -> np.ndarray:
    """Integer class indices in ``[0, n_classes)``; floats must be whole numbers, text raises."""
    y = _as_float(name, labels)
    frac = y != np.round(y)
    if frac.any():
        raise DataValidationError(
            f"{name}: class labels must be whole numbers (indices in [0, {n_classes})), found "
            f"{_preview(np.unique(y[frac]).tolist())} at positions {_preview(np.flatnonzero(frac).tolist())}; "
            "pass integer class indices, e.g. np.asarray(labels, dtype=int) if they are whole, "
            "or use binary_cross_entropy for probabilities"
        )
    return y.astype(np.int64)


def _same_shape(a_name: str, a: np.ndarray, b_name: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise DataValidationError(f"{a_name} has shape {a.shape} but {b_name} has shape {b.shape}")


def _labels01(name: str, y) -> np.ndarray:
    arr = _as_float(name, y)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise DataValidationError(
            f"{name}: labels must be 0 or 1, found {_preview(np.unique(arr[bad]).tolist())}; "
            "binarise first, e.g. (rating >= 4).astype(int)"
        )
    return arr


def linear_forward(X, W, b) -> np.ndarray:
    r"""Forward pass of a fully connected layer, :math:`Z = X W^\top + b`.

    Parameters
    ----------
    X : array of shape (n, d)
        A batch of ``n`` inputs with ``d`` features.
    W : array of shape (h, d)
        Weights, stored as PyTorch's ``nn.Linear`` stores them (out, in).
    b : array of shape (h,)
        Bias, broadcast over the batch.

    Returns
    -------
    Z : array of shape (n, h)

    Examples
    --------
    >>> linear_forward([[1.0, 2.0]], [[1.0, 1.0]], [0.5])
    array([[3.5]])
    """
    X = _as_float("X", X)
    W = _as_float("W", W)
    b = _as_float("b", b)
    if X.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise DataValidationError(
            f"expected X (n, d), W (h, d), b (h,); got {X.shape}, {W.shape}, {b.shape}"
        )
    if X.shape[1] != W.shape[1] or W.shape[0] != b.shape[0]:
        raise DataValidationError(
            f"shapes do not chain: X {X.shape} @ W.T {W.T.shape} + b {b.shape}"
        )
    return X @ W.T + b  # (n, d) @ (d, h) + (h,) -> (n, h)


def relu(z) -> np.ndarray:
    r"""Rectified linear unit, :math:`\max(0, z)` elementwise.

    Examples
    --------
    >>> relu([-1.0, 2.0]).tolist()
    [0.0, 2.0]
    """
    return np.maximum(_as_numeric("z", z), 0.0)


def sigmoid(z) -> np.ndarray:
    r"""Logistic function :math:`\sigma(z) = 1 / (1 + e^{-z})`, computed without overflow.

    For :math:`z < 0` it uses the equivalent form :math:`e^{z} / (1 + e^{z})` so that
    ``exp`` never sees a large positive argument.

    Examples
    --------
    >>> sigmoid([0.0]).tolist()
    [0.5]
    """
    z = _as_numeric("z", z)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def softmax(z, axis: int = -1) -> np.ndarray:
    r"""Softmax :math:`e^{z_k} / \sum_j e^{z_j}` along ``axis``, shifted by the max for stability.

    Examples
    --------
    >>> softmax([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    z = _as_numeric("z", z)
    if z.size == 0:
        raise DataValidationError("z: empty input")
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def mse(y, y_hat) -> float:
    r"""Mean squared error :math:`\frac{1}{n}\sum_i (y_i - \hat y_i)^2`.

    The negative log-likelihood of a Gaussian with fixed variance, up to constants.

    Examples
    --------
    >>> mse([1.0, 2.0], [1.0, 4.0])
    2.0
    """
    y = _as_float("y", y)
    y_hat = _as_float("y_hat", y_hat)
    _same_shape("y", y, "y_hat", y_hat)
    return float(np.mean((y - y_hat) ** 2))


def cross_entropy(labels, logits) -> float:
    r"""Multi-class cross-entropy :math:`-\frac{1}{n}\sum_i \log \mathrm{softmax}(z_i)_{y_i}`.

    Parameters
    ----------
    labels : int array of shape (n,)
        Class indices in ``[0, C)``.
    logits : array of shape (n, C)

    Notes
    -----
    Computed as ``logsumexp(z) - z[y]`` so that no probability is ever rounded to 0.

    Examples
    --------
    >>> round(cross_entropy([0, 1], [[2.0, 0.0], [0.0, 2.0]]), 4)
    0.1269
    """
    z = _as_float("logits", logits)
    if z.ndim != 2:
        raise DataValidationError(f"logits: expected shape (n, C), got {z.shape}; one row of class scores per example")
    y = _class_labels("labels", labels, z.shape[1])
    if y.shape != (z.shape[0],):
        raise DataValidationError(f"expected labels (n,) and logits (n, C); got {y.shape}, {z.shape}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise DataValidationError(f"labels must lie in [0, {z.shape[1]}), found {y.min()}..{y.max()}")
    m = z.max(axis=1, keepdims=True)
    logsumexp = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(logsumexp - z[np.arange(len(y)), y]))


def binary_cross_entropy(y, p, eps: float = 1e-12) -> float:
    r"""Binary cross-entropy on probabilities.

    .. math:: L = -\frac{1}{n}\sum_{i=1}^{n} \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right]

    the negative mean log-likelihood of Bernoulli labels. The minus sign covers both
    terms: the source article prints it on the first term only (see
    :func:`article_bce`).

    Parameters
    ----------
    y : array of 0/1 labels
    p : array of probabilities in [0, 1], same shape
    eps : float
        Probabilities are clipped to ``[eps, 1 - eps]`` so ``log`` stays finite.

    Examples
    --------
    >>> round(binary_cross_entropy([1, 0], [0.9, 0.1]), 4)
    0.1054
    """
    y = _labels01("y", y)
    p = _as_float("p", p)
    _same_shape("y", y, "p", p)
    _check_probabilities("p", p)
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def binary_cross_entropy_with_logits(y, z) -> float:
    r"""Binary cross-entropy computed from logits, stably.

    Substituting :math:`p = \sigma(z)` into :func:`binary_cross_entropy` gives
    :math:`\ell(z, y) = \log(1 + e^{z}) - y z`, rewritten as

    .. math:: \ell(z, y) = \max(z, 0) - y z + \log\left(1 + e^{-|z|}\right)

    which never exponentiates a large positive number. This is what
    ``torch.nn.BCEWithLogitsLoss`` computes.

    Examples
    --------
    >>> round(binary_cross_entropy_with_logits([1, 0], [0.0, 0.0]), 4)   # log(2)
    0.6931
    """
    y = _labels01("y", y)
    z = _as_float("z", z)
    _same_shape("y", y, "z", z)
    return float(np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))))


def bce_grad_logit(y, z) -> np.ndarray:
    r"""Gradient of the mean BCE with respect to each logit: :math:`(\sigma(z_i) - y_i) / n`.

    Derivation (Chapter 4): with :math:`\ell = \log(1 + e^{z}) - y z`,
    :math:`\partial \ell / \partial z = \sigma(z) - y`; the mean over the batch
    divides by :math:`n`.

    Examples
    --------
    >>> bce_grad_logit([1, 0], [0.0, 0.0]).tolist()
    [-0.25, 0.25]
    """
    y = _labels01("y", y)
    z = _as_float("z", z)
    _same_shape("y", y, "z", z)
    return (sigmoid(z) - y) / y.size


def article_bce(y, p, eps: float = 1e-12) -> float:
    r"""The binary cross-entropy *as printed in the source article* (sign error kept).

    Section 4.2 of the article prints, for one example,
    ``L = -y \log(\hat{p}) + (1 - y) \log(1 - \hat{p})``: the minus sign stands on the
    first term only, so the second term has the wrong sign. Averaged over a batch
    (the article prints no sum; the mean is this function's choice, as for
    :func:`binary_cross_entropy`):

    .. math:: L_{\text{article}} = \frac{1}{n}\sum_{i=1}^{n} \left[ -y_i \log p_i + (1 - y_i) \log(1 - p_i) \right]

    For a positive example it is the binary cross-entropy; for a negative one it is
    *minus* the binary cross-entropy, which is lowest when :math:`p_i \to 1`. The
    formula therefore rewards predicting "liked" for the negatives, and it is
    unbounded below (:math:`\log(1 - p_i) \to -\infty`). Kept only for the errata
    demonstration; its gradient is :func:`article_bce_grad_logit`.

    Examples
    --------
    >>> round(article_bce([1], [0.9]), 4)   # a positive: the BCE term, -log 0.9
    0.1054
    >>> round(article_bce([0], [0.1]), 4)   # a negative: the sign is wrong, log 0.9
    -0.1054
    >>> article_bce([0], [0.999]) < article_bce([0], [0.1])   # "liked" scores better
    True
    """
    y = _labels01("y", y)
    p = _as_float("p", p)
    _same_shape("y", y, "p", p)
    _check_probabilities("p", p)
    p = np.clip(p, eps, 1 - eps)
    return float(np.mean(-y * np.log(p) + (1 - y) * np.log(1 - p)))


def article_bce_grad_logit(y, z) -> np.ndarray:
    r"""Gradient of the mean :func:`article_bce` with respect to each logit.

    With :math:`p = \sigma(z)` and :math:`\partial \log \sigma(z) / \partial z = 1 - p`,
    :math:`\partial \log(1 - \sigma(z)) / \partial z = -p`:

    .. math:: \frac{\partial L_{\text{article}}}{\partial z_i}
              = \frac{-y_i (1 - p_i) - (1 - y_i)\, p_i}{n}
              = \begin{cases} (p_i - 1)/n & y_i = 1 \\ -p_i / n & y_i = 0 \end{cases}

    It is never positive, so every gradient-descent step raises every logit. For a
    positive it equals :func:`bce_grad_logit`; for a negative it is its opposite.

    Examples
    --------
    >>> article_bce_grad_logit([1, 0], [0.0, 0.0]).tolist()
    [-0.25, -0.25]
    """
    y = _labels01("y", y)
    z = _as_float("z", z)
    _same_shape("y", y, "z", z)
    p = sigmoid(z)
    return (-y * (1 - p) - (1 - y) * p) / y.size
