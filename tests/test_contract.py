"""The input contract every recommender keeps (issue 15), like scikit-learn's ``check_estimator``.

Every concrete subclass of :class:`recfeat_ref.recommender.Recommender` in the package
is found by walking ``recfeat_ref``'s modules (no list to keep up to date), built from
``ARGS`` below or with no arguments, and checked on tiny synthetic data:

* it fits on good data and predicts finite float64 scores, one per row;
* unseen users and items get the documented fallback (finite scores), or the
  package's error naming them;
* ``score_items`` has shape (users, ``n_items_``);
* a target with NaN, infinity or text is refused with ``DataValidationError``
  naming the column (models of implicit feedback ignore the target);
* a missing id is refused naming its column;
* the input frame is not modified;
* two fits with the same seed predict the same;
* on generated frames (NaN, inf, duplicates, text, empty frames, single-row users)
  it either fits and predicts finite values or raises the package's error
  (``hypothesis``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap

import numpy as np
import pandas as pd
import pytest

import recfeat_ref
from recfeat_ref.exceptions import DataValidationError
from recfeat_ref.recommender import Recommender

try:  # the property test needs hypothesis (test extras); the other checks do not
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - without hypothesis only the property test is skipped
    st = None

# --- discovery ---------------------------------------------------------------------------


def _is_stub(func) -> bool:
    """True if ``func``'s body is only ``raise NotImplementedError`` (after a docstring)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    body = [n for n in tree.body[0].body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _is_abstract(cls) -> bool:
    """A base class declares hooks for its subclasses: methods of its own that only
    ``raise NotImplementedError`` (Recommender's ``_fit``, ImplicitRecommender's ``_train``,
    ...). A subclass that defines no such stub is a model, and is checked (one that forgot
    to implement an inherited hook then fails the checks, as it should)."""
    own = vars(cls).values()
    return inspect.isabstract(cls) or any(inspect.isfunction(f) and _is_stub(f) for f in own)


def discover_recommenders() -> dict[str, type]:
    """Every public, concrete Recommender subclass defined in a module of ``recfeat_ref``."""
    found = {}
    for info in pkgutil.iter_modules(recfeat_ref.__path__):
        module = importlib.import_module(f"recfeat_ref.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, Recommender) and obj.__module__ == module.__name__
                    and not name.startswith("_") and not _is_abstract(obj)):
                found[name] = obj
    return dict(sorted(found.items()))


# --- data and the constructor table ---------------------------------------------------------

N_USERS, N_ITEMS, PER_USER = 8, 8, 4
UNSEEN = 999  # an id neither in training as a user nor as an item (but in the catalogue below)


