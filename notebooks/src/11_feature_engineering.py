# %% [markdown]
# # Feature engineering: selection, transformation, combination
#
# The source article's §2.2 (特征工程, "Feature engineering") lists feature engineering as
# *selection* (特征选择: keep the features that matter), *transformation* (特征转换: reshape
# them so a model can use them) and *combination* (特征组合: build new features from
# several); its §3.2 (step 1) adds the preprocessing done before a large model is applied:
# *cleaning*, *normalisation* and *augmentation* (数据清洗、数据归一化和数据增强). This
# chapter does each step on MovieLens-100K under the
# click-through protocol of the recommenders chapter: every rating is an impression, the
# label is "liked" ($r \ge 4$), and the rows are split 80/10/10 at random with
# `recfeat_ref.ctr.ctr_split`. Every transformer comes from `recfeat_ref.features`, every
# selection method from `recfeat_ref.selection`; both are tested against scikit-learn
# {cite}`pedregosa2011scikit`.
#
# **You will learn** how to compress a long-tailed count, bucket a number and encode a
# category with an out-of-vocabulary slot, a hash or its mean label; why a statistic of
# the label must be computed out-of-fold, and how much a leaky one flatters a validation
# score; how much each group of features (ids, side information, time, aggregates,
# crosses) adds, measured with a spread over seeds; and how four selection methods
# agree and disagree.

# %%
# Set-up on Google Colab only: install recfeat_ref from the book's repository.
import sys

if "google.colab" in sys.modules:
    import subprocess

    REPO_URL = "https://github.com/recfeat/recfeat"  # synced from _config.yml
    pip_install = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip_install, f"recfeat-ref @ git+{REPO_URL}"], check=True)

# %% [markdown]
# ## Parameters
#
# On a GPU machine (`FULL`) the study runs over five seeds instead of three and the
# permutation importances with more repeats; nothing here needs the GPU itself, it only
# marks a machine with time to spare.

# %%
import torch

FULL = torch.cuda.is_available()
SEEDS = (0, 1, 2, 3, 4) if FULL else (0, 1, 2)  # splits of the feature-group study
N_REPEATS = 10 if FULL else 5  # permutation-importance shuffles per feature
HASH_DIM = 2**18  # columns of each hashed block
C_GRID = (0.1, 0.3, 1.0)  # inverse L2 strength of the logistic regression, chosen on validation

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from recfeat_ref.ablation import paired_deltas
from recfeat_ref.book import glue
from recfeat_ref.ctr import ctr_frame, ctr_split
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.features import (
    HashingEncoder,
    Log1pTransformer,
    OrdinalEncoder,
    QuantileBucketizer,
    RobustScaler,
    TargetEncoder,
    TemporalFeatures,
    UserItemAggregates,
)
from recfeat_ref.preprocessing import clean_interactions
from recfeat_ref.selection import selection_report

torch.set_num_threads(1)
ml = load_movielens_100k(verbose=False)
frame = ctr_frame(ml)
train, valid, test = ctr_split(frame, seed=0)
y_train, y_valid, y_test = (part["label"].to_numpy() for part in (train, valid, test))
frame.head(3)

# %% [markdown]
# ## Cleaning
#
# Cleaning comes first because every later statistic inherits its errors: a repeated
# (user, film) pair counts twice in a popularity, an impossible rating shifts a mean.
# `clean_interactions` applies the rules of the pipeline chapter (missing ids or
# ratings, ratings outside 1-5, repeated pairs) and counts what each removes.

# %%
clean, clean_report = clean_interactions(
    ml.ratings, rating_col="rating", rating_range=(1, 5), timestamp_col="timestamp"
)
glue("n_cleaned", clean_report["n_input"] - clean_report["n_output"])
pd.Series(clean_report)

# %% [markdown]
# MovieLens-100K is already clean ({glue:text}`n_cleaned:.0f` rows removed); the step
# stays in the pipeline because the next data set will not be.

# %%
assert clean_report["n_output"] == len(ml.ratings)

# %% [markdown]
# (ch11-scaling)=
# ## Transformation and normalisation of numbers
#
# Everything below is *fitted on the training rows only* and then applied unchanged to
# validation and test rows, the scikit-learn contract. The first numeric feature is a
# film's popularity: its number of training ratings, one of the aggregates of
# `UserItemAggregates`.

# %%
agg = UserItemAggregates().fit(train)
agg_names = list(agg.get_feature_names_out())
film_count = agg.item_counts_.to_frame("item_count")  # one row per film
log_count = Log1pTransformer().fit_transform(film_count)
skew_raw, skew_log = film_count["item_count"].skew(), pd.Series(log_count.ravel()).skew()
glue("skew_raw", skew_raw)
glue("skew_log", skew_log)
pd.Series({"skewness of item_count": skew_raw, "after log1p": skew_log}).round(3)

