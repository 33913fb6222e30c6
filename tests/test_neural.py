"""CTR models: shapes, formulas against brute force, overfitting an interaction, seeds, unseen values."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from recfeat_ref._validation import DataValidationError
from recfeat_ref.datasets import DataSourceError, load_movielens_100k
from recfeat_ref.metrics import roc_auc
from recfeat_ref.neural import (
    FM,
    AttentionFusion,
    CrossLayer,
    DCNv2,
    DCNv2Config,
    DeepFM,
    DeepFMConfig,
    FMConfig,
    LogisticRegression,
    LRConfig,
    NeuMF,
    NeuMFConfig,
    SENetGate,
    fm_interaction,
)
from recfeat_ref.training import TrainConfig, Trainer, seed_everything

FIELD_DIMS = (5, 7, 3)
MULTI_DIMS = (4,)


def _inputs(n=16, seed=0, field_dims=FIELD_DIMS, multi_dims=MULTI_DIMS):
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.stack([torch.randint(0, d, (n,), generator=g) for d in field_dims], dim=1)  # (n, F), zeros too
    x_multi = (torch.rand(n, sum(multi_dims), generator=g) < 0.4).float()  # (n, G), some empty bags
    return x_cat, x_multi


CTR_MODELS = {
    "LR": lambda fd=FIELD_DIMS, md=MULTI_DIMS, **kw: LogisticRegression(LRConfig(fd, md)),
    "FM": lambda fd=FIELD_DIMS, md=MULTI_DIMS, **kw: FM(FMConfig(fd, md, embed_dim=8, **kw)),
    "DeepFM": lambda fd=FIELD_DIMS, md=MULTI_DIMS, **kw: DeepFM(
        DeepFMConfig(fd, md, embed_dim=8, hidden_dims=(16, 8), **kw)
    ),
    "DCNv2": lambda fd=FIELD_DIMS, md=MULTI_DIMS, **kw: DCNv2(
        DCNv2Config(fd, md, embed_dim=8, hidden_dims=(16,), **kw)
    ),
    "DCNv2-stacked": lambda fd=FIELD_DIMS, md=MULTI_DIMS, **kw: DCNv2(
        DCNv2Config(fd, md, embed_dim=8, hidden_dims=(16,), structure="stacked", **kw)
    ),
}


def _build(name, seed=0, **kw):
    seed_everything(seed)
    return CTR_MODELS[name](**kw)


# ---------------------------------------------------------------------------
# Shapes, configs, input checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CTR_MODELS))
def test_output_is_one_logit_per_row(name):
    model = _build(name)
    x_cat, x_multi = _inputs(n=5)
    out = model(x_cat, x_multi)
    assert out.shape == (5,) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert "field_dims=(5, 7, 3)" in repr(model)
    no_bags = _build(name, md=())
    assert no_bags(x_cat).shape == (5,)  # x_multi may be left out when there are no bags
    with pytest.raises(ValueError, match=r"x_cat must have shape \(B, 3\)"):
        model(x_cat[:, :2], x_multi)
    with pytest.raises(ValueError, match=r"x_multi must have shape \(B, 4\)"):
        model(x_cat, x_multi[:, :3])
    with pytest.raises(ValueError, match=r"field 1 holds codes outside 0..6"):
        model(x_cat + torch.tensor([0, 7, 0]), x_multi)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="field_dims"):
        LRConfig(field_dims=(5, 1))
    with pytest.raises(ValueError, match="multi_dims"):
        LRConfig(field_dims=(5,), multi_dims=(0,))
    with pytest.raises(ValueError, match="embed_dim"):
        FMConfig(field_dims=(5,), embed_dim=0)
    with pytest.raises(ValueError, match="init_std"):
        FMConfig(field_dims=(5,), init_std=0.0)
    with pytest.raises(ValueError, match="dropout"):
        DeepFMConfig(field_dims=(5,), dropout=1.0)
    with pytest.raises(ValueError, match="hidden_dims"):
        DeepFMConfig(field_dims=(5,), hidden_dims=())
    with pytest.raises(ValueError, match="structure"):
        DCNv2Config(field_dims=(5,), structure="side-by-side")
    with pytest.raises(ValueError, match="n_cross"):
        DCNv2Config(field_dims=(5,), n_cross=0)
    with pytest.raises(ValueError, match="n_items"):
        NeuMFConfig(n_users=3, n_items=1)
    assert DCNv2Config(field_dims=[5, 6], hidden_dims=[4]).hidden_dims == (4,)  # lists are normalised


# ---------------------------------------------------------------------------
# Formulas against brute force
# ---------------------------------------------------------------------------


def test_fm_sum_square_trick_equals_the_pairwise_sum():
    e = torch.randn(6, 5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)  # (B, M, D)
    brute = sum((e[:, i] * e[:, j]).sum(-1) for i, j in itertools.combinations(range(5), 2))
    torch.testing.assert_close(fm_interaction(e), brute)


def test_fm_equals_rendles_formula_on_explicit_one_hot_features():
    """Without bags, our field-wise FM is Rendle's FM over the concatenated one-hot vector x."""
    model = _build("FM", md=())
    with torch.no_grad():  # non-zero first-order weights, so every term is checked
        for w in model.linear.weights:
            w.weight[1:].normal_()
        model.linear.bias.fill_(0.3)
    x_cat, _ = _inputs(n=8, multi_dims=())
    offsets = np.cumsum((0,) + FIELD_DIMS[:-1])
    n_features = sum(FIELD_DIMS)
    w = torch.cat([t.weight.squeeze(-1) for t in model.linear.weights])  # (n,)
    V = torch.cat([t.weight for t in model.embedding.tables])  # (n, D)
    expected = []
    for row in x_cat:
        x = torch.zeros(n_features)
        x[row + torch.as_tensor(offsets)] = 1.0  # one-hot per field; the OOV slot has zero weights
        y = model.linear.bias + w @ x
        for i, j in itertools.combinations(range(n_features), 2):
            y = y + (V[i] @ V[j]) * x[i] * x[j]
        expected.append(y)
    torch.testing.assert_close(model(x_cat), torch.stack(expected).detach())