def make_train() -> pd.DataFrame:
    """Each of 8 users rates 4 distinct of the 8 items (1..5 stars), in time order.

    Every item is rated (twice or more) and no user has every item, so every model,
    BPR's negative sampling included, has something to learn from.
    """
    rows = []
    for u in range(1, N_USERS + 1):
        for t, offset in enumerate((0, 1, 3, 6)):
            item = 101 + (u - 1 + offset) % N_ITEMS
            rows.append((u, item, 1 + (3 * u + 2 * t) % 5, 1000 * u + t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


CATALOGUE = pd.DataFrame({
    "item_id": list(range(101, 101 + N_ITEMS)) + [UNSEEN],
    "genres": [["Drama"], ["Comedy"], ["Drama", "Comedy"], ["Horror"], ["Action"], ["Action", "Drama"],
               ["Comedy", "Romance"], ["Romance"], ["Drama"]],
})
EMBEDDINGS = np.random.default_rng(1).normal(size=(len(CATALOGUE), 6))

QUIET = {"progress": False, "device": "cpu"}
#: Constructor arguments: the required ones (a catalogue), and small configs so that the
#: whole file runs in seconds. A new recommender must be constructible with no arguments
#: or have an entry here (test_every_recommender_is_constructible).
ARGS = {
    "ContentBased": lambda: {"items": CATALOGUE, "use": ("genres",)},
    "TextContentRecommender": lambda: {"items": CATALOGUE, "embeddings": EMBEDDINGS},
    "TextFusedRanker": lambda: {"items": CATALOGUE, "embeddings": EMBEDDINGS, "n_factors": 4, "num_epochs": 2, **QUIET},
    "IAutoRec": lambda: {"hidden_dim": 4, "num_epochs": 2, **QUIET},
    "MFRecommender": lambda: {"n_factors": 4, "num_epochs": 2, **QUIET},
    "BPRMF": lambda: {"n_factors": 4, "num_epochs": 2, **QUIET},
    "MultDAE": lambda: {"hidden_dims": (4,), "num_epochs": 2, **QUIET},
    "MultVAE": lambda: {"latent_dim": 4, "num_epochs": 2, **QUIET},
    "CFGAN": lambda: {"g_hidden": (8,), "d_hidden": (8,), "num_epochs": 2, **QUIET},
    "LightGCN": lambda: {"n_factors": 4, "num_epochs": 2, **QUIET},
    "FeatureRanker": lambda: {"n_factors": 4, "num_epochs": 2, **QUIET},
    "IALS": lambda: {"n_factors": 4, "num_epochs": 2, "progress": False},
    "GRU4Rec": lambda: {"d": 8, "max_len": 4, "num_epochs": 2, **QUIET},
    "Caser": lambda: {"d": 8, "max_len": 4, "L": 2, "n_h": 2, "n_v": 2, "num_epochs": 2, **QUIET},
    "SASRec": lambda: {"d": 8, "max_len": 4, "n_blocks": 1, "num_epochs": 2, **QUIET},
}

RECOMMENDERS = discover_recommenders()
NAMES = list(RECOMMENDERS)


def build(name: str) -> Recommender:
    cls = RECOMMENDERS[name]
    return cls(**ARGS[name]()) if name in ARGS else cls()


def _finite_or_package_error(fn, *args):
    """Call ``fn``; a result must be finite, an error must be the package's DataValidationError."""
    try:
        out = fn(*args)
    except DataValidationError:
        return None
    assert np.all(np.isfinite(out)), f"non-finite scores: {out}"
    return out


# --- the checks ------------------------------------------------------------------------------


def test_discovery_finds_every_family():
    expected = {"GlobalMean", "BiasBaseline", "Popularity", "ItemKNN", "UserKNN", "ContentBased", "MFRecommender",
                "BPRMF", "EASE", "IALS", "IAutoRec", "MultDAE", "MultVAE", "LightGCN", "CFGAN", "FeatureRanker",
                "GRU4Rec", "Caser", "SASRec", "MostPopularNext", "LastItemNext", "TextContentRecommender",
                "TextFusedRanker"}
    assert expected <= set(NAMES), sorted(expected - set(NAMES))
    # Base classes with hooks left to implement are not checked as models.
    for base in ("Recommender", "ImplicitRecommender", "SequentialRecommender", "NeuralSequentialRecommender"):
        assert base not in NAMES


def test_every_recommender_is_constructible():
    unknown = [n for n in ARGS if n not in RECOMMENDERS]
    assert not unknown, f"ARGS names classes that no longer exist: {unknown}"
    for name, cls in RECOMMENDERS.items():
        if name in ARGS:
            continue
        try:
            cls()
        except TypeError as exc:
            pytest.fail(f"{cls.__module__}.{name} needs constructor arguments ({exc}); add it to ARGS in {__file__}")


@pytest.fixture(scope="module")
def fitted():
    """Each model fitted once on the good data (shared by the read-only checks)."""
    train = make_train()
    return train, {name: build(name).fit(train) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_fits_and_predicts_finite_scores(name, fitted):
    train, models = fitted
    model = models[name]
    pred = model.predict(train)
    assert pred.shape == (len(train),) and pred.dtype == np.float64
    assert np.isfinite(pred).all()
    assert model.n_users_ == N_USERS and model.n_items_ == N_ITEMS


@pytest.mark.parametrize("name", NAMES)
def test_unseen_ids_get_the_fallback(name, fitted):
    _, models = fitted
    model = models[name]
    rows = pd.DataFrame({"user_id": [UNSEEN, 1, UNSEEN], "item_id": [101, UNSEEN, UNSEEN]})
    try:
        pred = model.predict(rows)
    except DataValidationError as exc:  # allowed only if the model documents that it cannot score them
        assert "unseen" in str(exc) or "not in the items frame" in str(exc), exc
    else:
        assert pred.shape == (3,) and np.isfinite(pred).all()
    scores = model.score_items([1, UNSEEN])
    assert scores.shape == (2, model.n_items_) and np.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_score_items_shapes(name, fitted):
    _, models = fitted
    model = models[name]
    assert model.score_items().shape == (model.n_users_, model.n_items_)
    assert model.score_items(model.user_ids_[:3]).shape == (3, model.n_items_)
    assert np.isfinite(model.score_items()).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "five"], ids=["nan", "inf", "-inf", "text"])
@pytest.mark.parametrize("name", NAMES)
def test_bad_targets_are_refused_naming_the_column(name, bad):
    train = make_train().astype({"rating": object})
    train.loc[3, "rating"] = bad
    model = build(name)
    if model.target_col is None:  # implicit feedback: the rating column is not read
        pred = model.fit(train).predict(train)
        assert np.isfinite(pred).all()
        return
    with pytest.raises(DataValidationError, match=r"train: column 'rating' .*rows \[3\]"):
        model.fit(train)


@pytest.mark.parametrize("name", NAMES)
def test_missing_ids_are_refused_naming_the_column(name):
    train = make_train().astype({"user_id": float})
    train.loc[2, "user_id"] = np.nan
    with pytest.raises(DataValidationError, match=r"column 'user_id' has 1 missing value\(s\) at rows \[2\]"):
        build(name).fit(train)


@pytest.mark.parametrize("name", NAMES)
def test_errors_name_the_callers_ids_not_internal_indices(name):
    """Users 70 and 80 met every item; a model that cannot use them must say 70 and 80, not 0 and 1."""
    train = pd.DataFrame({"user_id": [70, 70, 80, 80, 90], "item_id": [101, 102, 101, 102, 101],
                          "rating": [5, 4, 3, 2, 1], "timestamp": [1, 2, 3, 4, 5]})
    try:
        build(name).fit(train)
    except DataValidationError as exc:
        message = str(exc)
        assert "[0, 1]" not in message and "[0]" not in message, message
        if "users" in message:
            assert "[70, 80]" in message, message


@pytest.mark.parametrize("name", NAMES)
def test_fit_and_predict_leave_the_frame_alone(name):
    train = make_train()
    before = train.copy(deep=True)
    model = build(name).fit(train)
    model.predict(train)
    model.score_items()
    pd.testing.assert_frame_equal(train, before)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_predictions(name, fitted):
    train, models = fitted
    again = build(name).fit(train)
    np.testing.assert_array_equal(again.predict(train), models[name].predict(train))


# --- the property: fit-and-finite, or the package's error ---------------------------------------

def _frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]).infer_objects()