# %% [markdown]
# Over the films, the count is long-tailed (skewness {glue:text}`skew_raw:.2f`): a few
# films have hundreds of ratings, most a handful, and a model that takes the count raw
# sees mostly the head. $x' = \log(1 + x)$ turns ratios into differences (10 against
# 100 ratings is as far apart as 100 against 1,000) and brings the skewness to
# {glue:text}`skew_log:.2f`.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
axes[0].hist(film_count["item_count"], bins=50, color="tab:blue")
axes[0].set(title="training ratings per film", xlabel="item_count", ylabel="films")
axes[1].hist(log_count.ravel(), bins=50, color="tab:orange")
axes[1].set(title="after log1p", xlabel="log(1 + item_count)")
fig.tight_layout();

# %%
assert skew_raw > 1.5 and abs(skew_log) < 0.5

# %% [markdown]
# **Normalisation.** Standardisation, $z = (x - \mu)/\sigma$, uses the mean and the
# standard deviation, both pulled by the few blockbusters; the robust scaler uses the
# median and the inter-quartile range, $z = (x - \mathrm{med})/(Q_{75} - Q_{25})$, which
# the tail cannot move. Min-max scaling, $z = (x - \min)/(\max - \min)$, maps the
# training range onto $[0, 1]$; its two statistics are the extremes, so one film decides
# the scale of all the others. The table shows the three on the raw count of each
# training row's film (a row per rating, the input a model sees), and what each makes of
# the median row's film. (The lesson here is what each statistic is, not how to compute it, so
# standard and min-max scaling are scikit-learn's; `RobustScaler` is ours, tested
# against scikit-learn's.)

# %%
item_count = pd.DataFrame(agg.transform(train), columns=agg_names, index=train.index)[["item_count"]]
robust = RobustScaler().fit(item_count)
standard = StandardScaler().fit(item_count)
min_max = MinMaxScaler().fit(item_count)
extremes = item_count.agg(["median", "max"])  # the median and the most rated film
scalers = {"RobustScaler (median, IQR)": robust, "StandardScaler (mean, sd)": standard,
           "MinMaxScaler (min, max)": min_max}
scaling = pd.DataFrame(
    {
        "z of the median row's film": [sc.transform(extremes)[0, 0] for sc in scalers.values()],
        "z of the most rated film": [sc.transform(extremes)[1, 0] for sc in scalers.values()],
    },
    index=list(scalers),
)
scaling.round(3)

# %%
glue("minmax_median", scaling.loc["MinMaxScaler (min, max)", "z of the median row's film"])
assert scaling.loc["MinMaxScaler (min, max)", "z of the most rated film"] == 1.0
assert 0 < scaling.loc["MinMaxScaler (min, max)", "z of the median row's film"] < 0.5

# %% [markdown]
# Min-max scaling puts the median row's film at {glue:text}`minmax_median:.3f` and the
# most rated film at exactly 1: it keeps the skew of the count as it is, one film sets
# the top of the range, and a count above the training maximum would fall outside
# $[0, 1]$. For a long-tailed count, compress it first (log1p) or bucket it.

# %% [markdown]
# **Bucketing.** `QuantileBucketizer` replaces the count by its training decile, so each
# bucket holds a tenth of the rows and a linear model gets one weight per bucket: any
# shape of the relation, not only a straight line. The like-rate per bucket shows the
# shape it would learn: popular films are liked more often, steeply at first.

# %%
buckets = QuantileBucketizer(n_bins=10).fit(item_count)
like_rate = pd.Series(y_train).groupby(buckets.transform(item_count).ravel()).mean()
like_rate.index.name = "popularity decile"
like_rate.rename("like rate").round(3).to_frame().transpose()

# %%
assert like_rate.iloc[-1] > like_rate.iloc[0]

# %% [markdown]
# (ch11-categories)=
# ## Transformation of categories
#
# **Codes with an out-of-vocabulary slot.** `OrdinalEncoder` gives the training values
# of a column the codes $1..K$ and every other value code 0, the row of an embedding
# table that stands for "unknown". With `min_count`, rare training values are pooled into
# that slot too, so it is trained rather than left random.

# %%
ordinal = OrdinalEncoder(min_count=5).fit(train[["user_id", "item_id"]])
codes_valid = ordinal.transform(valid[["user_id", "item_id"]])
oov_share = (codes_valid == 0).mean(axis=0)
glue("oov_items", 100 * oov_share[1])
pd.Series(oov_share, index=["user_id", "item_id"], name="validation rows in the OOV slot")

# %% [markdown]
# {glue:text}`oov_items:.1f`% of the validation rows have a film with fewer than five
# training ratings; they share one learned vector instead of a noisy one each.
#
# **Hashing.** `HashingEncoder` maps each token `"column=value"` to one of $B$ columns by
# a stable hash (MurmurHash3, not Python's salted `hash`), with a random sign so that
# colliding tokens cancel on average {cite}`weinberger2009feature`. No vocabulary is
# stored, unseen values need no special case, and the memory is fixed. The price is
# collisions, which we can count:

