"""Shapes, the one-hot equivalence, overfitting, determinism and unseen ids."""

import pytest
import torch
from torch import nn

from recfeat_ref.models import BiasedMF, MFConfig, MLPConfig, OneHotMLP
from recfeat_ref.training import TrainConfig, Trainer, seed_everything


def _mlp(field_dims=(6, 9), hidden=100):
    seed_everything(0)
    return OneHotMLP(MLPConfig(field_dims=field_dims, hidden_dim=hidden))


def test_mlp_shapes_and_repr():
    model = _mlp()
    x = torch.tensor([[1, 2], [5, 8], [0, 0]])
    assert model(x).shape == (3,)
    assert model.first_layer(x).shape == (3, 100)
    assert "hidden_dim=100" in repr(model)
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        model(torch.tensor([1, 2]))


def test_embedding_sum_equals_dense_linear_on_one_hot():
    """The article's nn.Linear over concatenated one-hot vectors == our embedding lookups."""
    model = _mlp(field_dims=(6, 9, 4))
    x = torch.tensor([[1, 2, 3], [5, 8, 1], [0, 3, 0]])
    offsets = torch.tensor([0, 6, 15])
    one_hot = torch.zeros(3, 19)
    one_hot.scatter_(1, x + offsets, 1.0)  # (B, sum(field_dims))
    dense = one_hot @ model.dense_first_layer_weight().T + model.bias1
    torch.testing.assert_close(model.first_layer(x), dense)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="field_dims"):
        MLPConfig(field_dims=(1, 5))
    with pytest.raises(ValueError, match="hidden_dim"):
        MLPConfig(field_dims=(3, 5), hidden_dim=0)
    with pytest.raises(ValueError, match="n_factors"):
        MFConfig(n_users=3, n_items=3, n_factors=0)


def test_mlp_overfits_a_tiny_problem():
    x = torch.tensor([[1, 1], [1, 2], [2, 1], [2, 2], [3, 3], [4, 4]])
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    model = _mlp(field_dims=(5, 5), hidden=16)
    cfg = TrainConfig(num_epochs=300, batch_size=6, lr=0.05, patience=None, progress=False, device="cpu")
    hist = Trainer(model, nn.BCEWithLogitsLoss(), cfg).fit((x, y))
    assert hist["train_loss"].iloc[-1] < 0.01
    assert torch.equal((model(x) > 0).float(), y)


def test_mf_overfits_and_full_scores_agree():
    seed_everything(0)
    users, items = torch.tensor([1, 1, 2, 2, 3]), torch.tensor([1, 2, 1, 3, 2])
    r = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0])
    model = BiasedMF(MFConfig(n_users=4, n_items=4, n_factors=4, global_mean=3.0, init_std=0.1))
    cfg = TrainConfig(num_epochs=400, batch_size=5, lr=0.05, patience=None, progress=False, device="cpu")
    Trainer(model, nn.MSELoss(), cfg).fit(((users, items), r))
    assert nn.functional.mse_loss(model(users, items), r).item() < 1e-3
    torch.testing.assert_close(model.full_scores()[users, items], model(users, items))


def test_unseen_ids_fall_back_to_biases():
    seed_everything(0)
    model = BiasedMF(MFConfig(n_users=4, n_items=4, n_factors=4, global_mean=3.0))
    users, items = torch.tensor([1, 2, 2]), torch.tensor([1, 1, 2])
    cfg = TrainConfig(num_epochs=50, batch_size=3, lr=0.05, patience=None, progress=False, device="cpu")
    Trainer(model, nn.MSELoss(), cfg).fit(((users, items), torch.tensor([5.0, 1.0, 2.0])))
    # OOV rows stay exactly zero (padding_idx), so an unseen user gets mu + b_i.
    assert torch.count_nonzero(model.user_factors.weight[0]) == 0
    assert model.user_bias.weight[0].item() == 0.0
    expected = model.global_mean + model.item_bias.weight[1, 0]
    torch.testing.assert_close(model(torch.tensor([0]), torch.tensor([1]))[0], expected)
    # And the MLP: an unseen user contributes nothing to the hidden layer.
    mlp = _mlp(field_dims=(4, 4))
    x_unseen = torch.tensor([[0, 2]])
    torch.testing.assert_close(mlp.first_layer(x_unseen)[0], mlp.bias1 + mlp.blocks[1].weight[2])


@pytest.mark.parametrize("make", [lambda: _mlp(), lambda: BiasedMF(MFConfig(n_users=6, n_items=9))])
def test_initialisation_is_deterministic(make):
    seed_everything(3)
    a = make()
    seed_everything(3)
    b = make()
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and torch.equal(pa, pb)
