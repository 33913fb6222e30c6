"""Integrated gradients against Captum and the completeness axiom; permutation importance."""

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from torch import nn

from recfeat_ref.interpret import (
    field_attributions,
    field_groups,
    integrated_gradients,
    permutation_importance,
)
from recfeat_ref.metrics import roc_auc
from recfeat_ref.neural import (
    FM,
    DCNv2,
    DCNv2Config,
    DeepFM,
    DeepFMConfig,
    FMConfig,
    LogisticRegression,
    LRConfig,
)


def _inputs(n=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x_cat = torch.stack([torch.randint(0, 5, (n,), generator=gen), torch.randint(0, 4, (n,), generator=gen)], 1)
    bags = (torch.rand(n, 3, generator=gen) < 0.5).float()
    dense = torch.randn(n, 2, generator=gen)
    return x_cat, torch.cat([bags, dense], 1)


def _randomise(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    for m in model.modules():  # keep the OOV rows at zero, as training does
        if isinstance(m, nn.Embedding):
            with torch.no_grad():
                m.weight[0].zero_()
    return model.eval()


def test_integrated_gradients_match_captum():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    f = lambda x: net(x).squeeze(-1)
    x, base = torch.randn(5, 4), torch.randn(5, 4)
    ours = integrated_gradients(f, x, base, steps=32)
    theirs = IntegratedGradients(f).attribute(x, baselines=base, n_steps=32, method="gausslegendre")
    torch.testing.assert_close(ours, theirs.float(), rtol=1e-5, atol=1e-6)


def test_integrated_gradients_of_a_linear_function_are_exact():
    w = torch.tensor([1.0, -2.0, 3.0])
    x = torch.tensor([[1.0, 1.0, 2.0]])
    attr = integrated_gradients(lambda z: z @ w, x, steps=1)
    torch.testing.assert_close(attr, x * w)


def test_field_attributions_of_logistic_regression_are_the_field_weights():
    cfg = LRConfig(field_dims=(5, 4), multi_dims=(3,), dense_dims=(2,))
    model = _randomise(LogisticRegression(cfg))
    x_cat, x_multi = _inputs()
    attr = field_attributions(model, x_cat, x_multi, steps=8)
    assert list(attr.columns[:4]) == field_groups(model) == ["field0", "field1", "bag0", "dense0"]
    w0 = model.linear.weights[0](x_cat[:, 0]).squeeze(-1)
    torch.testing.assert_close(torch.tensor(attr["field0"].to_numpy()), w0.detach(), rtol=1e-5, atol=1e-6)
    dense = x_multi[:, 3:] @ model.linear.dense_weight
    torch.testing.assert_close(torch.tensor(attr["dense0"].to_numpy()), dense.squeeze(-1).detach(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build", [
    lambda: FM(FMConfig(field_dims=(5, 4), multi_dims=(3,), dense_dims=(2,), embed_dim=4)),
    lambda: DeepFM(DeepFMConfig(field_dims=(5, 4), multi_dims=(3,), dense_dims=(2,), embed_dim=4)),
    lambda: DCNv2(DCNv2Config(field_dims=(5, 4), multi_dims=(3,), dense_dims=(2,), embed_dim=4)),
])
def test_field_attributions_are_complete(build):
    model = _randomise(build())
    x_cat, x_multi = _inputs()
    errors = {}
    for steps in (16, 256):
        attr = field_attributions(model, x_cat, x_multi, steps=steps)
        gap = attr.logit - attr.baseline_logit
        errors[steps] = np.abs(attr[field_groups(model)].sum(axis=1) - gap).max() / np.abs(gap).max()
    # FM is smooth along the path, so the quadrature is exact to rounding; DeepFM's ReLUs put
    # kinks on it, where Gauss-Legendre converges slowly: ask for 1 % and for convergence.
    assert errors[256] < 0.01
    assert errors[256] <= errors[16] + 1e-6
    # s = 0 is the "unknown everything" input: OOV codes and empty bags and dense blocks
    with torch.no_grad():
        oov = model(torch.zeros_like(x_cat), torch.zeros_like(x_multi))
    np.testing.assert_allclose(attr.baseline_logit, oov.numpy(), rtol=1e-5, atol=1e-6)


def test_permutation_importance_finds_the_only_field_that_matters():
    x_cat, x_multi = _inputs(n=400, seed=1)
    y = (x_cat[:, 0] >= 3).numpy().astype(float)
    predict = lambda xc, xm: (xc[:, 0] >= 3).numpy() * 0.8 + 0.1
    groups = {"field0": ("cat", slice(0, 1)), "field1": ("cat", slice(1, 2)), "bags": ("multi", slice(0, 3))}
    report = permutation_importance(predict, x_cat, x_multi, y, groups, roc_auc, n_repeats=3, seed=0)
    assert report.index[0] == "field0" and report.loc["field0", "importance_mean"] > 0.3
    assert report.loc["field1", "importance_mean"] == 0 and report.loc["bags", "importance_mean"] == 0
    with pytest.raises(ValueError, match="'cat' or 'multi'"):
        permutation_importance(predict, x_cat, x_multi, y, {"x": ("dense", slice(0, 1))}, roc_auc)