# %%
side_cols = ["user_id", "item_id", "age_bucket", "gender", "occupation", "year_bucket", "genres"]
hashed = HashingEncoder(n_features=HASH_DIM).fit_transform(train[side_cols])
n_tokens = sum(train[c].explode().nunique() for c in side_cols)
n_used = hashed.getnnz(axis=0).astype(bool).sum()
glue("n_tokens", n_tokens)
glue("n_collided", n_tokens - n_used)
pd.Series({"distinct training tokens": n_tokens, "columns they use": n_used})

# %% [markdown]
# {glue:text}`n_tokens:,.0f` distinct training tokens land in all but
# {glue:text}`n_collided:.0f` distinct columns: at $2^{18}$ columns collisions are
# negligible here. They matter for crosses, which multiply the number of tokens.
#
# **Target encoding.** Replace a category $c$ by the smoothed mean label of its training
# rows {cite}`micci2001preprocessing`,
#
# $$
# \mathrm{TE}(c) = \frac{S_c + m\,\bar y}{n_c + m},
# $$ (eq-fe-te)
#
# where $n_c$ rows with labels summing to $S_c$ are pulled towards the overall rate
# $\bar y$ with the weight of $m$ rows. One number per row replaces a 1,682-column
# one-hot block. But $S_c$ contains the row's own label, which is the subject of the
# next section.
#
# ## Leakage: the target encoder that sees the answer
#
# Leakage is information in the features that would not be available when the model is
# used {cite}`kaufman2012leakage`. A target encoding has two ways to leak:
#
# * *in-sample*: fitted on the training rows and used as a feature of those same rows,
#   each row's encoding contains its own label (for a film with ten training ratings, a
#   tenth of the feature *is* the answer). The model learns to trust the feature too
#   much.
# * *fitted on all rows*: the validation rows' labels go into the statistics, so the
#   validation score measures memory. This is the one that inflates the score you read.
#
# The honest version encodes each training row with statistics of the other folds
# (`fit_transform`, five folds) and new rows with the training statistics (`transform`).
# We compare the three with a logistic regression on the encoded user and film, and do
# the same for the mean ratings of `UserItemAggregates` (a mean rating is a target
# encoding of the rating, and the label is a function of the rating).

# %%
def fit_scaled_lr(features_train):
    """Logistic regression on standardised features, fitted on the training labels."""
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(features_train, y_train)


def auc_of(features_train, features_eval, y_eval_list):
    """AUC on each evaluation part of a model fitted on ``features_train``."""
    model = fit_scaled_lr(features_train)
    return [roc_auc_score(y, model.predict_proba(X)[:, 1]) for X, y in zip(features_eval, y_eval_list)]


def leakage_rows(make, columns, target_of, keep=slice(None)):
    """Honest (out-of-fold), in-sample and fitted-on-train+valid versions of one encoder.

    ``keep`` selects the output columns the model sees.
    """
    seen = pd.concat([train, valid])
    honest = make().fit(train[columns], target_of(train))
    oof = make().fit_transform(train[columns], target_of(train))
    leaky = make().fit(seen[columns], target_of(seen))
    versions = {
        "honest (out-of-fold on train)": (oof, honest),
        "in-sample (fit on train, used on train)": (honest.transform(train[columns]), honest),
        "leaky (fit on train + valid)": (leaky.transform(train[columns]), leaky),
    }
    rows = {}
    for name, (X_train, enc) in versions.items():
        X_train = X_train[:, keep]
        X_valid, X_test = enc.transform(valid[columns])[:, keep], enc.transform(test[columns])[:, keep]
        model = fit_scaled_lr(X_train)
        p_train, p_valid, p_test = (model.predict_proba(X)[:, 1] for X in (X_train, X_valid, X_test))
        rows[name] = {
            "train AUC": roc_auc_score(y_train, p_train),
            "valid AUC": roc_auc_score(y_valid, p_valid),
            "valid log loss": log_loss(y_valid, p_valid),
            "test AUC": roc_auc_score(y_test, p_test),
        }
    return rows


target_rows = leakage_rows(lambda: TargetEncoder(), ["user_id", "item_id"], lambda d: d["label"])
mean_rows = leakage_rows(
    lambda: UserItemAggregates(genre_col=None),
    ["user_id", "item_id", "rating"],
    lambda d: None,
    keep=slice(3, 5),  # user_mean_rating, item_mean_rating
)
leakage = pd.concat(
    {
        "target encoding of user, film": pd.DataFrame(target_rows).T,
        "mean rating of user, film": pd.DataFrame(mean_rows).T,
    }
)
leakage.round(4)