_GOOD = [(1, 101, 4, 0), (1, 102, 2, 1), (2, 101, 5, 2), (2, 103, 1, 3), (3, 102, 3, 4)]
#: Each malformation the contract names, tried on every model before the random frames.
EDGE_CASES = {
    "empty": _frame([]),
    "nan rating": _frame(_GOOD + [(3, 103, np.nan, 5)]),
    "inf rating": _frame(_GOOD + [(3, 103, np.inf, 5)]),
    "text rating": _frame(_GOOD + [(3, 103, "five", 5)]),
    "duplicate pair": _frame(_GOOD + [_GOOD[0]]),
    "single-row users": _frame([(1, 101, 4, 0), (2, 102, 3, 1), (3, 103, 5, 2)]),
    "one row": _frame([(1, 101, 4, 0)]),
    "nan user": _frame(_GOOD + [(np.nan, 103, 3, 5)]),
    "inf item": _frame(_GOOD + [(3, np.inf, 3, 5)]),
    "text and numeric ids": _frame(_GOOD + [("u", 103, 3, 5)]),
}


def _check_fit_finite_or_error(name, train):
    before = train.copy(deep=True)
    model = build(name)
    try:
        model.fit(train)
    except DataValidationError:
        pd.testing.assert_frame_equal(train, before)
        return
    pd.testing.assert_frame_equal(train, before)
    _finite_or_package_error(model.predict, train.drop_duplicates(["user_id", "item_id"]))
    assert np.isfinite(model.score_items()).all()


@pytest.mark.parametrize("case", list(EDGE_CASES))
@pytest.mark.parametrize("name", NAMES)
def test_malformed_frames_fit_finite_or_raise_the_packages_error(name, case):
    _check_fit_finite_or_error(name, EDGE_CASES[case])


if st is not None:
    _ids = st.one_of(st.integers(1, 6), st.just(np.nan), st.just("u"), st.just(np.inf))
    _ratings = st.one_of(st.integers(1, 5), st.floats(1, 5), st.just(np.nan), st.just(np.inf), st.just("five"))

    @st.composite
    def frames(draw):
        """Small frames mixing good rows with NaN, inf, text, duplicates, single-row users; possibly empty."""
        n = draw(st.integers(0, 14))
        rows = []
        for t in range(n):
            user = draw(_ids) if draw(st.integers(0, 4)) == 0 else draw(st.integers(1, 4))
            item = draw(_ids) if draw(st.integers(0, 4)) == 0 else draw(st.integers(101, 106))
            rating = draw(_ratings) if draw(st.integers(0, 3)) == 0 else draw(st.integers(1, 5))
            rows.append((user, item, rating, t))
        if n and draw(st.booleans()):
            rows.append(rows[0])  # a duplicate (user, item) row
        return _frame(rows)

    @pytest.mark.parametrize("name", NAMES)
    @settings(max_examples=4, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(train=frames())
    def test_generated_frames_fit_finite_or_raise_the_packages_error(name, train):
        _check_fit_finite_or_error(name, train)
else:  # pragma: no cover
    @pytest.mark.skip(reason="hypothesis is not installed (pip install -e '.[test]')")
    def test_generated_frames_fit_finite_or_raise_the_packages_error():
        pass