def test_a_bag_is_the_mean_of_its_values_and_an_empty_bag_is_zero():
    model = _build("FM")
    x_cat, _ = _inputs(n=3)
    x_multi = torch.tensor([[1.0, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0]])
    e = model.embedding(x_cat, x_multi)  # (B, M, D)
    table = model.embedding.bag_table
    torch.testing.assert_close(e[0, 3], table[[0, 2, 3]].mean(0))
    torch.testing.assert_close(e[1, 3], table[1])
    assert torch.count_nonzero(e[2, 3]) == 0


def test_cross_layer_equals_the_explicit_formula():
    """x_{l+1}[k] = x0[k] * (sum_j W[k, j] x_l[j] + b[k]) + x_l[k], element by element."""
    torch.manual_seed(0)
    layer = CrossLayer(4)
    x0, xl = torch.randn(3, 4), torch.randn(3, 4)
    W, b = layer.linear.weight, layer.linear.bias
    expected = torch.empty(3, 4)
    for n in range(3):
        for k in range(4):
            expected[n, k] = x0[n, k] * (sum(W[k, j] * xl[n, j] for j in range(4)) + b[k]) + xl[n, k]
    torch.testing.assert_close(layer(x0, xl), expected)


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
def test_dcnv2_composes_cross_and_deep_as_documented(structure):
    seed_everything(0)
    config = DCNv2Config(FIELD_DIMS, MULTI_DIMS, embed_dim=4, n_cross=2, hidden_dims=(8,), structure=structure)
    model = DCNv2(config)
    model.eval()
    x_cat, x_multi = _inputs(n=6)
    x0 = model.embedding(x_cat, x_multi).flatten(1)  # (B, K)
    x1 = model.cross[0](x0, x0)
    x2 = model.cross[1](x0, x1)
    relu_layer = lambda x: torch.relu(model.mlp[0](x))
    h = relu_layer(x2) if structure == "stacked" else torch.cat([x2, relu_layer(x0)], dim=1)
    torch.testing.assert_close(model(x_cat, x_multi), model.out(h).squeeze(-1))