# %%
te_honest, te_leaky = leakage.loc["target encoding of user, film"].iloc[[0, 2]]["valid AUC"]
mr_honest, mr_leaky = leakage.loc["mean rating of user, film"].iloc[[0, 2]]["valid AUC"]
te_leaky_test = leakage.loc["target encoding of user, film"].iloc[2]["test AUC"]
glue("te_honest", te_honest)
glue("te_leaky", te_leaky)
glue("te_leaky_test", te_leaky_test)
glue("mr_honest", mr_honest)
glue("mr_leaky", mr_leaky)
glue("te_honest_test", leakage.loc["target encoding of user, film"].iloc[0]["test AUC"])
glue("te_insample_train", leakage.loc["target encoding of user, film"].iloc[1]["train AUC"])
glue("te_honest_train", leakage.loc["target encoding of user, film"].iloc[0]["train AUC"])
glue("te_insample_ll", leakage.loc["target encoding of user, film"].iloc[1]["valid log loss"])
glue("te_honest_ll", leakage.loc["target encoding of user, film"].iloc[0]["valid log loss"])

# %% [markdown]
# The leaky encoder reports a validation AUC of {glue:text}`te_leaky:.4f` against
# {glue:text}`te_honest:.4f` for the honest one, a gain larger than anything the feature
# groups below will bring. On the untouched test rows the leaky model scores
# {glue:text}`te_leaky_test:.4f`, no better than the honest one
# ({glue:text}`te_honest_test:.4f`): the extra validation AUC was memory of the
# validation labels. The leaky mean ratings tell the same story
# ({glue:text}`mr_leaky:.4f` against {glue:text}`mr_honest:.4f`), and the leaky rows'
# validation log loss is flattered too. The in-sample version fails differently: its
# training AUC ({glue:text}`te_insample_train:.4f` against
# {glue:text}`te_honest_train:.4f`) is flattered by each row's own label. Here that costs
# nothing measurable on new rows (validation log loss {glue:text}`te_insample_ll:.4f`
# against {glue:text}`te_honest_ll:.4f`): with two features and 80,000 rows, the
# encodings of users and films with many ratings barely change out of fold. The cost
# grows with rare categories, weak smoothing and flexible models, which is why the
# out-of-fold rule is the default rather than a judgement call (exercise 1).

# %%
for block in ("target encoding of user, film", "mean rating of user, film"):
    rows = leakage.loc[block]
    honest_row, insample_row, leaky_row = rows.iloc[0], rows.iloc[1], rows.iloc[2]
    assert leaky_row["valid AUC"] > honest_row["valid AUC"] + 0.01, "leakage must inflate validation"
    assert leaky_row["test AUC"] < honest_row["test AUC"] + 0.003, "and buy nothing on the test rows"
    assert insample_row["train AUC"] > honest_row["train AUC"]
    assert leaky_row["valid log loss"] < honest_row["valid log loss"]
    assert abs(insample_row["valid log loss"] - honest_row["valid log loss"]) < 0.002

# %% [markdown]
# The package's tests pin the other half of the contract: an encoder fitted on training
# rows gives a test row the same output whatever the other test rows contain (their
# labels, their number, their users).
#
# ## Time and aggregates
#
# `TemporalFeatures` reads the unix timestamp: hour and weekday (UTC: the users' time
# zones are unknown), recency (days before the last training rating) and the user's age
# on the site (days since their first training rating). Users rate differently over
# their life on the site: the like-rate by age on the site, in quantile buckets, shows
# it.

# %%
temporal = TemporalFeatures().fit(train)
time_train = pd.DataFrame(temporal.transform(train), columns=temporal.get_feature_names_out())
user_age_bucket = QuantileBucketizer(n_bins=5).fit_transform(time_train[["user_age_days"]]).ravel()
pd.DataFrame(
    {
        "like rate": pd.Series(y_train).groupby(user_age_bucket).mean(),
        "median days on site": time_train["user_age_days"].groupby(user_age_bucket).median(),
    }
).rename_axis("user-age quintile").round(3).transpose()

# %%
first_day_share = (time_train["user_age_days"] < 1).mean()
like_by_quintile = pd.Series(y_train).groupby(user_age_bucket).mean()
glue("first_day_pct", 100 * first_day_share)
glue("like_first_quintile", like_by_quintile.iloc[0])
glue("like_last_quintile", like_by_quintile.iloc[-1])
assert like_by_quintile.iloc[0] > like_by_quintile.iloc[-1] and first_day_share > 0.5

# %% [markdown]
# {glue:text}`first_day_pct:.0f`% of the training ratings were made within a day of the
# user's first one: MovieLens users rate most of their films in their first session.
# The like-rate falls from {glue:text}`like_first_quintile:.3f` in the earliest fifth of
# the rows to {glue:text}`like_last_quintile:.3f` in the latest, plausibly because
# people start with the films they remember liking.
#
# `UserItemAggregates` adds counts, popularity, smoothed mean ratings (out-of-fold on
# the training rows), the user's share of each genre in their history, and the
# *user-genre affinity* of the row's film: the mean share, in the user's history, of
# the film's genres. A user or film unseen in training gets documented defaults (count 0,
# the global mean rating, the global genre shares). Here are the aggregates of three
# validation rows:

