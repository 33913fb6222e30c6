r"""Feature groups for an ablation study, and paired comparisons over seeds.

An ablation adds one group of features at a time and measures what each adds. Two
protocols need two shapes of the same groups:

* **click-through** (one row per rating, label :math:`r \ge 4`): :func:`ctr_group_columns`
  adds categorical columns for the temporal, aggregate and cross groups to the rows of
  :func:`~recfeat_ref.ctr.ctr_frame`; :data:`CTR_GROUPS` names them;
* **top-N** (one vector per user and per item): :func:`entity_tables` builds one row per
  user and per film with the side, temporal, aggregate and cross columns;
  :data:`USER_GROUPS` and :data:`ITEM_GROUPS` name them, for
  :class:`~recfeat_ref.hybrid.EntityFeatures`.

Every statistic (bucket edges, counts, first and last times, mean ratings) is fitted on
the *training* rows only; the tests check that the output does not change when the
held-out rows do. Numbers are turned into categories by training deciles
(:class:`~recfeat_ref.features.QuantileBucketizer`), so a field gets one embedding per
bucket and any shape of relation.

:func:`paired_deltas` compares variants run on the same seeds: the gain of each over a
reference *on the same seed*, its mean, spread, and whether it is within noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._validation import _check_positive_int, check_columns, check_dataframe
from .ctr import age_bucket, year_bucket
from .features import (
    QuantileBucketizer,
    TargetEncoder,
    TemporalFeatures,
    UserItemAggregates,
)

__all__ = [
    "CTR_CROSSES",
    "CTR_GROUPS",
    "ITEM_GROUPS",
    "USER_GROUPS",
    "ctr_group_columns",
    "entity_tables",
    "paired_deltas",
]

#: Categorical (one value per row) and multi-hot (a list per row) crosses of the CTR rows.
CTR_CROSSES = {
    "user_x_decade": ("user_id", "year_bucket"),
    "item_x_age": ("item_id", "age_bucket"),
    "item_x_gender": ("item_id", "gender"),
    "gender_x_genres": ("gender", "genres"),
    "age_x_genres": ("age_bucket", "genres"),
}

#: Columns of each CTR feature group: (categorical fields, multi-hot fields).
CTR_GROUPS = {
    "ids": (["user_id", "item_id"], []),
    "side": (["age_bucket", "gender", "occupation", "year_bucket"], ["genres"]),
    "temporal": (["hour", "weekday", "recency_bucket", "tenure_bucket"], []),
    "aggregates": (["user_count_bucket", "item_count_bucket", "user_mean_bucket", "item_mean_bucket",
                    "affinity_bucket"], []),
    "crosses": (["user_x_decade", "item_x_age", "item_x_gender"], ["gender_x_genres", "age_x_genres"]),
}

#: Fields of each top-N group in the user table of :func:`entity_tables`.
USER_GROUPS = {
    "side": ["age_bucket", "gender", "occupation"],
    "temporal": ["first_seen_bucket"],
    "aggregates": ["activity_bucket", "user_mean_bucket"],
    "crosses": ["age_x_gender", "occupation_x_gender"],
}

#: Fields of each top-N group in the item table of :func:`entity_tables`.
ITEM_GROUPS = {
    "side": ["year_bucket", "genres"],
    "temporal": ["first_rated_bucket", "last_rated_bucket"],
    "aggregates": ["popularity_bucket", "item_mean_bucket"],
    "crosses": ["decade_x_genres"],
}

_UNSEEN = "unseen"  # the bucket of a user or film without training rows


def _cross(a: pd.Series, b: pd.Series) -> pd.Series:
    """``"a|b"`` per row; when ``b`` holds lists, a list ``["a|b1", "a|b2", ...]`` per row."""
    a_str = a.astype(str).to_numpy()
    b_vals = b.to_numpy()
    if len(b_vals) and isinstance(b_vals[0], (list, tuple, np.ndarray)):
        return pd.Series([[f"{x}|{y}" for y in ys] for x, ys in zip(a_str, b_vals)], index=a.index)
    return pd.Series([f"{x}|{y}" for x, y in zip(a_str, b.astype(str).to_numpy())], index=a.index)


def _buckets(train_values: np.ndarray, values_by_part: list[np.ndarray], n_buckets: int) -> list[np.ndarray]:
    """Training-decile bucket of each value, as a string (``"b0"``..); NaN -> ``"unseen"``."""
    bucketizer = QuantileBucketizer(n_bins=n_buckets).fit(train_values[~np.isnan(train_values)].reshape(-1, 1))
    out = []
    for values in values_by_part:
        codes = np.full(len(values), _UNSEEN, dtype=object)
        known = ~np.isnan(values)
        if known.any():
            b = bucketizer.transform(values[known].reshape(-1, 1)).ravel().astype(int)
            codes[known] = [f"b{v}" for v in b]
        out.append(codes)
    return out


def ctr_group_columns(train: pd.DataFrame, parts, n_buckets: int = 10, seed: int = 0,
                      cv: int = 5) -> list[pd.DataFrame]:
    """Add the temporal, aggregate and cross columns of :data:`CTR_GROUPS` to CTR rows.

    Parameters
    ----------
    train : pandas.DataFrame
        The training rows of :func:`~recfeat_ref.ctr.ctr_frame` (``user_id, item_id,
        rating, timestamp, age_bucket, gender, occupation, year_bucket, genres``).
        Every statistic is fitted on these rows only.
    parts : sequence of DataFrame
        The frames to transform; ``train`` itself, if among them, gets out-of-fold mean
        ratings (:class:`~recfeat_ref.features.UserItemAggregates`).
    n_buckets : int, default=10
        Quantile buckets of each number (deciles).
    seed : int, default=0
        Seed of the out-of-fold folds.
    cv : int, default=5
        Number of out-of-fold folds (used only when ``train`` is among ``parts``).

    Returns
    -------
    list of DataFrame
        Copies of ``parts`` with the columns ``hour, weekday`` (the rating's UTC hour and
        weekday), ``recency_bucket, tenure_bucket`` (deciles of
        :class:`~recfeat_ref.features.TemporalFeatures`' recency and days since the
        user's first training rating), the ``*_bucket`` aggregates (deciles of the user's
        and film's training counts, smoothed mean ratings and the user's affinity for the
        film's genres) and the crosses of :data:`CTR_CROSSES`.

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [5, 6, 5, 6], "rating": [5, 2, 4, 1],
    ...     "timestamp": [0, 3600, 7200, 90000], "age_bucket": ["18-24"] * 4, "gender": ["F", "F", "M", "M"],
    ...     "occupation": ["x"] * 4, "year_bucket": ["1990s"] * 4, "genres": [["Drama"]] * 4})
    >>> out, = ctr_group_columns(train, [train], n_buckets=2, cv=2)
    >>> out[["hour", "user_x_decade", "gender_x_genres"]].iloc[0].tolist()
    ['0', '1|1990s', ['F|Drama']]
    """
    _check_positive_int("n_buckets", n_buckets)
    need = ["user_id", "item_id", "rating", "timestamp", "age_bucket", "gender", "year_bucket", "genres"]
    check_dataframe(train, "ctr_group_columns (train)")
    parts = list(parts)
    for k, part in enumerate(parts):
        check_dataframe(part, f"ctr_group_columns (part {k})")
        check_columns(part, need, f"ctr_group_columns (part {k})")
    temporal = TemporalFeatures().fit(train)
    times = [temporal.transform(p) for p in parts]  # (n, 4) hour, weekday, recency, tenure
    aggregates = UserItemAggregates(seed=seed, cv=cv)
    if any(p is train for p in parts):
        train_oof = aggregates.fit_transform(train)  # out-of-fold mean ratings on the training rows
    else:
        aggregates.fit(train)
    aggs = [train_oof if p is train else aggregates.transform(p) for p in parts]
    names = list(aggregates.get_feature_names_out())
    train_time = temporal.transform(train)
    train_agg = aggregates.transform(train)  # the edges come from the training rows' full-data values
    out = [p.copy() for p in parts]
    for col, src, j in (("recency_bucket", "time", 2), ("tenure_bucket", "time", 3),
                        ("user_count_bucket", "agg", names.index("user_count")),
                        ("item_count_bucket", "agg", names.index("item_count")),
                        ("user_mean_bucket", "agg", names.index("user_mean_rating")),
                        ("item_mean_bucket", "agg", names.index("item_mean_rating")),
                        ("affinity_bucket", "agg", names.index("user_genre_affinity"))):
        ref = train_time[:, j] if src == "time" else train_agg[:, j]
        values = [t[:, j] for t in times] if src == "time" else [a[:, j] for a in aggs]
        for frame, codes in zip(out, _buckets(ref, values, n_buckets)):
            frame[col] = codes
    for frame, t in zip(out, times):
        frame["hour"] = t[:, 0].astype(int).astype(str)
        frame["weekday"] = t[:, 1].astype(int).astype(str)
        for name, (a, b) in CTR_CROSSES.items():
            frame[name] = _cross(frame[a], frame[b])
    return out


def entity_tables(users: pd.DataFrame, items: pd.DataFrame, train: pd.DataFrame,
                  n_buckets: int = 10, smoothing: float = 5.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per user and per film with the top-N feature groups (:data:`USER_GROUPS`, :data:`ITEM_GROUPS`).

    Parameters
    ----------
    users : pandas.DataFrame
        ``user_id, age, gender, occupation`` (``MovieLens100K.users``).
    items : pandas.DataFrame
        ``item_id, year, genres`` (``MovieLens100K.items``).
    train : pandas.DataFrame
        Training interactions ``user_id, item_id, rating, timestamp``: the only source of
        the temporal and aggregate columns.
    n_buckets : int, default=10
        Quantile buckets (over the training users, or films) of each number.
    smoothing : float, default=5.0
        :math:`m` of the smoothed mean rating :math:`(S + m\\bar r)/(n + m)`
        (:class:`~recfeat_ref.features.TargetEncoder` fitted on all training rows), as
        :class:`~recfeat_ref.features.UserItemAggregates`.

    Returns
    -------
    (user_table, item_table)
        ``user_id`` with ``age_bucket, gender, occupation, first_seen_bucket`` (decile of
        the first training time: the user's cohort), ``activity_bucket`` (training
        count), ``user_mean_bucket`` and the crosses ``age_x_gender,
        occupation_x_gender``; ``item_id`` with ``year_bucket, genres,
        first_rated_bucket, last_rated_bucket, popularity_bucket, item_mean_bucket`` and
        ``decade_x_genres`` (a list per film). Users and films without training rows get
        the bucket ``"unseen"``.

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": [1, 2], "age": [20, 40], "gender": ["F", "M"], "occupation": ["a", "b"]})
    >>> items = pd.DataFrame({"item_id": [5, 6], "year": [1995, 1970], "genres": [["Drama"], []]})
    >>> train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [5, 6, 5], "rating": [5, 3, 4],
    ...                       "timestamp": [0, 10, 20]})
    >>> u, i = entity_tables(users, items, train, n_buckets=2)
    >>> u["age_x_gender"].tolist(), i["decade_x_genres"].tolist()
    (['18-24|F', '35-44|M'], [['1990s|Drama'], []])
    """
    _check_positive_int("n_buckets", n_buckets)
    check_dataframe(users, "entity_tables (users)")
    check_dataframe(items, "entity_tables (items)")
    check_dataframe(train, "entity_tables (train)")
    check_columns(users, ["user_id", "age", "gender", "occupation"], "entity_tables (users)")
    check_columns(items, ["item_id", "year", "genres"], "entity_tables (items)")
    check_columns(train, ["user_id", "item_id", "rating", "timestamp"], "entity_tables (train)")

    def stats(key: str, ids: pd.Series) -> pd.DataFrame:
        g = train.groupby(key)
        s = pd.DataFrame({"count": g.size(), "first": g["timestamp"].min(), "last": g["timestamp"].max()})
        encoder = TargetEncoder(smoothing=smoothing).fit(train[[key]], train["rating"])  # smoothed means
        s["mean"] = pd.Series(encoder.encodings_[0], index=encoder.categories_[0])
        return s.reindex(ids.to_numpy()).astype(float)  # NaN for ids without training rows

    def bucket(values: pd.Series) -> np.ndarray:
        v = values.to_numpy(dtype=float)
        return _buckets(v, [v], n_buckets)[0]

    u = pd.DataFrame({"user_id": users["user_id"].to_numpy()})
    u["age_bucket"] = age_bucket(users["age"]).to_numpy()
    u["gender"] = users["gender"].to_numpy()
    u["occupation"] = users["occupation"].to_numpy()
    su = stats("user_id", users["user_id"])
    u["first_seen_bucket"] = bucket(su["first"])
    u["activity_bucket"] = bucket(su["count"])
    u["user_mean_bucket"] = bucket(su["mean"])
    u["age_x_gender"] = _cross(u["age_bucket"], u["gender"]).to_numpy()
    u["occupation_x_gender"] = _cross(u["occupation"], u["gender"]).to_numpy()

    i = pd.DataFrame({"item_id": items["item_id"].to_numpy()})
    i["year_bucket"] = year_bucket(items["year"]).to_numpy()
    i["genres"] = [list(g) for g in items["genres"]]
    si = stats("item_id", items["item_id"])
    i["first_rated_bucket"] = bucket(si["first"])
    i["last_rated_bucket"] = bucket(si["last"])
    i["popularity_bucket"] = bucket(si["count"])
    i["item_mean_bucket"] = bucket(si["mean"])
    i["decade_x_genres"] = _cross(i["year_bucket"], i["genres"]).to_list()
    return u, i


