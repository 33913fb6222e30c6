"""Synthetic behaviour logs in the article's schema, with planted preferences.

The article's running example (its section 4.3) is an e-commerce log of user id,
item id and behaviour type (browse, purchase, rate) "and so on"; its code reads
``user_id``, ``item_id`` and ``behavior``. This module generates that schema, with
two additions of its own: a ``cart`` behaviour and a ``timestamp``. No public log has exactly that
schema, so this module *generates* one, clearly labelled synthetic
(``df.attrs["synthetic"] is True``), with a known ground truth that a model
can be checked against.

The generative story
--------------------
With :math:`k` latent factors, users and items get factor vectors

.. math::

    p_u \\sim \\mathcal{N}(0, k^{-1/2} I_k), \\qquad
    q_i \\sim \\mathcal{N}(0, k^{-1/2} I_k), \\qquad
    a_{ui} = p_u^\\top q_i ,

so the affinity :math:`a_{ui}` has variance about 1 whatever :math:`k`
(each of the :math:`k` products has variance :math:`k^{-1}`). Then each
*session*

1. picks a user with probability proportional to a log-normal activity level
   (a few heavy users, many light ones);
2. picks an item with probability :math:`\\propto \\exp(a_{ui})` (a softmax
   over the user's affinities);
3. walks down the funnel view -> cart -> purchase -> rate, taking each next
   step with probability :math:`\\sigma(b_s + w_s z_{ui})`, where
   :math:`z_{ui}` is the affinity standardised over all pairs and
   :math:`b_s, w_s` are the stage's bias and weight (:data:`FUNNEL`);
4. logs one event per step reached, a few minutes apart (rate about a day
   later), sessions of a user separated by about a day.

Sessions are drawn until ``n_events`` events exist; the last session may be
cut short (as at the end of any observation window). Deeper behaviours thus
mark higher affinity: a model can learn something real.

An event log, not a rating matrix: the same (user, item) pair may appear in
several sessions and a session emits several rows for one pair, so
(user_id, item_id) is *not* unique.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from . import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from ._validation import check_random_state

__all__ = ["BEHAVIORS", "FUNNEL", "BehaviorTruth", "make_behavior_data"]

#: The funnel, shallow to deep; the ``behavior`` column is an ordered categorical.
BEHAVIORS: tuple[str, ...] = ("view", "cart", "purchase", "rate")

#: (bias, weight) of the logit of going one stage deeper, for cart, purchase,
#: rate. Items are drawn for their affinity (their mean z is about 1.4), so
#: the biases sit well below zero: at the default sizes about 1 view in 3
#: leads to a cart, 2 carts in 5 to a purchase and half the purchases to a
#: rating, i.e. roughly 66 % views, 21 % carts, 8 % purchases, 4 % ratings,
#: narrowing like a real e-commerce funnel. A weight of 1 to 1.5 per standard
#: deviation of affinity makes depth clearly, but not perfectly, predictable.
FUNNEL: tuple[tuple[float, float], ...] = ((-2.5, 1.5), (-2.5, 1.0), (-2.5, 1.0))

#: Log-normal sigma of user activity: the busiest users log a few times more.
ACTIVITY_SIGMA = 0.75
#: 2024-01-01 00:00:00 UTC: users start within 30 days of it.
START_UNIX = 1_704_067_200
START_SPREAD_S = 30 * 86_400
#: Mean seconds between a user's sessions (a day), between funnel steps
#: (five minutes) and between a purchase and its rating (a day).
SESSION_GAP_S, STEP_GAP_S, RATE_GAP_S = 86_400.0, 300.0, 86_400.0


@dataclasses.dataclass(frozen=True, eq=False)
class BehaviorTruth:
    """The planted ground truth behind :func:`make_behavior_data`.

    Attributes
    ----------
    user_factors : numpy.ndarray, shape (n_users, n_factors)
        :math:`P`, row ``u`` for ``user_id == u``.
    item_factors : numpy.ndarray, shape (n_items, n_factors)
        :math:`Q`, row ``i`` for ``item_id == i``.
    affinity : numpy.ndarray, shape (n_users, n_items)
        :math:`A = P Q^\\top`; ``affinity[u, i]`` is the true affinity.

    Examples
    --------
    >>> df, truth = make_behavior_data(n_users=5, n_items=7, n_events=50, n_factors=2, return_truth=True)
    >>> truth.user_factors.shape, truth.item_factors.shape, truth.affinity.shape
    ((5, 2), (7, 2), (5, 7))
    >>> bool(np.allclose(truth.affinity, truth.user_factors @ truth.item_factors.T))
    True
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    affinity: np.ndarray


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def make_behavior_data(
    n_users: int = 200,
    n_items: int = 300,
    n_events: int = 10_000,
    n_factors: int = 4,
    seed: int | np.random.Generator | None = 0,
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, BehaviorTruth]:
    """Generate a synthetic e-commerce event log with planted preferences.

    Parameters
    ----------
    n_users, n_items : int
        Numbers of users and items; ids run over ``0 .. n - 1`` and index the
        rows of the ground-truth matrices.
    n_events : int
        Exact number of rows.
    n_factors : int
        Latent dimension :math:`k` of the planted preferences.
    seed : int, numpy.random.Generator or None
        Seeds a fresh :class:`numpy.random.Generator`; global RNG state is
        never touched. The same int gives the same frame.
    return_truth : bool
        Also return the :class:`BehaviorTruth`.

    Returns
    -------
    df : pandas.DataFrame
        ``user_id`` (int64), ``item_id`` (int64), ``behavior`` (ordered
        categorical over :data:`BEHAVIORS`), ``timestamp`` (int64 unix
        seconds), sorted by time; each user's timestamps strictly increase.
        ``df.attrs["synthetic"]`` is True and ``df.attrs["description"]``
        says how it was made. (user_id, item_id) pairs repeat: it is a log.
    truth : BehaviorTruth
        Only when ``return_truth`` is True.

    Raises
    ------
    ValueError
        A size is not a positive int (the message names it).

    Examples
    --------
    >>> df, truth = make_behavior_data(n_events=1_000, seed=1, return_truth=True)
    >>> len(df), truth.affinity.shape
    (1000, (200, 300))
    >>> df.attrs["synthetic"]
    True
    """
    n_users = _check_positive_int(n_users, "n_users")
    n_items = _check_positive_int(n_items, "n_items")
    n_events = _check_positive_int(n_events, "n_events")
    n_factors = _check_positive_int(n_factors, "n_factors")
    rng = check_random_state(seed)
    # Shapes: U users, I items, k factors, S sessions, E events (rows).

    scale = n_factors**-0.25  # so that each affinity has variance about 1
    user_factors = rng.normal(0.0, scale, size=(n_users, n_factors))  # (U, k)
    item_factors = rng.normal(0.0, scale, size=(n_items, n_factors))  # (I, k)
    affinity = user_factors @ item_factors.T  # (U, I)
    z = (affinity - affinity.mean()) / (affinity.std() or 1.0)  # (U, I), standardised

    # 1. Sessions: each emits at least one event, so n_events sessions suffice.
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, size=n_users)  # (U,)
    session_user = rng.choice(n_users, size=n_events, p=activity / activity.sum())  # (S,)

    # 2. Items, from the softmax of each user's affinities.
    session_item = np.empty(n_events, dtype=np.int64)  # (S,)
    by_user = np.argsort(session_user, kind="stable")  # session indices grouped by user
    users, counts = np.unique(session_user[by_user], return_counts=True)
    for u, rows in zip(users, np.split(by_user, np.cumsum(counts)[:-1])):
        p = np.exp(affinity[u] - affinity[u].max())  # softmax, shifted for stability
        session_item[rows] = rng.choice(n_items, size=len(rows), p=p / p.sum())

    # 3. Funnel depth: 0 = view only, ..., 3 = rated.
    zs = z[session_user, session_item]  # (S,)
    depth = np.zeros(n_events, dtype=np.int64)  # (S,)
    go_on = np.ones(n_events, dtype=bool)
    for bias, weight in FUNNEL:
        p_next = 1.0 / (1.0 + np.exp(-(bias + weight * zs)))
        go_on &= rng.random(n_events) < p_next
        depth += go_on

    # Keep the first sessions that reach n_events events; cut the last one short.
    ends = np.cumsum(depth + 1)  # (S,) events up to and including each session
    n_sessions = int(np.searchsorted(ends, n_events) + 1)
    depth = depth[:n_sessions].copy()
    depth[-1] -= ends[n_sessions - 1] - n_events
    session_user, session_item = session_user[:n_sessions], session_item[:n_sessions]

    # 4. Timestamps: within a session, step gaps; rate comes about a day later.
    n_steps = depth + 1  # (S,)
    session_of = np.repeat(np.arange(n_sessions), n_steps)  # (E,)
    first = np.cumsum(n_steps) - n_steps  # (S,) row of each session's view
    step = np.arange(n_events) - np.repeat(first, n_steps)  # (E,) 0 = view, ..., 3 = rate
    gap = 1 + rng.exponential(np.where(step == 3, RATE_GAP_S, STEP_GAP_S))  # (E,)
    gap[step == 0] = 0
    offset = pd.Series(gap).groupby(session_of).cumsum().to_numpy()  # (E,) within session
    duration = offset[first + n_steps - 1]  # (S,) seconds from the view to the last step
    # Sessions of one user follow one another: start = user start + earlier sessions.
    spacing = duration + 1 + rng.exponential(SESSION_GAP_S, size=n_sessions)  # (S,)
    before = pd.Series(spacing).groupby(session_user).cumsum().to_numpy() - spacing
    user_start = START_UNIX + rng.integers(0, START_SPREAD_S, size=n_users)  # (U,)
    session_start = user_start[session_user] + before  # (S,)
    timestamp = np.floor(session_start[session_of] + offset).astype(np.int64)  # (E,)

    df = pd.DataFrame(
        {
            DEFAULT_USER_COL: session_user[session_of].astype(np.int64),
            DEFAULT_ITEM_COL: session_item[session_of].astype(np.int64),
            "behavior": pd.Categorical.from_codes(step, categories=list(BEHAVIORS), ordered=True),
            DEFAULT_TIMESTAMP_COL: timestamp,
        }
    )
    df = df.sort_values([DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL], kind="stable", ignore_index=True)
    df.attrs["synthetic"] = True
    df.attrs["description"] = (
        "SYNTHETIC data, not real user behaviour: generated by "
        f"recfeat_ref.synthetic.make_behavior_data(n_users={n_users}, n_items={n_items}, "
        f"n_events={n_events}, n_factors={n_factors}, seed={seed!r}). Items are drawn "
        "with probability proportional to exp(user_factors @ item_factors.T) and deeper "
        "behaviours (cart, purchase, rate) are likelier for higher affinity."
    )
    if return_truth:
        return df, BehaviorTruth(user_factors, item_factors, affinity)
    return df