# %%
agg_valid = pd.DataFrame(agg.transform(valid), columns=agg_names, index=valid.index)
agg_valid[["user_count", "item_count", "user_mean_rating", "item_mean_rating", "user_genre_affinity"]].head(3).round(3)

# %% [markdown]
# ## Combination: crosses
#
# A linear model adds the effects of its features; it cannot learn that *this* user
# likes dramas unless the product "user = 42 and genre = Drama" is a feature of its own.
# Wide & Deep calls such products *cross-product transformations* and hashes them
# {cite}`cheng2016wide`. `HashingEncoder(crosses=...)` builds the tokens
# `"user_id=42&genres=Drama"` for every genre of the row's film. The crosses we use:

# %%
CROSSES = [
    ("user_id", "genres"),
    ("user_id", "year_bucket"),
    ("item_id", "age_bucket"),
    ("item_id", "gender"),
    ("occupation", "genres"),
    ("age_bucket", "genres"),
    ("gender", "genres"),
]
cross_cols = sorted({c for cross in CROSSES for c in cross})
crossed = HashingEncoder(n_features=HASH_DIM, crosses=CROSSES, keep_columns=False).fit_transform(train[cross_cols])
(crossed.shape, int(crossed.getnnz(axis=0).astype(bool).sum()))

# %% [markdown]
# ## Which groups of features help? A study over seeds
#
# Now the question that the article's §2.2 leaves without a number: it says that
# 特征工程的质量直接影响到推荐系统的性能和效果 ("the quality of feature engineering directly
# affects the performance and effect of the recommender system"), but not by how much.
# A fast model, logistic regression, gets the feature groups one after another:
#
# 1. **ids**: hashed user and film ids;
# 2. **+ side**: age bucket, gender, occupation, release decade, genres (hashed);
# 3. **+ temporal**: hour and weekday (one-hot), signed-log recency and user age
#    (standardised);
# 4. **+ aggregates**: all of `UserItemAggregates` (counts and popularity log-compressed,
#    then standardised; mean ratings out-of-fold);
# 5. **+ crosses**: the hashed crosses above.
#
# Each seed draws a new 80/10/10 split; every encoder is refitted on its training part.
# The inverse regularisation strength $C$ of each group is chosen on the *validation*
# part of seed 0; AUC and log loss are reported on the *test* parts. Hashed columns that
# no training row uses are dropped before fitting: their weight would be 0 under the L2
# penalty anyway, and the fit runs several times faster.

# %%
GROUPS = ["ids", "+ side", "+ temporal", "+ aggregates", "+ crosses"]


def feature_blocks(train_part, parts):
    """One block of features per group, fitted on ``train_part``, for each frame in ``parts``."""

    def hashed(cols, **kw):
        enc = HashingEncoder(n_features=HASH_DIM, **kw).fit(train_part[cols])
        return [enc.transform(p[cols]) for p in parts]

    time_enc = TemporalFeatures().fit(train_part)
    times = [time_enc.transform(p) for p in parts]
    one_hot = OneHotEncoder(handle_unknown="ignore").fit(times[0][:, :2])
    scale_t = make_pipeline(Log1pTransformer(signed=True), StandardScaler()).fit(times[0][:, 2:])
    aggregates = UserItemAggregates()
    aggs = [aggregates.fit_transform(train_part)] + [aggregates.transform(p) for p in parts[1:]]
    aggs = [np.column_stack([np.log1p(a[:, :3]), a[:, 3:]]) for a in aggs]  # counts, popularity
    scale_a = StandardScaler().fit(aggs[0])
    return {
        "ids": hashed(["user_id", "item_id"]),
        "+ side": hashed(["age_bucket", "gender", "occupation", "year_bucket", "genres"]),
        "+ temporal": [sp.hstack([one_hot.transform(t[:, :2]), scale_t.transform(t[:, 2:])]) for t in times],
        "+ aggregates": [sp.csr_matrix(scale_a.transform(a)) for a in aggs],
        "+ crosses": hashed(cross_cols, crosses=CROSSES, keep_columns=False),
    }


def group_matrices(blocks, upto):
    """Stack the blocks of the first ``upto`` groups; drop columns no training row uses."""
    mats = [sp.hstack([blocks[g][k] for g in GROUPS[:upto]]).tocsr() for k in range(len(blocks["ids"]))]
    used = np.flatnonzero(mats[0].getnnz(axis=0))
    return [m[:, used] for m in mats]


def fit_lr(X, y, C):
    return LogisticRegression(C=C, max_iter=2000).fit(X, y)

