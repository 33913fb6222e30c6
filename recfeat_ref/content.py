r"""Content-based filtering: recommend items whose *content* resembles what the user liked.

Collaborative filtering (:mod:`recfeat_ref.knn`, matrix factorisation) learns only from
who rated what, so an item nobody has rated yet cannot be recommended. A content-based
recommender describes every item by features of the item itself -- here a film's
genres, decade and title words -- builds a *profile* of each user in that feature
space from the items the user rated, and scores an item by the cosine between the
profile and the item's features (Pazzani and Billsus, 2007; Lops et al., 2011). Any
item with content can be scored, rated or not: this is the answer to the item
cold-start problem.

Item features (:func:`item_content_features`)
----------------------------------------------
Three blocks, each L2-normalised per row, multiplied by its weight :math:`w_b`,
concatenated, and the whole row L2-normalised again:

.. math::
    f_i = \frac{[\,w_1 g_i/\lVert g_i\rVert;\; w_2 d_i;\; w_3 t_i\,]}
               {\lVert [\,w_1 g_i/\lVert g_i\rVert;\; w_2 d_i;\; w_3 t_i\,] \rVert}

* ``genres`` :math:`g_i`: multi-hot, one column per genre
  (:func:`recfeat_ref.datasets.genre_matrix`);
* ``year`` :math:`d_i`: one-hot release decade, ``"decade=1990s"``; an unknown year
  has its own column ``"decade=unknown"``;
* ``title`` :math:`t_i`: TF-IDF of the lowercased title words, English stop words
  removed, words in at least ``title_min_df`` titles (scikit-learn's
  :class:`~sklearn.feature_extraction.text.TfidfVectorizer`, rows L2-normalised;
  Salton and Buckley, 1988).

Since each block is a unit vector (or zero), the cosine of two items is the
:math:`w_b^2`-weighted mean of the per-block cosines, so :math:`w_b^2` is block
:math:`b`'s share: equal weights give each block the same say. The features use
the items frame only (no rating), so computing them on the whole catalogue leaks
nothing from a test set.

References
----------
Pazzani, M. J. & Billsus, D. (2007). Content-based recommendation systems. In
*The Adaptive Web*, LNCS 4321, 325-341. doi:10.1007/978-3-540-72079-9_10

Lops, P., de Gemmis, M. & Semeraro, G. (2011). Content-based recommender systems:
state of the art and trends. In *Recommender Systems Handbook*, 73-105.
doi:10.1007/978-0-387-85820-3_3

Salton, G. & Buckley, C. (1988). Term-weighting approaches in automatic text
retrieval. *Information Processing & Management* 24(5), 513-523.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import DEFAULT_ITEM_COL
from ._validation import DataValidationError, _preview, check_columns, check_dataframe
from .datasets import genre_matrix
from .recommender import Recommender

__all__ = ["BLOCKS", "PROFILES", "ContentBased", "item_content_features"]

#: Feature blocks :func:`item_content_features` knows, with the column each needs.
BLOCKS: dict[str, str] = {"genres": "genres", "year": "year", "title": "title"}
#: Accepted values of ``ContentBased(profile=...)``.
PROFILES = ("centered", "liked")


def _check_blocks(use, weights, title_min_df) -> tuple[tuple[str, ...], dict[str, float]]:
    """Validate ``use``, ``weights`` and ``title_min_df``; return ``use`` and the full weights."""
    if isinstance(use, str):
        use = (use,)
    use = tuple(use)
    unknown = [b for b in use if b not in BLOCKS]
    if not use or unknown:
        raise ValueError(f"use must name one or more of {tuple(BLOCKS)}, got {use!r}")
    if len(set(use)) < len(use):
        raise ValueError(f"use names a block twice: {use!r}")
    weights = {} if weights is None else dict(weights)
    extra = [b for b in weights if b not in use]
    if extra:
        raise ValueError(f"weights has block(s) {extra} that are not in use={use}; add them to use or drop them")
    full = {b: weights.get(b, 1.0) for b in use}
    for b, w in full.items():
        if not isinstance(w, numbers.Real) or isinstance(w, bool) or not np.isfinite(w) or w < 0:
            raise ValueError(f"weights[{b!r}] must be a finite number >= 0, got {w!r}")
    if not any(w > 0 for w in full.values()):
        raise ValueError(f"weights: at least one block needs a weight > 0, got {full}")
    if not isinstance(title_min_df, numbers.Integral) or isinstance(title_min_df, bool) or title_min_df < 1:
        raise ValueError(f"title_min_df must be an int >= 1, got {title_min_df!r}")
    return use, {b: float(w) for b, w in full.items()}


def _l2_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    """Rows divided by their L2 norm; zero rows stay zero."""
    norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())  # (n,)
    scale = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
    return sp.csr_matrix(sp.diags(scale) @ x)


def _genre_block(items: pd.DataFrame) -> tuple[sp.csr_matrix, list[str]]:
    frame = pd.DataFrame({DEFAULT_ITEM_COL: np.arange(len(items)), "genres": items["genres"].to_numpy()})
    g = genre_matrix(frame)  # (n_items, n_genres) 0/1, validates the lists
    return sp.csr_matrix(g.to_numpy(np.float64)), [f"genre={c}" for c in g.columns]


def _year_block(items: pd.DataFrame) -> tuple[sp.csr_matrix, list[str]]:
    try:
        year = pd.array(items["year"], dtype="Int64")
    except (TypeError, ValueError):
        raise DataValidationError(
            f"items: column 'year' must hold whole years or missing values, got {_preview(items['year'].unique())}"
        ) from None
    known = ~np.asarray(pd.isna(year))
    decade = np.zeros(len(items), dtype=np.int64)
    decade[known] = np.asarray(year[known], dtype=np.int64) // 10 * 10
    decades = np.unique(decade[known])
    names = [f"decade={d}s" for d in decades] + ["decade=unknown"]
    col = np.where(known, np.searchsorted(decades, decade), len(decades))  # (n_items,)
    x = sp.csr_matrix((np.ones(len(items)), (np.arange(len(items)), col)), shape=(len(items), len(names)))
    return x, names


def _title_block(items: pd.DataFrame, min_df: int) -> tuple[sp.csr_matrix, list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    titles = items["title"].fillna("").astype(str).tolist()
    vectorizer = TfidfVectorizer(lowercase=True, stop_words="english", min_df=min_df)
    try:
        x = vectorizer.fit_transform(titles)  # (n_items, n_words), rows L2-normalised
    except ValueError as exc:  # "empty vocabulary"
        raise DataValidationError(
            f"items: no title word (English stop words removed) occurs in title_min_df={min_df} titles "
            f"({exc}); lower title_min_df or drop 'title' from use"
        ) from None
    return sp.csr_matrix(x, dtype=np.float64), [f"title={w}" for w in vectorizer.get_feature_names_out()]


def item_content_features(
    items: pd.DataFrame,
    use: Sequence[str] = ("genres", "year", "title"),
    weights: Mapping[str, float] | None = None,
    title_min_df: int = 2,
) -> tuple[sp.csr_matrix, np.ndarray]:
    r"""Item content features: weighted genre, decade and title-word blocks, rows L2-normalised.

    .. math::
        f_i = \frac{[\,w_b\, x_i^{(b)} / \lVert x_i^{(b)} \rVert\,]_{b \in \text{use}}}
                   {\lVert [\,w_b\, x_i^{(b)} / \lVert x_i^{(b)} \rVert\,]_{b \in \text{use}} \rVert}

    See :mod:`recfeat_ref.content` for the blocks. Each block is L2-normalised per
    row before weighting, so :math:`w_b^2` is the block's share of a cosine; a
    block that is empty for an item (a title with no kept word) adds nothing to it.

    Parameters
    ----------
    items : pandas.DataFrame
        One row per item with the columns the blocks need: ``genres`` (a list of
        genre names), ``year`` (int or missing), ``title`` (str), as in
        ``load_movielens_100k().items``. Never modified.
    use : sequence of {"genres", "year", "title"}, default all three
        The blocks, in this column order.
    weights : mapping of block name to float >= 0, optional
        Default 1 for every block: each has the same say, the neutral choice with
        no tuning on test data.
    title_min_df : int, default=2
        A title word must occur in at least this many titles: a word of one title
        links it to nothing, so it only dilutes the cosine.

    Returns
    -------
    features : scipy.sparse.csr_matrix of shape (len(items), n_features), float64
        Row ``r`` describes ``items.iloc[r]``; rows have L2 norm 1 (0 for an item
        with no feature at all).
    feature_names : numpy.ndarray of str, shape (n_features,)
        ``"genre=Action"``, ``"decade=1990s"``, ``"decade=unknown"``, ``"title=star"``, ...

    Raises
    ------
    ValueError
        An unknown block in ``use``, a negative weight or a weight for an unused block.
    DataValidationError
        ``items`` lacks a needed column, or no title word survives ``title_min_df``.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({"item_id": [1, 2], "title": ["Star Wars", "Star Trek"],
    ...                       "year": pd.array([1977, None], dtype="Int64"),
    ...                       "genres": [["Sci-Fi", "War"], ["Sci-Fi"]]})
    >>> X, names = item_content_features(items, use=("year", "title"))
    >>> names.tolist()
    ['decade=1970s', 'decade=unknown', 'title=star']
    >>> X.toarray().round(3)  # (1, 0, 1) / sqrt(2) and (0, 1, 1) / sqrt(2)
    array([[0.707, 0.   , 0.707],
           [0.   , 0.707, 0.707]])
    """
    check_dataframe(items, "items")
    use, weights = _check_blocks(use, weights, title_min_df)
    check_columns(items, [BLOCKS[b] for b in use], "items")
    builders = {"genres": _genre_block, "year": _year_block, "title": lambda df: _title_block(df, title_min_df)}
    blocks, names = [], []
    for b in use:
        x, n = builders[b](items)
        blocks.append(weights[b] * _l2_rows(x))
        names += n
    features = _l2_rows(sp.hstack(blocks, format="csr"))  # (n_items, n_features)
    return features, np.asarray(names, dtype=str)


class ContentBased(Recommender):
    r"""Content-based recommender: cosine between a user's profile and each item's content.

    .. math::
        p_u = \sum_{i \in R(u)} w_{ui}\, f_i, \qquad
        \mathrm{score}_{ui} = \cos(p_u, f_i) = \frac{p_u^\top f_i}{\lVert p_u \rVert\,\lVert f_i \rVert}

    with :math:`f_i` the rows of :func:`item_content_features` and the weights

    * ``profile="centered"``: :math:`w_{ui} = r_{ui} - \bar r_u` (the user's mean
      training rating): liked items pull the profile towards their content,
      disliked ones push it away;
    * ``profile="liked"``: :math:`w_{ui} = [r_{ui} \ge \text{like\_threshold}]`:
      the sum of the content of the items the user liked.

    ContentBased is a *ranking* model: ``predict`` and ``score_items`` return the
    cosine score, in :math:`[-1, 1]` ("centered") or :math:`[0, 1]` ("liked"), not a
    rating. ``target_col`` stays ``"rating"`` because the ratings weight the profiles.

    Parameters
    ----------
    items : pandas.DataFrame
        The catalogue: ``item_col`` (unique ids) and the columns the blocks in
        ``use`` need (see :func:`item_content_features`). It may hold items that
        never occur in training; every training item must be in it. Kept by
        reference, never modified.
    use, weights, title_min_df
        Passed to :func:`item_content_features` (defaults: all three blocks,
        weight 1 each, words in >= 2 titles).
    profile : {"centered", "liked"}, default="centered"
        How ratings weight the profile. "centered" uses every rating, dislikes
        included, and ranked better on the validation part of ML-100K
        (``ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)``): NDCG@10 0.025
        against 0.020 for "liked"; on the test part the two are within noise
        (0.021 and 0.023).
    like_threshold : float, default=4
        ``profile="liked"`` only: ratings >= 4 of 5 are "liked", the usual cut on
        MovieLens (the top two stars).
    user_col, item_col : str

    Attributes
    ----------
    features_ : scipy.sparse.csr_matrix of shape (len(items), n_features)
        Item content, rows in the order of ``items``.
    feature_names_ : numpy.ndarray of str
    catalogue_ids_ : numpy.ndarray
        ``items[item_col]``: the ids that can be scored.
    profiles_ : scipy.sparse.csr_matrix of shape (n_users_, n_features)
        :math:`p_u`, not normalised, rows in the order of ``user_ids_``.
    user_mean_ : numpy.ndarray of shape (n_users_,)
        :math:`\bar r_u`.

    Shapes
    ------
    ``predict(df)``: (len(df),). ``score_items(user_ids)``: (len(user_ids), ``n_items_``),
    columns ``item_ids_``; ``score_items(user_ids, item_ids)``: (len(user_ids), len(item_ids)).

    Notes
    -----
    * **Cold-start items** (in ``items`` but not in training) are scored from their
      content like any other item by ``predict`` and by ``score_items(...,
      item_ids=...)``; ``score_items`` without ``item_ids`` keeps the contract of
      :class:`~recfeat_ref.recommender.Recommender` (the training items only), which
      is what :func:`~recfeat_ref.recommender.evaluate_topn` ranks.
    * **Users unseen in training** have a zero profile and score 0 for every item
      (no popularity fallback: this model knows nothing about them). A user whose
      weights are all 0 (no liked item, or every rating equal to the mean) too.
    * Ids missing from ``items`` raise :class:`DataValidationError` naming them, in
      ``fit``, ``predict`` and ``score_items``.

    References
    ----------
    Pazzani and Billsus (2007); Lops et al. (2011). Full entries in
    :mod:`recfeat_ref.content`.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({"item_id": [1, 2, 3], "genres": [["Comedy"], ["Horror"], ["Comedy", "Romance"]]})
    >>> train = pd.DataFrame({"user_id": [7, 7], "item_id": [1, 2], "rating": [5, 1]})
    >>> model = ContentBased(items, use=("genres",)).fit(train)
    >>> model.predict(pd.DataFrame({"user_id": [7, 7], "item_id": [3, 2]})).round(3)  # 3 was never rated
    array([ 0.5  , -0.707])
    """

    def __init__(
        self,
        items: pd.DataFrame,
        use: Sequence[str] = ("genres", "year", "title"),
        weights: Mapping[str, float] | None = None,
        profile: str = "centered",
        like_threshold: float = 4.0,
        title_min_df: int = 2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_dataframe(items, "items")
        check_columns(items, [self.item_col], "items")
        ids = items[self.item_col]
        if ids.isna().any():
            raise DataValidationError(
                f"items: column {self.item_col!r} has missing ids at rows "
                f"{_preview(items.index[ids.isna().to_numpy()].tolist())}; drop those rows"
            )
        if ids.duplicated().any():
            raise DataValidationError(
                f"items: ids {_preview(ids[ids.duplicated()].unique().tolist())} occur more than once "
                f"in column {self.item_col!r}; keep one content row per item"
            )
        self.use, self.weights = _check_blocks(use, weights, title_min_df)
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
        if not isinstance(like_threshold, numbers.Real) or not np.isfinite(like_threshold):
            raise ValueError(f"like_threshold must be a finite number, got {like_threshold!r}")
        self.items = items
        self.profile = profile
        self.like_threshold = float(like_threshold)
        self.title_min_df = int(title_min_df)

    # -- catalogue -------------------------------------------------------------------
    def _catalogue_rows(self, item_ids, where: str) -> np.ndarray:
        """Rows of ``features_`` for raw item ids; raise naming the ids not in ``items``."""
        ids = np.asarray(item_ids)
        rows = self._catalogue.get_indexer(ids)
        if (rows < 0).any():
            raise DataValidationError(
                f"{where}: item ids {_preview(pd.unique(ids[rows < 0]).tolist())} are not in the items frame "
                f"given to {type(self).__name__}; add their content rows to items or drop them"
            )
        return rows

    # -- fitting ---------------------------------------------------------------------
    def _fit(self, users, items, values):
        self.features_, self.feature_names_ = item_content_features(
            self.items, self.use, self.weights, self.title_min_df
        )
        self.catalogue_ids_ = self.items[self.item_col].to_numpy()
        self._catalogue = pd.Index(self.catalogue_ids_)
        self._train_features = self.features_[self._catalogue_rows(self.item_ids_, "train")]  # (I, d)
        counts = np.bincount(users, minlength=self.n_users_)
        self.user_mean_ = np.bincount(users, weights=values, minlength=self.n_users_) / counts
        if self.profile == "centered":
            w = values - self.user_mean_[users]
        else:
            w = (values >= self.like_threshold).astype(np.float64)
        weights = sp.csr_matrix((w, (users, items)), shape=(self.n_users_, self.n_items_))  # (U, I)
        self.profiles_ = sp.csr_matrix(weights @ self._train_features)  # (U, d)
        self._unit_profiles = _l2_rows(self.profiles_)  # (U, d), rows of norm 1 or 0

    # -- scoring ---------------------------------------------------------------------
    # Item features have norm 1 (or 0), so cos(p_u, f_i) = (p_u / |p_u|) . f_i.
    def _profile_rows(self, users: np.ndarray) -> sp.csr_matrix:
        """Unit profiles of training user indices; -1 (unseen) gets a zero row."""
        p = self._unit_profiles[np.maximum(users, 0)]
        return sp.csr_matrix(sp.diags((users >= 0).astype(np.float64)) @ p)  # (B, d)

    def _score(self, users, items):
        return np.asarray(self._unit_profiles[users].multiply(self._train_features[items]).sum(axis=1)).ravel()

    def _score_all(self, users):
        return (self._unit_profiles[users] @ self._train_features.T).toarray()  # (B, I)

    def _fallback(self, users, items):
        return np.zeros(len(users))  # unseen user: zero profile

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Cosine scores of the frame's (user, item) rows, shape (len(df),), float64.

        Items need only be in ``items`` (cold-start items are scored from their
        content); unseen users score 0.
        """
        self._check_fitted()
        check_dataframe(df, "predict")
        check_columns(df, [self.user_col, self.item_col], "predict")
        rows = self._catalogue_rows(df[self.item_col].to_numpy(), "predict")
        profiles = self._profile_rows(self.user_index(df[self.user_col].to_numpy()))  # (n, d)
        return np.asarray(profiles.multiply(self.features_[rows]).sum(axis=1)).ravel()

    def score_items(self, user_ids=None, item_ids=None) -> np.ndarray:
        """Cosine scores of items for ``user_ids`` (default: all training users).

        ``item_ids=None`` scores the training items, columns in the order of
        ``item_ids_`` (the :class:`Recommender` contract); otherwise the given ids,
        any item of ``items`` (cold-start items included), in the order given.
        Unseen users get a row of zeros.
        """
        if item_ids is None:
            return super().score_items(user_ids)
        self._check_fitted()
        rows = self._catalogue_rows(item_ids, "score_items")
        users = np.arange(self.n_users_) if user_ids is None else self.user_index(user_ids)
        return (self._profile_rows(users) @ self.features_[rows].T).toarray()  # (B, len(item_ids))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(items=<{len(self.items)} items>, use={self.use!r}, weights={self.weights!r}, "
            f"profile={self.profile!r}, like_threshold={self.like_threshold!r}, title_min_df={self.title_min_df!r})"
        )