def paired_deltas(wide: pd.DataFrame, reference: str = "previous", z: float = 2.0) -> pd.DataFrame:
    r"""Gains of each variant over a reference, paired by seed, with a noise verdict.

    Parameters
    ----------
    wide : pandas.DataFrame
        One row per seed (or fold), one column per variant, in order; values are a
        metric where larger is better (negate a loss first).
    reference : str, default="previous"
        ``"previous"``: each column against the column before it (an ablation ladder);
        otherwise the name of the column every other column is compared with.
    z : float, default=2.0
        A mean gain is *within noise* when :math:`|\bar\Delta| \le z\, s_\Delta / \sqrt{S}`,
        no more than ``z`` standard errors from zero over the :math:`S` seeds (so a gain
        of exactly 0 on every seed is within noise).

    Returns
    -------
    pandas.DataFrame
        Index: the compared variants; columns ``delta_mean``, ``delta_std``,
        ``delta_min``, ``delta_max``, ``stderr`` and ``within_noise``.

    Examples
    --------
    >>> wide = pd.DataFrame({"a": [0.70, 0.72, 0.71], "b": [0.75, 0.76, 0.755], "c": [0.751, 0.759, 0.756]})
    >>> paired_deltas(wide)["within_noise"].tolist()
    [False, True]
    """
    check_dataframe(wide, "paired_deltas")
    if len(wide) < 2:
        raise ValueError(f"paired_deltas needs at least 2 seeds (rows), got {len(wide)}")
    if wide.shape[1] < 2:
        raise ValueError("paired_deltas needs at least 2 variants (columns)")
    if reference == "previous":
        d = wide.diff(axis=1).iloc[:, 1:]
    else:
        check_columns(wide, [reference], "paired_deltas")
        d = wide.drop(columns=reference).sub(wide[reference], axis=0)
    stderr = d.std() / np.sqrt(len(d))
    return pd.DataFrame({
        "delta_mean": d.mean(), "delta_std": d.std(), "delta_min": d.min(), "delta_max": d.max(),
        "stderr": stderr, "within_noise": d.mean().abs() <= z * stderr,
    })
