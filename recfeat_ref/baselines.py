r"""Baselines every recommender must beat: the global mean, user and item biases, popularity.

References
----------
Koren (2010), "Factor in the Neighbors: Scalable and Accurate Collaborative Filtering",
ACM TKDD 4(1), section 2.1 (baseline predictors).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_number
from .recommender import Recommender

__all__ = ["GlobalMean", "BiasBaseline", "Popularity"]


class GlobalMean(Recommender):
    r"""Predict the training mean rating :math:`\mu` for every pair (unseen ids included).

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "rating": [4, 2, 3]})
    >>> GlobalMean().fit(train).predict(pd.DataFrame({"user_id": [9], "item_id": [1]}))
    array([3.])
    """

    def _fit(self, users, items, values):
        self.mean_ = float(values.mean())

    def _score_all(self, users):
        return np.full((len(users), self.n_items_), self.mean_)

    def _fallback(self, users, items):
        return np.full(len(users), self.mean_)


class BiasBaseline(Recommender):
    r"""User and item biases around the global mean, regularised, fitted by alternating least squares.

    .. math:: \hat r_{ui} = \mu + b_u + b_i, \qquad
              \min_b \sum_{(u,i)} (r_{ui} - \mu - b_u - b_i)^2 + \lambda_u \sum_u b_u^2 + \lambda_i \sum_i b_i^2

    Each ALS step solves one set of biases in closed form with the other fixed:
    :math:`b_i = \sum_{u \in R(i)} (r_{ui} - \mu - b_u) / (\lambda_i + |R(i)|)`, and symmetrically
    for users (Koren, 2010). Unseen users or items get bias 0, so the fallback is
    :math:`\mu + b_i`, :math:`\mu + b_u` or :math:`\mu`.

    Parameters
    ----------
    reg_user, reg_item : float
        15 and 10: Surprise's defaults for its ALS baseline, tuned on MovieLens.
    n_iter : int
        10 ALS sweeps; the biases change by less than 1e-4 after that on ML-100K.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": [5, 3, 4, 2]})
    >>> BiasBaseline().fit(train).predict(pd.DataFrame({"user_id": [1, 9], "item_id": [1, 9]})).round(3)
    array([3.719, 3.5  ])
    """

    def __init__(self, reg_user: float = 15.0, reg_item: float = 10.0, n_iter: int = 10, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("reg_user", reg_user), ("reg_item", reg_item)):
            check_number(name, value, 0)
        check_number("n_iter", n_iter, 1, integer=True, example=10)
        self.reg_user, self.reg_item, self.n_iter = reg_user, reg_item, n_iter

    def _fit(self, users, items, values):
        self.mean_ = float(values.mean())
        bu, bi = np.zeros(self.n_users_), np.zeros(self.n_items_)
        n_u = np.bincount(users, minlength=self.n_users_)
        n_i = np.bincount(items, minlength=self.n_items_)
        resid = values - self.mean_
        for _ in range(self.n_iter):
            bi = np.bincount(items, weights=resid - bu[users], minlength=self.n_items_) / (self.reg_item + n_i)
            bu = np.bincount(users, weights=resid - bi[items], minlength=self.n_users_) / (self.reg_user + n_u)
        self.user_bias_, self.item_bias_ = bu, bi

    def _score(self, users, items):
        return self.mean_ + self.user_bias_[users] + self.item_bias_[items]

    def _score_all(self, users):
        return self.mean_ + self.user_bias_[users][:, None] + self.item_bias_[None, :]

    def _fallback(self, users, items):
        bu = np.where(users >= 0, self.user_bias_[np.maximum(users, 0)], 0.0)
        bi = np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], 0.0)
        return self.mean_ + bu + bi


class Popularity(Recommender):
    """Score every item by its number of training interactions, the same for every user.

    For rating frames every rating counts as one interaction, whatever its value.
    Unseen users get the same popularity row; unseen items score 0.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": [5, 3, 4, 2]})
    >>> Popularity().fit(train).predict(pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 9]}))
    array([2., 1., 0.])
    """

    target_col = None

    def _fit(self, users, items, values):
        self.counts_ = np.bincount(items, minlength=self.n_items_).astype(np.float64)

    def _score_all(self, users):
        return np.broadcast_to(self.counts_, (len(users), self.n_items_)).copy()

    def _fallback(self, users, items):
        return np.where(items >= 0, self.counts_[np.maximum(items, 0)], 0.0)