def test_deepfm_is_fm_plus_mlp_on_the_same_embeddings():
    model = _build("DeepFM")
    model.eval()
    x_cat, x_multi = _inputs(n=6)
    e = model.embedding(x_cat, x_multi)
    fm_part = model.linear(x_cat, x_multi) + fm_interaction(e)
    dnn_part = model.out(model.mlp(e.flatten(1))).squeeze(-1)
    torch.testing.assert_close(model(x_cat, x_multi), fm_part + dnn_part)


def test_neumf_shapes_and_the_gmf_path_is_an_elementwise_product():
    seed_everything(0)
    model = NeuMF(NeuMFConfig(n_users=6, n_items=9, gmf_dim=4, mlp_embed_dim=8, hidden_dims=(8, 4)))
    users, items = torch.tensor([1, 5, 0, 2]), torch.tensor([3, 8, 2, 0])
    assert model(users, items).shape == (4,)
    assert model.gmf(users, items).shape == (4, 4) and model.mlp_branch(users, items).shape == (4, 4)
    p, q = model.gmf_user.weight[users], model.gmf_item.weight[items]
    torch.testing.assert_close(model.gmf(users, items), p * q)
    phi = torch.cat([p * q, model.mlp_branch(users, items)], dim=1)
    torch.testing.assert_close(model(users, items), phi @ model.out.weight[0] + model.out.bias)
    # h = (1, ..., 1, 0, ..., 0), b = 0: NeuMF reduces to matrix factorisation p_u . q_i.
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.weight[0, :4] = 1.0
        model.out.bias.zero_()
    torch.testing.assert_close(model(users, items), (p * q).sum(1))
    assert torch.count_nonzero(model.gmf(users, items)[2:]) == 0  # unseen user / item -> zero
    with pytest.raises(ValueError, match=r"items must hold codes in 0..8"):
        model(users, items + 9)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        model(users, items[:3])
    assert "gmf_dim=4" in repr(model)


# ---------------------------------------------------------------------------
# Learning: an interaction a linear model cannot fit
# ---------------------------------------------------------------------------


def _parity_data(n=504, seed=0):
    """y = 1 when a + b is even: an XOR of two fields; field c and the bag are noise.

    Every (a, b) cell of the 6 x 6 grid occurs equally often, so each value of a (or b)
    alone is positive half of the time and a linear model has nothing to learn from it.
    """
    g = torch.Generator().manual_seed(seed)
    cells = torch.arange(n) % 36
    a, b = cells // 6 + 1, cells % 6 + 1  # (n,), (n,) in 1..6
    c = torch.randint(1, 3, (n,), generator=g)
    x_multi = (torch.rand(n, 4, generator=g) < 0.3).float()
    y = ((a + b) % 2 == 0).float()
    return torch.stack([a, b, c], dim=1), x_multi, y


def _fit(model, inputs, y, num_epochs=60, lr=0.03, seed=0):
    cfg = TrainConfig(
        num_epochs=num_epochs, batch_size=128, lr=lr, patience=None, progress=False, device="cpu", seed=seed
    )
    trainer = Trainer(model, nn.BCEWithLogitsLoss(), cfg, output_transform=torch.sigmoid)
    trainer.fit((inputs, y))
    return trainer


def test_interaction_models_fit_parity_and_logistic_regression_cannot():
    x_cat, x_multi, y = _parity_data()
    fd = (7, 7, 3)
    auc = {}
    for name in ("LR", "FM", "DeepFM", "DCNv2"):
        trainer = _fit(_build(name, fd=fd), (x_cat, x_multi), y)
        auc[name] = roc_auc(y.numpy(), trainer.predict((x_cat, x_multi)).numpy())
    seed_everything(0)
    neumf = NeuMF(NeuMFConfig(n_users=7, n_items=7, gmf_dim=4, mlp_embed_dim=4, hidden_dims=(8, 4)))
    trainer = _fit(neumf, (x_cat[:, 0], x_cat[:, 1]), y)
    auc["NeuMF"] = roc_auc(y.numpy(), trainer.predict((x_cat[:, 0], x_cat[:, 1])).numpy())
    for name in ("FM", "DeepFM", "DCNv2", "NeuMF"):
        assert auc[name] > 0.95, auc
    assert auc["LR"] < 0.6, auc  # chance is 0.5; the noise fields buy it a little


