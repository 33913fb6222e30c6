"""The trainer: determinism, early stopping, metrics, checkpoints, devices."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from recfeat_ref.training import (
    ImplicitRecommender,
    TrainConfig,
    Trainer,
    get_device,
    load_checkpoint,
    plot_history,
    save_checkpoint,
    seed_everything,
)


def _data(n=512, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    w = torch.arange(1.0, d + 1)
    y = ((X @ w + 0.5 * torch.randn(n, generator=g)) > 0).float()
    return X, y


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.Flatten(0))


def _fit(cfg, metrics=None, valid=True):
    X, y = _data()
    seed_everything(0)
    trainer = Trainer(_model(), nn.BCEWithLogitsLoss(), cfg, metrics=metrics, output_transform=torch.sigmoid)
    hist = trainer.fit((X[:400], y[:400]), (X[400:], y[400:]) if valid else None)
    return trainer, hist


def test_loss_decreases_and_history_columns():
    cfg = TrainConfig(num_epochs=15, batch_size=64, lr=0.01, patience=None, progress=False, device="cpu")
    acc = lambda t, p: float(np.mean((p > 0.5) == t))
    trainer, hist = _fit(cfg, metrics={"acc": acc})
    assert list(hist.columns) == ["epoch", "train_loss", "valid_loss", "valid_acc", "seconds"]
    assert hist["train_loss"].iloc[-1] < 0.6 * hist["train_loss"].iloc[0]
    assert hist["valid_acc"].max() > 0.85
    p = trainer.predict(_data()[0][400:])
    assert p.shape == (112,) and float(p.min()) >= 0 and float(p.max()) <= 1


def test_fit_is_deterministic_under_a_seed():
    cfg = TrainConfig(num_epochs=3, batch_size=50, lr=0.01, progress=False, device="cpu")
    _, h1 = _fit(cfg)
    _, h2 = _fit(cfg)
    np.testing.assert_array_equal(h1["train_loss"], h2["train_loss"])
    _, h3 = _fit(TrainConfig(num_epochs=3, batch_size=50, lr=0.01, progress=False, device="cpu", seed=1))
    assert not np.array_equal(h1["train_loss"], h3["train_loss"])


def test_early_stopping_restores_the_best_epoch():
    # A huge learning rate makes validation loss bounce, so patience triggers.
    cfg = TrainConfig(num_epochs=60, batch_size=400, lr=0.5, patience=2, progress=False, device="cpu")
    trainer, hist = _fit(cfg)
    assert len(hist) < 60
    best = int(hist["valid_loss"].idxmin()) + 1
    assert trainer.best_epoch_ == best
    X, y = _data()
    restored = nn.BCEWithLogitsLoss()(trainer.model(X[400:]), y[400:]).item()
    assert restored == pytest.approx(hist["valid_loss"].min(), rel=1e-5)


def test_monitor_max_metric_and_errors():
    auc_like = lambda t, p: float(np.mean((p > 0.5) == t))
    cfg = TrainConfig(num_epochs=4, lr=0.01, monitor="valid_acc", mode="max", progress=False, device="cpu")
    trainer, hist = _fit(cfg, metrics={"acc": auc_like})
    assert trainer.best_epoch_ == int(hist["valid_acc"].idxmax()) + 1
    with pytest.raises(ValueError, match="needs validation data"):
        _fit(TrainConfig(num_epochs=1, monitor="valid_loss", progress=False, device="cpu"), valid=False)
    with pytest.raises(ValueError, match="not a history column"):
        _fit(TrainConfig(num_epochs=1, monitor="valid_auc", progress=False, device="cpu"))
    with pytest.raises(ValueError, match="input 0 has 3 rows"):
        Trainer(_model(), nn.MSELoss(), TrainConfig(progress=False, device="cpu")).fit((torch.ones(3, 4), torch.ones(5)))


@pytest.mark.parametrize("field, value", [("num_epochs", 0), ("batch_size", -1), ("lr", 0.0), ("patience", 0), ("mode", "up")])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_checkpoint_round_trip_is_weights_only_and_atomic(tmp_path, monkeypatch):
    cfg = TrainConfig(num_epochs=2, progress=False, device="cpu", checkpoint_path=str(tmp_path / "best.pt"))
    trainer, _ = _fit(cfg)
    fresh = _model()
    extra = load_checkpoint(tmp_path / "best.pt", fresh)
    assert extra["epoch"] == trainer.best_epoch_
    for a, b in zip(fresh.state_dict().values(), trainer.model.state_dict().values()):
        assert torch.equal(a, b)
    # An interrupted save leaves the previous checkpoint intact and no temporary file.
    before = (tmp_path / "best.pt").read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "best.pt", fresh, epoch=99)
    assert (tmp_path / "best.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


def test_get_device_and_plot(monkeypatch):
    assert get_device("cpu").type == "cpu"
    monkeypatch.setenv("RECFEAT_DEVICE", "cpu")
    assert get_device().type == "cpu"
    monkeypatch.delenv("RECFEAT_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else get_device().type
    assert get_device().type == expected
    import matplotlib

    matplotlib.use("Agg")
    _, hist = _fit(TrainConfig(num_epochs=2, progress=False, device="cpu"))
    ax = plot_history(hist)
    assert [l.get_label() for l in ax.get_lines()] == ["train_loss", "valid_loss"]
    with pytest.raises(ValueError, match="no column"):
        plot_history(hist, ["valid_auc"])


def test_seed_everything_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


def test_cpu_threads_apply_during_fit_and_are_restored():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 1)

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.lin(x).squeeze(-1)

    before = torch.get_num_threads()
    X, y = _data(n=64)
    cfg = TrainConfig(num_epochs=1, progress=False, device="cpu", cpu_threads=1)
    Trainer(Probe(), nn.BCEWithLogitsLoss(), cfg).fit((X, y))
    assert set(seen) == {1}
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="cpu_threads"):
        TrainConfig(cpu_threads=0)


class _ScriptedRecommender(ImplicitRecommender):
    """Its 'model' is one weight set to the epoch number; validation NDCG follows a script."""

    def __init__(self, ndcg, **config):
        super().__init__()
        self.ndcg, self.exports, self.threads = ndcg, [], []
        self.config = SimpleNamespace(**{"num_epochs": len(ndcg), "eval_every": 1, "patience": 2, "k": 5,
                                         "device": "cpu", "progress": False, "cpu_threads": 1, **config})

    def _train(self, users, items, device):
        self.w = nn.Linear(1, 1, bias=False)

        def step(epoch):
            self.threads.append(torch.get_num_threads())
            with torch.no_grad():
                self.w.weight.fill_(epoch)
            return {"train_loss": 1.0 / epoch}

        self._run_epochs(step, self.w, lambda: self.exports.append(int(self.w.weight.item())))

    def _validation_report(self, train, valid):
        return {"ndcg_at_k": self.ndcg[int(self.w.weight.item()) - 1], "recall_at_k": 0.0}

    def _score_all(self, users):
        return np.zeros((len(users), self.n_items_))


def test_implicit_recommender_early_stops_restores_and_uses_the_validation_hook():
    frame = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]})
    before = torch.get_num_threads()
    model = _ScriptedRecommender([0.1, 0.3, 0.2, 0.25, 0.9]).fit(frame, valid=frame)
    h = model.history_
    assert list(h.columns) == ["epoch", "train_loss", "seconds", "valid_ndcg_at_5", "valid_recall_at_5"]
    assert list(h["epoch"]) == [1, 2, 3, 4], "two evaluations without improvement stop training"
    assert list(h["valid_ndcg_at_5"]) == [0.1, 0.3, 0.2, 0.25]
    assert model.best_epoch_ == 2 and model.w.weight.item() == 2, "the best epoch's state is restored"
    assert model.exports == [1, 2, 3, 4, 2], "exported before each evaluation and after the restore"
    assert set(model.threads) == {1} and torch.get_num_threads() == before
    sparse = _ScriptedRecommender([0.1, 0.3, 0.2, 0.25, 0.9], eval_every=2).fit(frame, valid=frame)
    assert sparse.history_["valid_ndcg_at_5"].isna().tolist() == [True, False, True, False, False]
    assert sparse.best_epoch_ == 5, "the last epoch is always evaluated"
    unvalidated = _ScriptedRecommender([0.1, 0.3, 0.2]).fit(frame)
    assert unvalidated.best_epoch_ == 3 and list(unvalidated.history_.columns) == ["epoch", "train_loss", "seconds"]
