"""Compression: int8 rule against PyTorch's kernels, pruning by brute force, distillation formula, hashing."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recfeat_ref.compression import (
    count_parameters,
    distillation_loss,
    hash_codes,
    magnitude_prune,
    model_bytes,
    quantize_dynamic_int8,
    quantize_per_channel,
    sparsity,
)
from recfeat_ref.neural import DeepFM, DeepFMConfig


def _model(seed=0):
    torch.manual_seed(seed)
    return DeepFM(DeepFMConfig(field_dims=(50, 80, 6), multi_dims=(5,), embed_dim=8, init_std=0.3)).eval()


def _inputs(n=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x_cat = torch.stack([torch.randint(0, d, (n,), generator=gen) for d in (50, 80, 6)], 1)
    return x_cat, (torch.rand(n, 5, generator=gen) < 0.4).float()


def test_per_channel_rule_error_bound_and_agreement_with_pytorch():
    model = _model()
    w = model.mlp[0].weight.detach()
    q, scale = quantize_per_channel(w)
    assert q.dtype == torch.int8 and q.abs().max() <= 127
    assert ((q.float() * scale[:, None] - w).abs() <= scale[:, None] / 2 + 1e-7).all()
    theirs = quantize_dynamic_int8(model).mlp[0].weight().dequantize()
    assert ((q.float() * scale[:, None] - theirs.float()).abs() <= 1.01 * scale[:, None]).all()
    with pytest.raises(ValueError, match="2-D"):
        quantize_per_channel(torch.ones(3))


def test_quantised_model_predicts_close_to_the_float_model_and_keeps_its_size_in_weights():
    model = _model()
    quantised = quantize_dynamic_int8(model)
    x = _inputs()
    with torch.no_grad():
        a, b = model(*x), quantised(*x)
    assert (a - b).abs().max() < 0.05 * a.abs().max()
    assert count_parameters(quantised) == count_parameters(model)
    assert model_bytes(quantised) < model_bytes(model)
    assert next(model.parameters()).dtype == torch.float32, "the original is not modified"


def test_magnitude_pruning_removes_exactly_the_smallest_weights():
    model = _model()
    pruned = magnitude_prune(model, 0.7)
    assert abs(sparsity(pruned) - 0.7) < 0.01 and sparsity(model) < 0.02  # the OOV rows are zero
    def weights(m):  # every linear weight and embedding table
        return torch.cat([x.weight.detach().flatten() for x in m.modules()
                          if isinstance(x, torch.nn.Linear | torch.nn.Embedding)])

    before, after = weights(model), weights(pruned)
    zeroed = (after == 0) & (before != 0)
    kept = after != 0
    assert before[zeroed].abs().max() <= before[kept].abs().min()
    assert model_bytes(pruned, sparse=True) < model_bytes(pruned)
    with pytest.raises(ValueError, match="amount"):
        magnitude_prune(model, 1.0)


def test_distillation_loss_formula():
    gen = torch.Generator().manual_seed(0)
    zs, zt = torch.randn(10, generator=gen), torch.randn(10, generator=gen)
    y = (torch.rand(10, generator=gen) < 0.5).float()
    torch.testing.assert_close(distillation_loss(zs, zt, y, alpha=0.0), F.binary_cross_entropy_with_logits(zs, y))
    soft = torch.sigmoid(zt / 3)
    expected = -(soft * F.logsigmoid(zs / 3) + (1 - soft) * F.logsigmoid(-zs / 3)).mean() * 9
    torch.testing.assert_close(distillation_loss(zs, zt, y, alpha=1.0, temperature=3.0), expected)
    # the teacher is a target: no gradient flows into it
    zt.requires_grad_(True)
    distillation_loss(zs.requires_grad_(True), zt, y).backward()
    assert zt.grad is None and zs.grad is not None


def test_hash_codes_are_stable_in_range_and_spread():
    codes = torch.arange(0, 5001)
    hashed = hash_codes(codes, n_buckets=500, seed=3)
    assert torch.equal(hashed, hash_codes(codes, n_buckets=500, seed=3))
    assert hashed[0] == 0 and hashed[1:].min() >= 1 and hashed[1:].max() <= 500
    counts = np.bincount(hashed[1:].numpy(), minlength=501)[1:]
    assert counts.min() > 0 and counts.max() < 30  # 10 per bucket on average
    assert not torch.equal(hashed, hash_codes(codes, n_buckets=500, seed=4))


def test_build_and_compare_variants_on_a_tiny_problem():
    from types import SimpleNamespace

    from recfeat_ref.compression import build_variants, compare_variants
    from recfeat_ref.ctr import CTRBatch, fit_ctr

    def batch(n, seed):
        x_cat, x_multi = _inputs(n, seed)
        y = ((x_cat[:, 0] % 2) == 0).float()  # a learnable rule on the first field
        return CTRBatch(x_cat=x_cat, x_multi=x_multi, y=y, index=np.arange(n))

    data = SimpleNamespace(featurizer=SimpleNamespace(field_dims_=(50, 80, 6), multi_dims_=(5,)),
                           train=batch(600, 0), valid=batch(200, 1), test=batch(200, 2))
    teacher = DeepFM(DeepFMConfig(field_dims=(50, 80, 6), multi_dims=(5,), embed_dim=8))
    fit_ctr(teacher, data.train, data.valid, num_epochs=5, patience=2)
    variants = build_variants(teacher, data, num_epochs=3, prune_amounts=(0.5,))
    table = compare_variants(variants, data.test, measure_latency=True)
    assert list(table.index)[:2] == ["DeepFM, float32", "DeepFM, int8 linear layers"]
    assert len(table) == 6 and table["auc"].between(0, 1).all() and (table["ms_per_1000"] > 0).all()
    assert table.loc["DeepFM, float32", "auc"] > 0.8, "the teacher learned the rule"
    assert table.loc["student, distilled", "parameters"] < table.loc["DeepFM, float32", "parameters"]
