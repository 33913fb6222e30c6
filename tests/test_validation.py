"""The validation layer (recfeat_ref._validation, recfeat_ref.exceptions) and issue 15's examples.

Each example of the issue (a NaN, infinite or text rating; a NaN target in the trainer;
a truncated checkpoint; float labels to cross_entropy; text to mse; a text learning
rate; a missing weight decay; a negative seed; a (16,) output against a (16, 1) target;
an error naming internal indices) must now raise the package's exception with a message
that says where and what.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from recfeat_ref import _validation, datasets, exceptions, losses, metrics, preprocessing, text
from recfeat_ref.autoencoders import IAutoRec
from recfeat_ref.baselines import BiasBaseline, GlobalMean
from recfeat_ref.exceptions import (
    CheckpointError,
    DataValidationError,
    InvalidParameterError,
    NonFiniteLossError,
    NotFittedError,
)
from recfeat_ref.knn import ItemKNN
from recfeat_ref.mf import BPRMF, MFRecommender, NegativeSampler
from recfeat_ref.sequential import GRU4Rec, LastItemNext
from recfeat_ref.training import (
    ImplicitRecommender,
    TrainConfig,
    Trainer,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)

QUIET = {"progress": False, "device": "cpu"}


def _train(rating=(5, 3, 4, 2, 2)):
    return pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [1, 2, 1, 3, 2], "rating": list(rating)})


# --- the exceptions module ---------------------------------------------------------------


def test_old_import_paths_are_the_same_classes():
    assert _validation.DataValidationError is exceptions.DataValidationError
    assert preprocessing.NotFittedError is exceptions.NotFittedError
    assert datasets.DataSourceError is exceptions.DataSourceError
    assert datasets.DataValidationError is exceptions.DataValidationError


def test_text_imports_its_exception_from_the_exceptions_module():
    assert text.EncoderUnavailableError is exceptions.EncoderUnavailableError


def test_exceptions_keep_their_built_in_bases():
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    assert issubclass(DataValidationError, ValueError)
    assert issubclass(NotFittedError, DataValidationError) and issubclass(NotFittedError, SklearnNotFittedError)
    assert issubclass(exceptions.DataSourceError, RuntimeError)
    assert issubclass(exceptions.EncoderUnavailableError, RuntimeError)
    assert issubclass(InvalidParameterError, ValueError) and issubclass(InvalidParameterError, TypeError)
    assert issubclass(CheckpointError, DataValidationError) and issubclass(CheckpointError, RuntimeError)
    assert issubclass(NonFiniteLossError, FloatingPointError)
    assert exceptions.DataSourceError("x", reasons={"cache": "none"}).reasons == {"cache": "none"}


def test_recommenders_raise_not_fitted_error():
    with pytest.raises(NotFittedError, match="GlobalMean is not fitted yet"):
        GlobalMean().predict(_train())
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GRU4Rec(**QUIET).item_embeddings_


# --- class 1: targets checked before training ---------------------------------------------


@pytest.mark.parametrize("model", [BiasBaseline, ItemKNN, GlobalMean,
                                   lambda: MFRecommender(n_factors=2, num_epochs=1, **QUIET),
                                   lambda: IAutoRec(hidden_dim=2, num_epochs=1, **QUIET)],
                         ids=["BiasBaseline", "ItemKNN", "GlobalMean", "MFRecommender", "IAutoRec"])
def test_a_nan_rating_is_refused_naming_column_and_row(model):
    # Before: BiasBaseline and ItemKNN predicted NaN; MFRecommender and IAutoRec raised
    # AttributeError: 'Trainer' object has no attribute 'best_epoch_'.
    with pytest.raises(DataValidationError, match=r"train: column 'rating' has 1 missing value\(s\) at rows \[3\]"):
        model().fit(_train((5, 3, 4, np.nan, 2)))


def test_an_infinite_rating_is_refused():
    # Before: GlobalMean predicted inf for every pair.
    with pytest.raises(DataValidationError, match=r"column 'rating' has 1 infinite value\(s\) at rows \[3\]: \[inf\]"):
        GlobalMean().fit(_train((5, 3, 4, np.inf, 2)))


def test_a_text_rating_is_refused_naming_the_column():
    # Before: ValueError: could not convert string to float: 'five', from pandas.
    with pytest.raises(DataValidationError, match=r"column 'rating' must hold numbers, found \['five'\] at rows \[3\]; "
                                                  r"convert it first, e.g\. train\['rating'\] = pd\.to_numeric"):
        GlobalMean().fit(_train((5, 3, 4, "five", 2)))


def test_check_target_bounds_dtypes_and_valid_input():
    frame = pd.DataFrame({"r": [1.0, 6.0, 0.0]}, index=[10, 11, 12])
    with pytest.raises(DataValidationError, match=r"2 value\(s\) outside the model's range \(in \[1, 5\]\) at rows \[11, 12\]"):
        _validation.check_target(frame, "r", 1, 5, name="train")
    dates = pd.DataFrame({"r": pd.to_datetime(["2020-01-01"])})
    with pytest.raises(DataValidationError, match="dates or durations"):
        _validation.check_target(dates, "r")
    # Valid input is returned exactly as the old conversion did: object numbers and bools too.
    for column in ([5, 3], [5.5, np.float32(2)], [True, False]):
        values = pd.Series(column, dtype=object if isinstance(column[0], float) else None)
        out = _validation.check_target(pd.DataFrame({"r": values}), "r")
        np.testing.assert_array_equal(out, pd.Series(column).to_numpy(np.float64))


def test_ids_are_checked_before_encoding():
    mixed = _train().astype({"user_id": object})
    mixed.loc[4, "user_id"] = "u3"
    with pytest.raises(DataValidationError, match=r"column 'user_id' mixes text ids \['u3'\] at rows \[4\]"):
        GlobalMean().fit(mixed)
    inf = _train().astype({"item_id": float})
    inf.loc[0, "item_id"] = np.inf
    with pytest.raises(DataValidationError, match=r"column 'item_id' has infinite ids at rows \[0\]"):
        GlobalMean().fit(inf)


def test_sequence_models_refuse_a_missing_timestamp():
    train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [5, 6, 5], "timestamp": [1.0, np.nan, 1.0]})
    with pytest.raises(DataValidationError, match=r"column 'timestamp' has 1 missing value\(s\) at rows \[1\]"):
        LastItemNext().fit(train)


def _regression(n=16):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, generator=gen), torch.randn(n, generator=gen)


def _linear():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))


def test_trainer_refuses_a_nan_target_before_touching_the_weights():
    # Before: no error; the weights became NaN.
    X, y = _regression()
    y[3] = float("nan")
    model = _linear()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(DataValidationError, match=r"train: the target has 1 NaN or infinite value\(s\), in rows \[3\]: \[nan\]"):
        Trainer(model, nn.MSELoss(), TrainConfig(num_epochs=1, **QUIET)).fit((X, y))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    X[5, 1] = float("inf")
    with pytest.raises(DataValidationError, match=r"valid: input 0 has 1 NaN or infinite value\(s\), in rows \[5\]"):
        Trainer(_linear(), nn.MSELoss(), TrainConfig(num_epochs=1, **QUIET)).fit(_regression(), (X, _regression()[1]))


def test_trainer_stops_at_the_first_non_finite_loss_naming_epoch_and_batch():
    calls = {"n": 0}

    def flaky_mse(out, target):
        calls["n"] += 1
        loss = nn.functional.mse_loss(out, target)
        return loss * float("inf") if calls["n"] == 6 else loss  # batch 2 of epoch 2

    X, y = _regression(16)
    cfg = TrainConfig(num_epochs=3, batch_size=4, **QUIET)
    with pytest.raises(NonFiniteLossError, match=r"the training loss is inf at epoch 2, batch 2 of 4; .*lower the learning rate"):
        Trainer(_linear(), flaky_mse, cfg).fit((X, y))


def test_implicit_recommenders_stop_at_a_non_finite_epoch_loss():
    class Diverging(ImplicitRecommender):
        def __init__(self, losses_by_epoch):
            super().__init__()
            self.losses = losses_by_epoch
            self.config = type("Cfg", (), {"num_epochs": len(losses_by_epoch), "eval_every": 1, "patience": 9,
                                           "k": 2, "device": "cpu", "progress": False, "cpu_threads": 1})()

        def _train(self, users, items, device):
            self._run_epochs(lambda epoch: self.losses[epoch - 1], nn.Linear(1, 1), lambda: None)

        def _score_all(self, users):
            return np.zeros((len(users), self.n_items_))

    train = _train().drop(columns="rating")
    with pytest.raises(NonFiniteLossError, match="the training loss is nan at epoch 2 .train_loss"):
        Diverging([{"train_loss": 1.0}, {"train_loss": float("nan")}]).fit(train)
    # A loss that is NaN from the first epoch on is a placeholder (CFGAN without its discriminator) ...
    Diverging([{"train_loss": 1.0, "d_loss": float("nan")}] * 2).fit(train)
    # ... but one that was a number and becomes NaN is divergence.
    with pytest.raises(NonFiniteLossError, match="epoch 2 .d_loss"):
        Diverging([{"train_loss": 1.0, "d_loss": 0.5}, {"train_loss": 1.0, "d_loss": float("nan")}]).fit(train)


def test_trainer_defines_best_epoch_even_if_the_monitor_is_never_a_number():
    X, y = _regression()
    cfg = TrainConfig(num_epochs=2, monitor="valid_nan", patience=None, **QUIET)
    trainer = Trainer(_linear(), nn.MSELoss(), cfg, metrics={"nan": lambda t, p: float("nan")})
    trainer.fit((X, y), (X, y))
    assert trainer.best_epoch_ == 2


# --- class 6: the package speaks instead of the library ------------------------------------------


def test_an_output_shaped_16_against_a_target_shaped_16_1_is_an_error():
    # Before: torch's UserWarning, then a loss over the broadcast (16, 16) differences.
    X, y = _regression()
    with pytest.raises(DataValidationError, match=r"train: the model's output has shape \(16,\) but the target has "
                                                  r"shape \(16, 1\); the loss would broadcast them to \(16, 16\)"):
        Trainer(_linear(), nn.MSELoss(), TrainConfig(num_epochs=1, **QUIET)).fit((X, y[:, None]))
    with pytest.raises(DataValidationError, match=r"output has shape \(16, 1\) but the target has shape \(16,\)"):
        Trainer(nn.Linear(3, 1), nn.MSELoss(), TrainConfig(num_epochs=1, **QUIET)).fit((X, y))


def test_shapes_that_differ_in_size_are_the_losss_business():
    X = _regression()[0]
    labels = torch.tensor([0, 1, 2, 1] * 4)
    hist = Trainer(nn.Linear(3, 3), nn.CrossEntropyLoss(), TrainConfig(num_epochs=1, **QUIET)).fit((X, labels))
    assert np.isfinite(hist["train_loss"]).all()


def test_trainer_pairs_must_be_tensors():
    X, y = _regression()
    with pytest.raises(TypeError, match=r"train: the target must be a torch.Tensor, got ndarray; convert it with torch.as_tensor"):
        Trainer(_linear(), nn.MSELoss(), TrainConfig(num_epochs=1, **QUIET)).fit((X, y.numpy()))
    with pytest.raises(DataValidationError, match="the target is boolean"):
        Trainer(_linear(), nn.MSELoss(), TrainConfig(num_epochs=1, **QUIET)).fit((X, y > 0))


@pytest.mark.parametrize("field, value, message", [
    ("lr", "0.1", r"lr must be a finite number > 0, got '0.1' \(a str\); pass a number, e\.g\. lr=0\.001"),
    ("weight_decay", None, r"weight_decay must be a finite number >= 0, got None \(a NoneType\)"),
    ("seed", -1, r"seed must be a non-negative int, got -1"),
    ("seed", 1.5, r"seed must be a non-negative int, got 1.5 \(a float\)"),
    ("num_epochs", 2.0, r"num_epochs must be an int >= 1, got 2.0 \(a float\)"),
    ("lr", float("nan"), r"lr must be a finite number > 0, got nan"),
    ("patience", 0, r"patience must be an int >= 1 or None, got 0"),
    ("progress", "yes", r"progress must be True or False, got 'yes'"),
])
def test_train_config_names_the_field_the_value_and_the_fix(field, value, message):
    # Before: TypeError: '>' not supported between instances of 'str' and 'int' (lr), the
    # same for None (weight_decay); a negative seed passed until fit.
    with pytest.raises(InvalidParameterError, match=message) as info:
        TrainConfig(**{field: value})
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_seeds_are_checked_where_they_enter():
    with pytest.raises(InvalidParameterError, match="seed must be a non-negative int, got -1"):
        seed_everything(-1)
    with pytest.raises(InvalidParameterError, match="seed must be a non-negative int, got -3"):
        _validation.check_random_state(-3)
    with pytest.raises(InvalidParameterError, match="seed must be an int, None or numpy Generator, got '0'"):
        _validation.check_random_state("0")
    assert _validation.check_random_state(5).integers(100) == np.random.default_rng(5).integers(100)


def test_a_truncated_checkpoint_names_its_path_and_what_to_do(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, nn.Linear(2, 1), epoch=1)
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)
    with pytest.raises(CheckpointError, match=rf"{path}: cannot read this checkpoint \(\d+ bytes\): it is truncated.*"
                                              "delete the file and save the model again") as info:
        load_checkpoint(path, nn.Linear(2, 1))
    assert isinstance(info.value, RuntimeError)


def test_other_broken_checkpoints(tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other.pt: not a recfeat_ref checkpoint \(no 'state_dict' key\)"):
        load_checkpoint(tmp_path / "other.pt", nn.Linear(2, 1))
    save_checkpoint(tmp_path / "small.pt", nn.Linear(2, 1))
    with pytest.raises(CheckpointError, match=r"small.pt: the checkpoint's weights do not fit this Linear"):
        load_checkpoint(tmp_path / "small.pt", nn.Linear(3, 1))
    with pytest.raises(FileNotFoundError, match=r"missing.pt: no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt", nn.Linear(2, 1))


def test_cross_entropy_refuses_fractional_labels_and_accepts_whole_floats():
    # Before: IndexError: arrays used as indices must be of integer (or boolean) type.
    logits = [[2.0, 0.0], [0.0, 2.0]]
    with pytest.raises(DataValidationError, match=r"labels: class labels must be whole numbers \(indices in \[0, 2\)\), "
                                                  r"found \[0.5\] at positions \[0\]"):
        losses.cross_entropy([0.5, 1.0], logits)
    assert losses.cross_entropy([0.0, 1.0], logits) == losses.cross_entropy([0, 1], logits)


def test_losses_refuse_text_and_name_the_argument():
    # Before: ValueError: could not convert string to float: 'a', from NumPy.
    with pytest.raises(DataValidationError, match=r"y: expected numbers, got \['a', 'b'\]"):
        losses.mse(["a", "b"], [1.0, 2.0])
    with pytest.raises(DataValidationError, match=r"y_hat: 1 value\(s\) are NaN or infinite, at positions \[1\]: \[nan\]"):
        losses.mse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(DataValidationError, match=r"p: probabilities must lie in \[0, 1\], found \[1.5\]"):
        losses.binary_cross_entropy([1, 0], [1.5, 0.2])
    with pytest.raises(DataValidationError, match="z: expected numbers"):
        losses.sigmoid(["x"])


def test_metrics_refuse_text_and_bad_parameters():
    with pytest.raises(DataValidationError, match="y_true: expected numbers"):
        metrics.rmse(["1", "2"], [1.0, 2.0])
    with pytest.raises(InvalidParameterError, match=r"k must be an integer, got '2' \(str\)"):
        metrics.topk_items(np.ones((2, 3)), "2")
    with pytest.raises(DataValidationError, match="zero_division='x' is invalid"):
        metrics.precision([0, 1], [0, 1], zero_division="x")
    with pytest.raises(DataValidationError, match="item_features: expected numbers"):
        metrics.intra_list_diversity([[0, 1]], [["a", "b"], ["c", "d"]], k=2)
    with pytest.raises(DataValidationError, match=r"item_features: 1 value\(s\) are NaN or infinite, at positions \[\(0, 0\)\]"):
        metrics.intra_list_diversity([[0, 1]], [[np.nan, 1.0], [1.0, 0.0]], k=2)


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": 0}, r"lr must be a finite number > 0, got 0$"),
    ({"lr": "1"}, r"lr must be a finite number > 0, got '1' \(a str\)"),
    ({"low": 0, "high": 1, "value": 1.5}, r"x must be a finite number in \[0, 1\], got 1.5"),
    ({"low": 0, "high": 1, "high_open": True, "value": 1}, r"x must be a finite number in \[0, 1\), got 1"),
    ({"low": 1, "integer": True, "value": True}, r"x must be an int >= 1, got True \(a bool\)"),
])
def test_check_number_messages(kwargs, message):
    kwargs = dict(kwargs)
    name = "lr" if "lr" in kwargs else "x"
    value = kwargs.pop("lr", kwargs.pop("value", None))
    low = kwargs.pop("low", 0 if name == "lr" else None)
    with pytest.raises(InvalidParameterError, match=message):
        _validation.check_number(name, value, low, low_open=name == "lr", **kwargs)
    assert _validation.check_number("x", None, 0, allow_none=True) is None
    assert _validation.check_number("x", np.int64(3), 1, integer=True) == 3


def test_bias_baseline_parameters():
    with pytest.raises(InvalidParameterError, match=r"reg_user must be a finite number >= 0, got None \(a NoneType\)"):
        BiasBaseline(reg_user=None)
    with pytest.raises(ValueError, match="n_iter must be an int >= 1, got 0"):
        BiasBaseline(n_iter=0)


# --- class 7: errors name the caller's ids, not internal indices -------------------------------------


def test_bpr_names_the_raw_ids_of_users_with_every_item():
    # Before: "users [0, 1] interacted with all 2 items" (internal indices).
    train = pd.DataFrame({"user_id": [10, 10, 20, 20, 30], "item_id": [7, 8, 7, 8, 7]})
    with pytest.raises(DataValidationError, match=r"^train: users \[10, 20\] interacted with all 2 items"):
        BPRMF(n_factors=2, num_epochs=1, **QUIET).fit(train)
    with pytest.raises(DataValidationError, match=r"^train: users \[10, 20\] interacted with all 2 items"):
        BPRMF(n_factors=2, num_epochs=1, negatives="popularity", **QUIET).fit(train)
    strings = train.assign(user_id=train["user_id"].map({10: "ann", 20: "bob", 30: "cy"}))
    with pytest.raises(DataValidationError, match=r"^train: users \['ann', 'bob'\] interacted"):
        BPRMF(n_factors=2, num_epochs=1, **QUIET).fit(strings)
    # The sampler itself works on indices, and says so in its own terms (a ValueError, as documented).
    with pytest.raises(ValueError, match=r"^users \[0, 1\] interacted with all 2 items"):
        NegativeSampler([0, 0, 1, 1, 2], [0, 1, 0, 1, 0], n_items=2)


def test_knn_names_the_repeated_pairs_by_raw_ids():
    train = pd.DataFrame({"user_id": [10, 10, 20], "item_id": [7, 7, 8], "rating": [5, 4, 3]})
    with pytest.raises(DataValidationError, match=r"1 rows repeat a \(user_id, item_id\) pair, e.g. \[\(10, 7\)\]"):
        ItemKNN().fit(train)


def test_evaluate_topn_names_raw_users_it_cannot_rank():
    from recfeat_ref.baselines import Popularity
    from recfeat_ref.recommender import evaluate_topn

    train = pd.DataFrame({"user_id": [10, 10, 20], "item_id": [1, 2, 1]})
    test = pd.DataFrame({"user_id": [10, 20], "item_id": [1, 2]})
    model = Popularity().fit(train)
    with pytest.raises(DataValidationError, match=r"users \[10\] have fewer than k=1 items left to rank"):
        evaluate_topn(model, train, test, k=1)
    model.counts_[0] = np.nan  # a broken model
    with pytest.raises(DataValidationError, match=r"Popularity gives NaN or infinite scores to users \[20\]"):
        evaluate_topn(model, train, test.iloc[1:], k=1)
    with pytest.raises(TypeError, match="predict: expected a pandas DataFrame"):
        model.predict([[10, 1]])


def test_sasrec_bce_needs_two_items_instead_of_looping_forever():
    from recfeat_ref.sequential import SASRec

    train = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 5, 5], "timestamp": [1, 2, 3]})
    with pytest.raises(DataValidationError, match=r"SASRec\(loss='bce'\) .* needs at least 2 training items, got 1"):
        SASRec(d=4, max_len=3, n_blocks=1, num_epochs=1, loss="bce", **QUIET).fit(train)


def test_trainer_checks_the_documented_target_range_of_torchs_losses():
    X, y = _regression()
    with pytest.raises(DataValidationError, match=r"BCEWithLogitsLoss needs targets in \[0, 1\], found \[4.0\] in rows \[2\]"):
        Trainer(_linear(), nn.BCEWithLogitsLoss(), TrainConfig(num_epochs=1, **QUIET)).fit(
            (X, torch.tensor([0.0, 1.0, 4.0] + [0.0] * 13)))
    labels = torch.tensor([0, 1, 3, 1] * 4)  # class 3 of a 3-class output
    with pytest.raises(DataValidationError, match=r"class indices must lie in \[0, 3\) .* found \[3\] in rows \[2, 6, 10, 14\]"):
        Trainer(nn.Linear(3, 3), nn.CrossEntropyLoss(), TrainConfig(num_epochs=1, **QUIET)).fit((X, labels))