# %% [markdown]
# First, $C$ per group on the validation part of seed 0:

# %%
blocks0 = feature_blocks(train, [train, valid])
c_search = {}
for g in range(1, len(GROUPS) + 1):
    X_tr, X_va = group_matrices(blocks0, g)
    c_search[GROUPS[g - 1]] = {
        C: roc_auc_score(y_valid, fit_lr(X_tr, y_train, C).predict_proba(X_va)[:, 1]) for C in C_GRID
    }
c_table = pd.DataFrame(c_search).T.rename(columns=lambda c: f"C={c}")
best_c = {g: C_GRID[int(np.argmax(row))] for g, row in zip(GROUPS, c_table.to_numpy())}
c_table.round(4)

# %% [markdown]
# Then the study itself, on the test parts of every seed:

# %%
study = []
for seed in SEEDS:
    tr, va, te = ctr_split(frame, seed=seed)
    blocks = feature_blocks(tr, [tr, te])
    for g in range(1, len(GROUPS) + 1):
        X_tr, X_te = group_matrices(blocks, g)
        p = fit_lr(X_tr, tr["label"].to_numpy(), best_c[GROUPS[g - 1]]).predict_proba(X_te)[:, 1]
        study.append(
            {"seed": seed, "group": GROUPS[g - 1], "auc": roc_auc_score(te["label"], p), "log_loss": log_loss(te["label"], p)}
        )
study = pd.DataFrame(study)
study_table = study.groupby("group", sort=False).agg(
    auc_mean=("auc", "mean"), auc_std=("auc", "std"), log_loss_mean=("log_loss", "mean"), log_loss_std=("log_loss", "std")
)
study_table.round(4)

# %% [markdown]
# The spread across seeds (the `std` columns) is mostly the split: some test parts are
# easier than others for *every* group. The fair comparison is therefore paired: the
# gain of each group over the one before it, *on the same seed*. We call a gain within
# noise when its mean is no more than two standard errors from zero,
# $|\bar\Delta| \le 2\, s_\Delta/\sqrt{S}$ over the $S$ seeds
# (`recfeat_ref.ablation.paired_deltas`).

# %%
auc_wide = study.pivot(index="seed", columns="group", values="auc")[GROUPS]
ll_wide = study.pivot(index="seed", columns="group", values="log_loss")[GROUPS]
gains = paired_deltas(auc_wide)  # each group against the one before it, seed by seed
deltas = pd.DataFrame(
    {
        "delta_auc_mean": gains["delta_mean"],
        "delta_auc_std": gains["delta_std"],
        "delta_auc_min": gains["delta_min"],
        "delta_log_loss_mean": -paired_deltas(-ll_wide)["delta_mean"],
        "within_noise": gains["within_noise"],
    }
)
deltas.round(4)

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(deltas.index, deltas["delta_auc_mean"], yerr=deltas["delta_auc_std"], capsize=4,
       color=["tab:gray" if w else "tab:green" for w in deltas["within_noise"]])
ax.axhline(0, color="black", lw=0.8)
ax.set_ylabel("test AUC gain over the previous group")
ax.set_title(f"Mean over {len(SEEDS)} seeds (bars: one sd; grey: within noise)");

# %%
noise = deltas["within_noise"]
glue("ids_auc", study_table.loc["ids", "auc_mean"])
glue("all_auc", study_table.loc["+ crosses", "auc_mean"])
glue("gain_side", deltas.loc["+ side", "delta_auc_mean"])
glue("gain_temporal", deltas.loc["+ temporal", "delta_auc_mean"])
glue("gain_aggregates", deltas.loc["+ aggregates", "delta_auc_mean"])
glue("gain_crosses", deltas.loc["+ crosses", "delta_auc_mean"])
glue("gain_crosses_sd", deltas.loc["+ crosses", "delta_auc_std"])
glue("n_seeds", len(SEEDS))
noise.to_frame()

# %% [markdown]
# Read the deltas, not the absolute numbers. From ids alone (test AUC
# {glue:text}`ids_auc:.4f`) to every group ({glue:text}`all_auc:.4f`): the aggregates add
# {glue:text}`gain_aggregates:.4f` and the crosses {glue:text}`gain_crosses:.4f`
# ($\pm$ {glue:text}`gain_crosses_sd:.4f` over {glue:text}`n_seeds:.0f` seeds), both
# positive on every seed and far outside the noise. The side features add
# {glue:text}`gain_side:.4f`, small but positive on every seed: once the user and film
# ids are in, a user's age group and a film's decade say little that the ids do not. The
# temporal block adds {glue:text}`gain_temporal:.4f`, the smallest gain and the only one
# within noise: with a random split, when a rating was made says little about whether
# it is positive that the user's id does not already say. The crosses help the most because a linear model
# cannot make them itself: a deep model such as DeepFM or DCN-v2 learns such products
# from embeddings, which is the book's next step.