@pytest.mark.parametrize("name", list(CTR_MODELS))
def test_training_is_deterministic_under_a_seed(name):
    x_cat, x_multi, y = _parity_data(n=256)
    outs = []
    for _ in range(2):
        model = _build(name, seed=5, fd=(7, 7, 3))
        _fit(model, (x_cat, x_multi), y, num_epochs=3, seed=5)
        model.eval()
        outs.append((model(x_cat, x_multi), model.state_dict()))
    assert torch.equal(outs[0][0], outs[1][0])
    for k in outs[0][1]:
        assert torch.equal(outs[0][1][k], outs[1][1][k]), k
    other = _build(name, seed=6, fd=(7, 7, 3))
    if name != "LR":  # LR starts at zero whatever the seed
        assert not all(torch.equal(v, other.state_dict()[k]) for k, v in outs[0][1].items())


def test_neumf_training_is_deterministic_under_a_seed():
    x_cat, _, y = _parity_data(n=256)
    users, items = x_cat[:, 0], x_cat[:, 1]
    outs = []
    for _ in range(2):
        seed_everything(5)
        config = NeuMFConfig(n_users=7, n_items=7, gmf_dim=4, mlp_embed_dim=4, hidden_dims=(8, 4), dropout=0.1)
        model = NeuMF(config)
        _fit(model, (users, items), y, num_epochs=3, seed=5)
        model.eval()
        outs.append(model(users, items))
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("name", list(CTR_MODELS))
def test_unseen_values_contribute_nothing_even_after_training(name):
    x_cat, x_multi, y = _parity_data(n=256)
    x_cat = x_cat.clone()
    x_cat[::4, 0] = 0  # a quarter of the rows have an unseen value in field 0 during training
    model = _build(name, fd=(7, 7, 3))
    _fit(model, (x_cat, x_multi), y, num_epochs=3)
    for w in model.linear.weights if hasattr(model, "linear") else []:
        assert w.weight[0].item() == 0.0
    if hasattr(model, "embedding"):
        for t in model.embedding.tables:
            assert torch.count_nonzero(t.weight[0]) == 0
        e = model.embedding(x_cat, x_multi)
        assert torch.count_nonzero(e[x_cat[:, 0] == 0, 0]) == 0
    if name in ("LR", "FM"):  # additive models: an unseen field is the same as dropping it
        model.eval()
        rows = x_cat[:, 0] == 0
        full = model(x_cat[rows], x_multi[rows])
        e = model.embedding(x_cat[rows], x_multi[rows])[:, 1:] if name == "FM" else None
        lin = model.linear.bias + sum(model.linear.weights[f](x_cat[rows, f]).squeeze(-1) for f in (1, 2))
        bag_w = model.linear.bag_weight.squeeze(-1)
        lin = lin + (x_multi[rows] @ bag_w) / x_multi[rows].sum(1).clamp(min=1)
        expected = lin + (fm_interaction(e) if e is not None else 0)
        torch.testing.assert_close(full, expected)


def test_movielens_smoke():
    try:
        ml = load_movielens_100k(sources=("cache",), verbose=False)
    except (DataSourceError, DataValidationError, OSError) as exc:
        pytest.skip(f"MovieLens-100K not cached: {exc}")
    from recfeat_ref.ctr import build_ctr_features

    data = build_ctr_features(ml, seed=0)
    feat = data.featurizer
    seed_everything(0)
    model = FM(FMConfig(feat.field_dims_, feat.multi_dims_, embed_dim=8))
    cfg = TrainConfig(num_epochs=2, lr=0.01, progress=False, device="cpu", monitor="valid_auc", mode="max")
    trainer = Trainer(model, nn.BCEWithLogitsLoss(), cfg, metrics={"auc": roc_auc}, output_transform=torch.sigmoid)
    hist = trainer.fit(data.train.pair, data.valid.pair)
    assert hist["valid_auc"].max() > 0.75  # LR alone reaches about 0.78


