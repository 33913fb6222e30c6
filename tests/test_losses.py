"""The mathematics chapter's functions against PyTorch and autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recfeat_ref import losses
from recfeat_ref._validation import DataValidationError


@pytest.fixture(params=range(20))
def batch(request):
    rng = np.random.default_rng(request.param)
    n = int(rng.integers(1, 50))
    z = rng.normal(scale=rng.choice([0.1, 3.0, 40.0]), size=n)  # includes saturating logits
    y = rng.integers(0, 2, size=n).astype(float)
    return y, z


def test_linear_forward_matches_torch():
    rng = np.random.default_rng(0)
    X, W, b = rng.normal(size=(7, 5)), rng.normal(size=(3, 5)), rng.normal(size=3)
    expected = F.linear(torch.tensor(X), torch.tensor(W), torch.tensor(b)).numpy()
    np.testing.assert_allclose(losses.linear_forward(X, W, b), expected, rtol=1e-12)


def test_linear_forward_shape_errors_name_the_shapes():
    with pytest.raises(DataValidationError, match=r"\(7, 5\)"):
        losses.linear_forward(np.ones((7, 5)), np.ones((3, 4)), np.ones(3))


def test_sigmoid_is_stable_and_matches_torch():
    z = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
    with np.errstate(over="raise"):
        out = losses.sigmoid(z)
    np.testing.assert_allclose(out, torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-12, atol=0)


def test_mse_and_cross_entropy_match_torch():
    rng = np.random.default_rng(1)
    y, yh = rng.normal(size=10), rng.normal(size=10)
    assert losses.mse(y, yh) == pytest.approx(F.mse_loss(torch.tensor(yh), torch.tensor(y)).item())
    z, lab = rng.normal(size=(6, 4)) * 10, rng.integers(0, 4, size=6)
    assert losses.cross_entropy(lab, z) == pytest.approx(F.cross_entropy(torch.tensor(z), torch.tensor(lab)).item())
    np.testing.assert_allclose(losses.softmax(z).sum(axis=1), 1.0)


def test_bce_with_logits_matches_torch(batch):
    y, z = batch
    expected = F.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(y)).item()
    assert losses.binary_cross_entropy_with_logits(y, z) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_bce_on_probabilities_matches_torch():
    rng = np.random.default_rng(2)
    p, y = rng.uniform(0.01, 0.99, size=30), rng.integers(0, 2, size=30).astype(float)
    expected = F.binary_cross_entropy(torch.tensor(p), torch.tensor(y)).item()
    assert losses.binary_cross_entropy(y, p) == pytest.approx(expected, rel=1e-10)


def test_bce_gradient_is_p_minus_y_over_n(batch):
    y, z = batch
    zt = torch.tensor(z, requires_grad=True)
    F.binary_cross_entropy_with_logits(zt, torch.tensor(y)).backward()
    np.testing.assert_allclose(losses.bce_grad_logit(y, z), zt.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_article_bce_is_the_printed_formula():
    # Section 4.2 prints L = -y log(p) + (1 - y) log(1 - p): the minus on the first term only.
    y, p = np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.9, 0.2, 0.6, 0.7])
    printed = np.mean(-y * np.log(p) + (1 - y) * np.log(1 - p))
    assert losses.article_bce(y, p) == pytest.approx(printed, rel=1e-12)
    # Positives: the correct BCE term. Negatives: its opposite.
    assert losses.article_bce([1.0], [0.6]) == pytest.approx(losses.binary_cross_entropy([1.0], [0.6]))
    assert losses.article_bce([0.0], [0.2]) == pytest.approx(-losses.binary_cross_entropy([0.0], [0.2]))
    assert losses.article_bce(y, p) != pytest.approx(-losses.binary_cross_entropy(y, p))


def test_article_bce_rewards_liked_for_negatives_and_has_no_bottom():
    values = [losses.article_bce([0.0], [q]) for q in (0.1, 0.5, 0.9, 0.999, 1 - 1e-9)]
    assert all(a > b for a, b in zip(values, values[1:]))  # lower as p -> 1
    assert values[-1] < -20  # unbounded below: log(1 - p) -> -inf


def test_article_bce_gradient_matches_autograd_and_is_never_positive(batch):
    y, z = batch
    zt = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y)
    (-yt * F.logsigmoid(zt) + (1 - yt) * F.logsigmoid(-zt)).mean().backward()
    grad = losses.article_bce_grad_logit(y, z)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-9, atol=1e-15)
    assert np.all(grad <= 0)
    bce = losses.bce_grad_logit(y, z)
    np.testing.assert_allclose(grad[y == 1], bce[y == 1])
    np.testing.assert_allclose(grad[y == 0], -bce[y == 0])


@pytest.mark.parametrize(
    "args, match",
    [
        (([0, 1, 2], [0.1, 0.2, 0.3]), "labels must be 0 or 1"),
        (([0, 1], [0.1, np.nan]), "NaN"),
        (([0, 1], [0.1, 0.2, 0.3]), "shape"),
        (([], []), "empty"),
    ],
)
def test_bad_input_is_named(args, match):
    with pytest.raises(DataValidationError, match=match):
        losses.binary_cross_entropy(*args)


def test_bce_rejects_probabilities_outside_unit_interval():
    with pytest.raises(DataValidationError, match=r"\[0, 1\]"):
        losses.binary_cross_entropy([0, 1], [0.5, 1.5])