# %%
assert deltas.loc["+ aggregates", "delta_auc_min"] > 0 and not noise["+ aggregates"]
assert deltas.loc["+ crosses", "delta_auc_min"] > 0 and not noise["+ crosses"]
assert noise["+ temporal"] and not noise["+ side"]
assert te_leaky - te_honest > deltas["delta_auc_mean"].max(), "the text compares the leak with the group gains"
assert 0.74 < study_table.loc["ids", "auc_mean"] < study_table.loc["+ crosses", "auc_mean"] < 0.82

# %% [markdown]
# ## Selection
#
# Selection asks which of the engineered features matter; four methods answer four
# different questions {cite}`guyon2003introduction`:
#
# * **correlation** with the label, Pearson's $r$ (for a 0/1 label the point-biserial
#   correlation): a linear relation, one feature at a time;
# * **mutual information** $I(x; y) = \sum p(x, y) \log \frac{p(x, y)}{p(x)p(y)}$,
#   estimated by nearest neighbours {cite}`kraskov2004estimating`: any relation, one
#   feature at a time;
# * **permutation importance**: the drop in validation AUC of a fitted model when the
#   feature's values are shuffled across rows {cite}`breiman2001random`, what the model
#   actually *uses*, given all the other features;
# * **L1 selection**: the features that keep a non-zero weight in a logistic regression
#   with an L1 penalty $\frac{1}{C}\lVert w \rVert_1$ {cite}`tibshirani1996regression`,
#   which tends to keep one of several redundant features.
#
# They need a dense table of numeric features: the target-encoded categories (out-of-fold
# on the training rows), the aggregates and the temporal features, fitted on the seed-0
# training part.

# %%
CATS = ["user_id", "item_id", "occupation", "age_bucket", "gender", "year_bucket"]


def dense_features(parts):
    """Target encodings, aggregates and time features of each frame; fitted on ``train``."""
    te_enc, agg_enc, time_enc = TargetEncoder(), UserItemAggregates(), TemporalFeatures().fit(train)
    tables = []
    for k, part in enumerate(parts):
        te_block = te_enc.fit_transform(train[CATS], y_train) if k == 0 else te_enc.transform(part[CATS])
        agg_block = agg_enc.fit_transform(train) if k == 0 else agg_enc.transform(part)
        tables.append(
            pd.DataFrame(
                np.column_stack([te_block, agg_block, time_enc.transform(part)]),
                columns=[*te_enc.get_feature_names_out(), *agg_enc.get_feature_names_out(),
                         *time_enc.get_feature_names_out()],
                index=part.index,
            )
        )
    return tables


D_train, D_valid = dense_features([train, valid])
print(D_train.shape)

# %%
report = selection_report(D_train, y_train, D_valid, y_valid, n_repeats=N_REPEATS, seed=0)
report.round(4).head(12)

# %%
top = report.sort_values("perm_importance").tail(15)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
axes[0].barh(top.index, top["perm_importance"], xerr=top["perm_importance_std"], color="tab:blue")
axes[0].set_xlabel("permutation importance (validation AUC drop)")
axes[1].barh(top.index, top["mutual_info"], color="tab:orange", label="mutual information (nats)")
axes[1].barh(top.index, top["abs_r"], color="none", edgecolor="black", label="|Pearson r|")
axes[1].set_xlabel("on the training rows")
axes[1].legend(loc="lower right")
fig.suptitle("The 15 features the model uses most")
fig.tight_layout();

# %%
n_l1 = int(report["l1_selected"].sum())
selected = report.index[report["l1_selected"]].tolist()
auc_all = auc_of(D_train, [D_valid], [y_valid])[0]
auc_sel = auc_of(D_train[selected], [D_valid[selected]], [y_valid])[0]
top_perm = report["perm_importance"].idxmax()
glue("n_dense", D_train.shape[1])
glue("n_l1", n_l1)
glue("auc_all_dense", auc_all)
glue("auc_l1_dense", auc_sel)
glue("rank_corr_mi_perm", report[["rank_mi", "rank_perm"]].corr(method="spearman").iloc[0, 1])
glue("mi_recency_rank", report.loc["recency_days", "rank_mi"])
pd.Series({"L1-selected features": n_l1, "valid AUC, all": auc_all, "valid AUC, L1-selected": auc_sel}).round(4)