def test_dense_blocks_are_projected_into_fields_and_crossed_by_fm():
    gen = torch.Generator().manual_seed(0)
    cfg = FMConfig(field_dims=(4, 3), multi_dims=(2,), dense_dims=(3, 5), embed_dim=4, init_std=0.3)
    model = FM(cfg)
    with torch.no_grad():
        model.linear.dense_weight.normal_(generator=gen)
    x_cat = torch.tensor([[1, 2], [3, 0]])
    bags = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    d1, d2 = torch.randn(2, 3, generator=gen), torch.randn(2, 5, generator=gen)
    x_multi = torch.cat([bags, d1, d2], dim=1)  # bags first, then the dense blocks in order
    e = model.embedding(x_cat, x_multi)
    assert e.shape == (2, cfg.n_vectors, 4) and cfg.n_vectors == 5
    torch.testing.assert_close(e[:, 3], d1 @ model.embedding.dense_proj[0])
    torch.testing.assert_close(e[:, 4], d2 @ model.embedding.dense_proj[1])
    lin = model.linear(x_cat, x_multi)
    without = model.linear(x_cat, torch.cat([bags, torch.zeros(2, 8)], dim=1))
    torch.testing.assert_close(lin - without, (torch.cat([d1, d2], 1) @ model.linear.dense_weight).squeeze(-1))
    torch.testing.assert_close(model(x_cat, x_multi), lin + fm_interaction(e))
    with pytest.raises(ValueError, match=r"sum\(dense_dims\)"):
        model(x_cat, bags)
    with pytest.raises(ValueError, match="dense_dims"):
        FMConfig(field_dims=(4,), dense_dims=(0,))


@pytest.mark.parametrize("name", ["DeepFM", "DCNv2"])
def test_deep_models_take_dense_blocks(name):
    cls, cfg_cls = {"DeepFM": (DeepFM, DeepFMConfig), "DCNv2": (DCNv2, DCNv2Config)}[name]
    model = cls(cfg_cls(field_dims=(4, 3), dense_dims=(6,), embed_dim=4))
    out = model(torch.tensor([[1, 2], [0, 1]]), torch.randn(2, 6))
    assert out.shape == (2,) and torch.isfinite(out).all()


def test_senet_gate_weights_fields_as_the_formula_says():
    gate = SENetGate(n_fields=4, reduction=2)
    e = torch.randn(3, 4, 5)
    gated, a = gate(e)
    expected = torch.relu(gate.excite[2](torch.relu(gate.excite[0](e.mean(-1)))))
    torch.testing.assert_close(a, expected)
    torch.testing.assert_close(gated, e * a.unsqueeze(-1))
    assert (a >= 0).all()


def test_attention_fusion_is_a_convex_combination_of_the_sources():
    fusion = AttentionFusion(dim=6)
    sources, context = torch.randn(4, 3, 6), torch.randn(4, 6)
    fused, w = fusion(sources, context)
    torch.testing.assert_close(w.sum(-1), torch.ones(4))
    torch.testing.assert_close(fused, (w.unsqueeze(-1) * sources).sum(1))
    # identical sources fuse to themselves whatever the weights
    same = sources[:, :1].expand(-1, 3, -1)
    torch.testing.assert_close(fusion(same, context)[0], sources[:, 0])


def test_deepfm_with_gate_and_attention_fusion_trains_and_validates_its_options():
    cfg = DeepFMConfig(field_dims=(4, 3), dense_dims=(5, 6), embed_dim=4, field_gate="senet", dense_fusion="attention")
    model = DeepFM(cfg)
    x_cat, x_multi = torch.tensor([[1, 2], [3, 1], [2, 2], [1, 1]]), torch.randn(4, 11)
    e, extras = model.field_vectors(x_cat, x_multi)
    assert e.shape == (4, 3, 4)  # 2 fields + 1 fused vector
    assert extras["fusion_weights"].shape == (4, 2) and extras["field_weights"].shape == (4, 3)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x_cat, x_multi), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    with pytest.raises(ValueError, match="field_gate"):
        DeepFMConfig(field_dims=(4,), field_gate="se")
    with pytest.raises(ValueError, match="at least two dense blocks"):
        DeepFMConfig(field_dims=(4,), dense_dims=(3,), dense_fusion="attention")