# %% [markdown]
# The methods agree at the top: the films' and users' mean ratings and target
# encodings take four of the top five places in every ranking. Below them they
# disagree, and the disagreements are the lesson.
#
# * One feature at a time, the user's target encoding, mean rating and genre shares all
#   look informative, though they repeat each other; permutation importance, which
#   shuffles one feature while the model keeps the others, gives the redundant copy
#   little (`item_id_te` against `item_mean_rating`). The rank correlation of the
#   mutual-information and permutation rankings is only
#   {glue:text}`rank_corr_mi_perm:.2f`.
# * Mutual information ranks `recency_days` near the top
#   ({glue:text}`mi_recency_rank:.0f` of {glue:text}`n_dense:.0f`) while the model uses
#   none of it. MovieLens users rate most of their films in a few sessions, so the exact
#   time nearly identifies the user, and the nearest-neighbour estimator finds the user's
#   taste through it; a linear model cannot.
# * The L1 penalty keeps {glue:text}`n_l1:.0f` of the {glue:text}`n_dense:.0f` features,
#   and the model refitted on them alone reaches a validation AUC of
#   {glue:text}`auc_l1_dense:.4f` against {glue:text}`auc_all_dense:.4f` with all of
#   them: selection here buys a smaller model, not a better one.

# %%
assert report.attrs["baseline_score"] > 0.75
leaders = ["item_mean_rating", "item_id_te", "user_mean_rating", "user_id_te"]
for rank in ("rank_r", "rank_mi", "rank_perm", "rank_l1"):
    assert (report.loc[leaders, rank] <= 5).all(), rank
assert top_perm in {"user_id_te", "item_id_te", "user_mean_rating", "item_mean_rating"}
assert 0 < n_l1 < D_train.shape[1]
assert abs(auc_sel - auc_all) < 0.005
assert report.loc["recency_days", "rank_mi"] <= 5 and report.loc["recency_days", "perm_importance"] < 0.002

# %% [markdown]
# ## Augmentation
#
# The article's §3.2 (step 1) augments data 通过旋转、缩放、裁剪等操作 ("by rotating,
# scaling, cropping and similar operations"). Those make new *images* that keep their
# label; they have no meaning for a table of ratings. Interaction data has its
# own augmentations (dropping or reordering items of a history, sampling negatives),
# which another chapter of the book builds.
#
# ## Summary
#
# * Clean first; then fit every transformer on the training rows only and apply it
#   unchanged to the others.
# * Long-tailed counts want $\log(1+x)$ or quantile buckets; a robust scaler is not
#   moved by the tail; categories want an out-of-vocabulary slot, a hash, or a
#   target encoding.
# * A statistic of the label must be computed out-of-fold on the training rows; fitted on
#   the validation rows too, it inflates the validation score by several points, and the
#   test rows expose it.
# * On MovieLens with a linear model, aggregates and crosses add clearly more than their
#   spread over seeds; side features and time add little once the ids are in.
# * Selection methods answer different questions: one-feature-at-a-time scores rank
#   redundant features high, a model-based score does not.
#
# ## Exercises
#
# 1. Rerun the leakage table with the target encoder's smoothing $m = 0$ and
#    $m = 1000$. How does the gap between the leaky and the honest validation AUC
#    change, and why?
# 2. Add the cross `("user_id", "item_id")` to `CROSSES`. What does it encode, and why
#    can it not help on the test rows of a split where each (user, film) pair appears
#    once?
# 3. Replace the logistic regression of the selection section by
#    `sklearn.ensemble.HistGradientBoostingClassifier` and recompute the permutation
#    importances. Which features move up, and what does a tree model do that a linear
#    one cannot?
#
# :::{admonition} Solutions
# :class: dropdown
# (1) With $m = 0$ a film rated once is encoded by its one label, so the leaky encoder
# memorises more and the gap grows; with $m = 1000$ every encoding is pulled to the
# overall rate, the features carry little, and both the leak and the honest signal
# shrink. The in-sample version stays level with the honest one on validation AUC in
# both cases: a linear model on two features can only reweight them. Its harm shows
# with flexible models, which can single out the rare categories whose in-sample
# encoding is their own label. The code below prints all three. (2) The cross is a token per (user, film) pair;
# with one rating per pair, a pair in a test row never occurs in training, so its
# hashed column has no weight (only collisions give it one): it can only add noise.
# (3) Left to the reader (the call is `permutation_importance(model, D_valid, y_valid)`
# from `recfeat_ref.selection`). A tree model splits on a feature's value ranges and
# combines features, so raw counts and time features, which the linear model uses
# only through a straight line, typically gain.
# :::

# %%
for m in (0.0, 1000.0):
    rows = leakage_rows(lambda m=m: TargetEncoder(smoothing=m), ["user_id", "item_id"], lambda d: d["label"])
    honest_valid = rows["honest (out-of-fold on train)"]["valid AUC"]
    insample_valid = rows["in-sample (fit on train, used on train)"]["valid AUC"]
    leaky_valid = rows["leaky (fit on train + valid)"]["valid AUC"]
    print(f"m = {m:4.0f}: valid AUC honest {honest_valid:.4f}, in-sample {insample_valid:.4f}, "
          f"leaky {leaky_valid:.4f} (gap {leaky_valid - honest_valid:.4f})")
