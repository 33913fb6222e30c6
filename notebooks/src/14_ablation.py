# %% [markdown]
# # The ablation: what each feature and each combination is worth
#
# The source article's §2.2 says that feature engineering, selection, transformation and
# combination, matters: 特征工程的质量直接影响到推荐系统的性能和效果 ("the quality of
# feature engineering directly affects the performance and effect of the recommender
# system"); it never says by how much. Its §2.3 and §3.3 add that a large model needs
# none of it: 无需手动进行特征工程 ("no need for manual feature engineering"). The last three
# chapters built the tools: transformers and encoders ({doc}`/notebooks/11_feature_engineering`), embeddings
# from deep models as features ({doc}`/notebooks/12_deep_features`), augmentation
# ({doc}`/notebooks/13_augmentation`). This chapter puts a number on each *group* of features and on
# each way of *combining* them, in one study, on the book's two tasks:
#
# * **click-through**: will the user rate the film 4 or 5? One model, DeepFM
#   {cite}`guo2017deepfm`, measured by test AUC and log loss;
# * **top-N**: which ten films will the user rate next? One model, a hybrid
#   factorisation ranker in the style of LightFM {cite}`kula2015metadata`, trained with
#   BPR {cite}`rendle2009bpr` and measured by test NDCG@10 over the full catalogue.
#
# Each model starts from the ids alone; each group of features is then added *to the
# ids alone*, one group at a time, and finally all groups together, combined in three
# or four ways. Every variant runs on the same three random splits, and every gain is
# judged against the spread over those splits.
#
# **You will learn** how to design an ablation whose differences can be trusted (same
# splits, paired gains, a noise rule decided before looking); which feature groups move
# a click-through model and which move a ranking model, and why they differ; why more
# features can make a model *worse*; and how to read a permutation-importance ranking.

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
# On a CPU the study uses three splits (seeds 0, 1, 2), which is the minimum for a
# spread; on a GPU (`FULL`) five, and LightGCN trains longer. Everything else is
# identical.

# %%
import torch

FULL = torch.cuda.is_available()
SEEDS = (0, 1, 2, 3, 4) if FULL else (0, 1, 2)  # one per-user 8:1:1 split (and model seed) each
RATIOS = (0.8, 0.1, 0.1)  # per-user train / validation / test, chapter 5's top-N protocol
K = 10  # NDCG@K
CTR_EPOCHS = 10  # DeepFM epochs at most (early stopping on validation AUC)
GRAPH_EPOCHS = 100 if FULL else 30  # LightGCN epochs (a fixed budget, as in chapter 12)
TEXT_DIM = 64  # principal components kept of the 384-d MiniLM film vectors
N_REPEATS = 3  # shuffles per field in the permutation importances
RANKER = {"batch_size": 8192, "lr": 1e-2, "patience": 5}  # the ranker's settings (see the top-N section)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm import tqdm

from recfeat_ref import metrics
from recfeat_ref.ablation import (
    CTR_GROUPS,
    ITEM_GROUPS,
    USER_GROUPS,
    ctr_group_columns,
    entity_tables,
    paired_deltas,
)
from recfeat_ref.book import glue
from recfeat_ref.ctr import CTRFeaturizer, add_dense, ctr_frame, fit_ctr, lookup_rows
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.graph import LightGCN
from recfeat_ref.hybrid import EntityFeatures, FeatureRanker
from recfeat_ref.interpret import permutation_importance
from recfeat_ref.neural import DeepFM, DeepFMConfig
from recfeat_ref.recommender import evaluate_topn
from recfeat_ref.splits import ratio_split_by_user
from recfeat_ref.text import encode_items, item_texts

torch.set_num_threads(1)
START = time.process_time()
ml = load_movielens_100k(verbose=False)
frame = ctr_frame(ml)  # one row per rating, label = rating >= 4, with the side columns

# %% [markdown]
# ## The design
#
# **One split per seed, shared by both tasks.** Each seed draws a per-user 8:1:1 split
# of the ratings (`ratio_split_by_user`, chapter 5's top-N protocol). The click-through
# rows are the same ratings with the label $r \ge 4$; the top-N model sees every
# training rating as a positive. Every statistic, encoder, bucket edge and embedding is
# fitted on the training part of that seed; the validation part chooses the epoch; the
# test part is read once per variant.
#
# **The groups.** The ids and six groups of features, shaped for each model:
#
# | group | click-through fields (one per rating) | top-N fields (one per user or film) |
# |---|---|---|
# | ids | user, film | user, film (the model is then BPR-MF) |
# | side | age group, gender, occupation, decade, genres | user: age group, gender, occupation; film: decade, genres |
# | temporal | hour, weekday, deciles of recency and of days since the user's first rating | user: decile of the first training time; film: deciles of the first and last training times |
# | aggregates | deciles of the user's and film's counts and mean ratings (out-of-fold on training rows), and of the user's affinity for the film's genres | user: deciles of count and mean rating; film: deciles of popularity and mean rating |
# | crosses | user × decade, film × age group, film × gender, gender × genres, age group × genres | user: age group × gender, occupation × gender; film: decade × genres |
# | text | MiniLM film vectors (64 principal components) | the same, film side |
# | deep | LightGCN user and film vectors, trained on the training part | the same |
#
# (`recfeat_ref.ablation.CTR_GROUPS`, `USER_GROUPS`, `ITEM_GROUPS`; numbers become
# categories by training deciles, chapter 11's `QuantileBucketizer`.)
#
# **Why each group is added to the ids alone.** An ablation *ladder*, where each group is
# added on top of the previous ones (chapter 11 climbs one), makes a group's gain
# depend on the order: a group that repeats what an earlier one said gains nothing.
# Adding each group to the ids alone measures what it brings over the ids, whatever the
# order; a final "all" variant shows whether the gains add up.
#
# **The noise rule, fixed before the results.** For each seed $s$ the gain of a variant
# is $\Delta_s = m_s(\text{variant}) - m_s(\text{reference})$, paired on the split. Over
# the $S$ seeds a mean gain is *within noise* when
# $|\bar\Delta| \le 2\, s_\Delta / \sqrt{S}$, two standard errors
# (`recfeat_ref.ablation.paired_deltas`). With three seeds this is a coarse rule: it
# flags differences that are clearly real, and calls everything else unresolved rather
# than zero.

# %% [markdown]
# ## Sources shared by the seeds
#
# The film texts do not depend on the split, so their MiniLM vectors
# {cite}`reimers2019sentence,wang2020minilm` are computed once ({doc}`/notebooks/10_transfer`) and
# reduced to their first 64 principal components, which keep
# {glue:text}`text_var_kept:.0f`% of their variance and make both models' projections
# six times cheaper.

# %%
text_full = encode_items(item_texts(ml.items))  # (n_films, 384), unit rows
centred = text_full - text_full.mean(axis=0)
_, sing, vt = np.linalg.svd(centred, full_matrices=False)
text_vectors = (centred @ vt[:TEXT_DIM].T).astype(np.float32)  # (n_films, 64)
text_vectors /= np.sqrt((text_vectors**2).sum(axis=1).mean())  # rows of mean norm 1
glue("text_var_kept", 100 * (sing[:TEXT_DIM] ** 2).sum() / (sing**2).sum())
print(f"{TEXT_DIM} components keep {100 * (sing[:TEXT_DIM] ** 2).sum() / (sing**2).sum():.1f}% of the variance")

# %% [markdown]
# For each seed: the split, the click-through columns of every group, the user and film
# tables of the top-N model, and a LightGCN {cite}`he2020lightgcn` trained on the
# training ratings only ({doc}`/notebooks/07_graph`). LightGCN learns from the same
# training interactions as the downstream models, but not from their label: every
# rating is an edge, whatever its value. Chapter 12 showed that such a source does not
# leak, where one trained on the ratings themselves does.


# %%
def prepare(seed):
    """Everything one seed needs, fitted on its training part only."""
    train, valid, test = ratio_split_by_user(frame, RATIOS, seed=seed)
    ctr_parts = ctr_group_columns(train, [train, valid, test], seed=seed)
    users, items = entity_tables(ml.users, ml.items, train)
    gcn = LightGCN(progress=False, seed=seed, num_epochs=GRAPH_EPOCHS).fit(train[["user_id", "item_id"]])
    return {
        "train": train, "valid": valid, "test": test, "ctr": ctr_parts, "users": users, "items": items,
        "gcn_users": (gcn.user_ids_, gcn.user_embeddings_), "gcn_items": (gcn.item_ids_, gcn.item_embeddings_),
    }


prepared = {seed: prepare(seed) for seed in tqdm(SEEDS, desc="splits")}
first = prepared[SEEDS[0]]
print({name: len(first[name]) for name in ("train", "valid", "test")})

# %% [markdown]
# (ch14-ctr)=
# ## Click-through: DeepFM
#
# The model is chapter 5's DeepFM with its defaults, trained by `fit_ctr` (Adam, early
# stopping on validation AUC). A categorical column is a field with its own
# embedding; genres and the genre crosses are multi-hot fields (the mean of their
# values' embeddings); the text and LightGCN vectors are dense blocks, each projected to
# one field vector ({doc}`/notebooks/12_deep_features`). Ten variants per seed: the ids, the ids plus
# each group, all groups, and all groups under the two other combination methods of
# `DeepFMConfig`: a squeeze-and-excitation gate over the fields
# {cite}`hu2018squeeze,huang2019fibinet` and attention fusion of the dense blocks
# {cite}`vaswani2017attention`.

# %%
DENSE_GROUPS = ("text", "deep")
CTR_VARIANTS = {"ids": (["ids"], {})} | {
    f"+ {g}": (["ids", g], {}) for g in [*list(CTR_GROUPS)[1:], *DENSE_GROUPS]
} | {
    "all": (["ids", *list(CTR_GROUPS)[1:], *DENSE_GROUPS], {}),
    "all, SE gate": (["ids", *list(CTR_GROUPS)[1:], *DENSE_GROUPS], {"field_gate": "senet"}),
    "all, attention": (["ids", *list(CTR_GROUPS)[1:], *DENSE_GROUPS], {"dense_fusion": "attention"}),
}
item_ids = ml.items["item_id"].to_numpy()


def dense_blocks(rows, groups, data):
    """The dense blocks of the groups, looked up for the rows of one part."""
    blocks = []
    if "text" in groups:
        blocks.append(lookup_rows(rows["item_id"], item_ids, text_vectors))
    if "deep" in groups:
        blocks += [lookup_rows(rows["user_id"], *data["gcn_users"]), lookup_rows(rows["item_id"], *data["gcn_items"])]
    return blocks


def ctr_variant(data, groups, options, seed):
    """Encode the groups' fields (fitted on the training rows) and train DeepFM; return the trainer,
    the featurizer and the train / validation / test batches."""
    fields = [c for g in groups if g in CTR_GROUPS for c in CTR_GROUPS[g][0]]
    multi = [c for g in groups if g in CTR_GROUPS for c in CTR_GROUPS[g][1]]
    featurizer = CTRFeaturizer(fields=fields, multi_hot=multi).fit(data["ctr"][0])
    batches = []
    for part in data["ctr"]:
        blocks = dense_blocks(part, groups, data)
        batches.append(add_dense(featurizer.transform(part), *blocks) if blocks else featurizer.transform(part))
    dims = tuple(b.shape[1] for b in dense_blocks(data["ctr"][0].head(1), groups, data))
    config = DeepFMConfig(featurizer.field_dims_, featurizer.multi_dims_, dense_dims=dims, **options)
    trainer = fit_ctr(lambda: DeepFM(config), batches[0], batches[1], num_epochs=CTR_EPOCHS, patience=3, seed=seed)
    return trainer, featurizer, batches


# %%
ctr_rows = []
for seed in tqdm(SEEDS, desc="click-through seeds"):
    for name, (groups, options) in CTR_VARIANTS.items():
        start = time.perf_counter()
        trainer, _, batches = ctr_variant(prepared[seed], groups, options, seed)
        p = trainer.predict(batches[2].inputs).numpy().astype(float)
        y = batches[2].y.numpy()
        ctr_rows.append({"seed": seed, "variant": name, "auc": metrics.roc_auc(y, p),
                         "log_loss": metrics.log_loss(y, p), "epochs": len(trainer.history_),
                         "seconds": time.perf_counter() - start})
ctr_study = pd.DataFrame(ctr_rows)
ctr_table = ctr_study.groupby("variant", sort=False).agg(
    auc_mean=("auc", "mean"), auc_std=("auc", "std"), log_loss_mean=("log_loss", "mean"),
    log_loss_std=("log_loss", "std"), epochs=("epochs", "mean"), seconds=("seconds", "mean"))
ctr_table.round(4)

# %% [markdown]
# The gains, paired by seed: each group against the ids, each combination method
# against plain concatenation ("all").

# %%
auc_wide = ctr_study.pivot(index="seed", columns="variant", values="auc")[list(CTR_VARIANTS)]
ll_wide = ctr_study.pivot(index="seed", columns="variant", values="log_loss")[list(CTR_VARIANTS)]
group_names = [v for v in CTR_VARIANTS if v.startswith("+ ")] + ["all"]
fusion_names = ["all", "all, SE gate", "all, attention"]
ctr_gains = pd.concat([
    paired_deltas(auc_wide[["ids", *group_names]], reference="ids"),
    paired_deltas(auc_wide[fusion_names], reference="all"),
])
ctr_gains["delta_log_loss_mean"] = pd.concat([
    paired_deltas(-ll_wide[["ids", *group_names]], reference="ids"),
    paired_deltas(-ll_wide[fusion_names], reference="all"),
])["delta_mean"].mul(-1)
ctr_gains.round(4)


# %%
def plot_gains(gains, metric, ax):
    """Mean paired gain per variant with a bar of one standard deviation; grey when within noise."""
    colours = ["tab:gray" if w else ("tab:green" if d > 0 else "tab:red")
               for w, d in zip(gains["within_noise"], gains["delta_mean"])]
    ax.barh(gains.index[::-1], gains["delta_mean"][::-1], xerr=gains["delta_std"][::-1], capsize=3,
            color=colours[::-1])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"test {metric} gain (mean over {len(SEEDS)} splits, bar: 1 sd)")


fig, ax = plt.subplots(figsize=(7, 4))
plot_gains(ctr_gains, "AUC", ax)
ax.set_title("DeepFM: groups against the ids, combinations against 'all'\n(grey: within noise, red: a loss)");

# %%
g = ctr_gains
glue("ctr_ids_auc", ctr_table.loc["ids", "auc_mean"])
glue("ctr_ids_auc_sd", ctr_table.loc["ids", "auc_std"])
glue("ctr_all_auc", ctr_table.loc["all", "auc_mean"])
for name in g.index:
    key = name.replace("+ ", "").replace(", ", "_").replace(" ", "_").lower()
    glue(f"ctr_gain_{key}", g.loc[name, "delta_mean"])
    glue(f"ctr_gain_{key}_sd", g.loc[name, "delta_std"])
glue("ctr_seconds", ctr_study["seconds"].sum())
g[["delta_mean", "delta_min", "delta_max", "within_noise"]].round(4)


# %%
def verdicts(gains, names):
    """The names whose gain is a clear gain, a clear loss, or within noise, as text."""
    def join(mask):
        picked = [n.replace("+ ", "").replace("all, sum", "all") for n in names if mask[n]]
        return ", ".join(picked) if picked else "none"
    real = ~gains["within_noise"]
    return (join(real & (gains["delta_mean"] > 0)), join(real & (gains["delta_mean"] < 0)),
            join(gains["within_noise"]))


ctr_up, ctr_down, ctr_flat = verdicts(ctr_gains, group_names)
glue("ctr_up", ctr_up)
glue("ctr_down", ctr_down)
glue("ctr_flat", ctr_flat)
glue("ctr_se_minus_ids", ctr_table.loc["all, SE gate", "auc_mean"] - ctr_table.loc["ids", "auc_mean"])
print("clear gains:", ctr_up, "| clear losses:", ctr_down, "| within noise:", ctr_flat)

# %% [markdown]
# Read the gains, not the absolute AUCs. The ids alone reach {glue:text}`ctr_ids_auc:.4f`
# with a spread of {glue:text}`ctr_ids_auc_sd:.4f` between splits, as large as most
# gains: that is why every gain is paired by split. Clear gains: **{glue:text}`ctr_up`**.
# Clear losses: **{glue:text}`ctr_down`**. Within noise: {glue:text}`ctr_flat`.
#
# * **The largest gain is the LightGCN vectors**, {glue:text}`ctr_gain_deep:+.4f` AUC. A
#   graph model trained on the same training ratings summarises each user's and film's
#   neighbourhood, which DeepFM's own id embeddings have to learn from 80,000 rows. The
#   film texts ({glue:text}`ctr_gain_text:+.4f`) and the side features
#   ({glue:text}`ctr_gain_side:+.4f`) add less: they describe the film and the user, not
#   the taste.
# * **Hand-made crosses lower the AUC** ({glue:text}`ctr_gain_crosses:+.4f`), where
#   crosses were the largest gain of the logistic regression in chapter 11. A linear
#   model cannot multiply two features, so a cross gives it something new. DeepFM
#   multiplies every pair of field embeddings in its FM part and learns more in its MLP,
#   so a cross repeats what it can compute itself. And a cross such as user × decade has
#   thousands of values with a few training rows each, whose embeddings overfit: the
#   "+ crosses" runs stop earlier (column `epochs`). This is DeepFM's own argument
#   against the hand-made crosses of Wide & Deep {cite}`guo2017deepfm`.
# * **The temporal fields lower it too** ({glue:text}`ctr_gain_temporal:+.4f`). Hour,
#   weekday, recency and tenure barely predict liking here (chapter 11 found the
#   temporal group within noise for a linear model), and to DeepFM they are four more
#   fields crossed with every other: more variance, no signal. A feature is not free.
#
# All groups together give {glue:text}`ctr_gain_all:+.4f` over the ids, within noise:
# the gains and the losses measured one at a time do not add up to a better model. The
# combination method matters as much as any group. The squeeze-and-excitation gate,
# which learns one weight per field and row, gains {glue:text}`ctr_gain_all_se_gate:+.4f`
# over plain concatenation of the same fields
# ({glue:text}`ctr_se_minus_ids:+.4f` over the ids): it can turn the harmful fields
# down. Attention fusion, which here only merges the three embedding blocks into one
# vector, changes nothing ({glue:text}`ctr_gain_all_attention:+.4f`).

# %%
assert ctr_gains.loc["+ deep", "delta_mean"] == ctr_gains.loc[group_names, "delta_mean"].max()
assert ctr_gains.loc["+ deep", "delta_min"] > 0 and not ctr_gains.loc["+ deep", "within_noise"]
for name in ("+ crosses", "+ temporal"):  # the two losses the text explains
    assert ctr_gains.loc[name, "delta_max"] < 0 and not ctr_gains.loc[name, "within_noise"], name
assert ctr_gains.loc["all", "within_noise"]
assert ctr_gains.loc["all, SE gate", "delta_min"] > 0 and not ctr_gains.loc["all, SE gate", "within_noise"]
assert ctr_gains.loc["all, attention", "within_noise"]
assert 0.78 < ctr_table.loc["ids", "auc_mean"] < 0.81  # chapter 5's DeepFM range on this task

# %% [markdown]
# (ch14-topn)=
# ## Top-N: a hybrid factorisation ranker
#
# A ranking model must score *every* film for a user, so its features cannot be
# properties of a (user, film) pair, such as the hour of a rating or a user × film
# cross: they must describe the user alone or the film alone. The ranker
# (`recfeat_ref.hybrid.FeatureRanker`) builds each user vector and each film vector from
# field vectors, $p_u = \sum_f e^U_f(u)$ and $q_i = \sum_f e^I_f(i)$, scores
# $\hat x_{ui} = p_u^\top q_i + b_i$ with $b_i$ a sum of one learned scalar per field,
# and is trained with BPR and uniform negatives, with BPR-MF's settings:
#
# $$
# \hat x_{ui} = \Big(\sum_{f} e^U_f(u)\Big)^{\!\top}\Big(\sum_{g} e^I_g(i)\Big) + b_i
# = \sum_{f, g} \big\langle e^U_f(u), e^I_g(i) \big\rangle + b_i .
# $$ (eq-ablation-hybrid)
#
# The right-hand side shows two things {cite}`kula2015metadata,rendle2010factorization`.
# With the id field alone the model *is* BPR-MF (the package's tests check that its
# tables and loss are BPR-MF's). And every user field already meets every film field in an inner product, as
# in a factorisation machine: the only crosses worth adding by hand are those *within*
# one side (age group × gender; decade × genres).
#
# The combination methods are the sum above, concatenation followed by a learned
# projection, a squeeze-and-excitation gate before the sum, and attention pooling of the
# field vectors (`fusion=`).
#
# Two settings differ from BPR-MF's (`RANKER`). Each training step computes the vector
# of every user and every film, so an epoch costs per *step*: batches of 8,192 with
# twice the step size halve the steps, at a small cost in validation NDCG@10 paid by
# every variant alike. And early stopping waits five evaluations (25 epochs) instead of
# three: one validation ranking is noisy from one evaluation to the next, and with three
# a variant often stopped on a lucky evaluation long before its plateau, which added
# that luck to the gains. The docstring of `FeatureRankerConfig`
# gives the measurements behind both (`benchmarks/bench_hybrid.py`).

# %%
TOPN_GROUPS = ["side", "temporal", "aggregates", "crosses"]
TOPN_VARIANTS = {"ids": ([], {})} | {f"+ {g}": ([g], {}) for g in [*TOPN_GROUPS, *DENSE_GROUPS]} | {
    f"all, {fusion}": ([*TOPN_GROUPS, *DENSE_GROUPS], {"fusion": fusion})
    for fusion in ("sum", "concat", "senet", "attention")
}


def entity_features(data, groups):
    """The user and film feature tables of the groups (None for a side without fields)."""
    user_fields = [c for g in groups if g in USER_GROUPS for c in USER_GROUPS[g]]
    item_fields = [c for g in groups if g in ITEM_GROUPS for c in ITEM_GROUPS[g]]
    users, items = data["users"], data["items"]
    user_dense, item_dense = {}, {}
    if "text" in groups:
        item_dense["text"] = lookup_rows(items["item_id"], item_ids, text_vectors)
    if "deep" in groups:
        user_dense["lightgcn"] = lookup_rows(users["user_id"], *data["gcn_users"])
        item_dense["lightgcn"] = lookup_rows(items["item_id"], *data["gcn_items"])
    multi = [c for c in item_fields if isinstance(items[c].iloc[0], list)]
    u = EntityFeatures(users, "user_id", categorical=user_fields, dense=user_dense) if user_fields or user_dense else None
    i = EntityFeatures(items, "item_id", categorical=[c for c in item_fields if c not in multi], multi_hot=multi,
                       dense=item_dense) if item_fields or item_dense else None
    return u, i


# %%
topn_rows, rankers = [], {}
for seed in tqdm(SEEDS, desc="top-N seeds"):
    data = prepared[seed]
    seen = pd.concat([data["train"], data["valid"]])
    for name, (groups, options) in TOPN_VARIANTS.items():
        start = time.perf_counter()
        user_feats, item_feats = entity_features(data, groups)
        model = FeatureRanker(user_feats, item_feats, progress=False, seed=seed, **RANKER, **options)
        model.fit(data["train"], data["valid"])
        report = evaluate_topn(model, seen, data["test"], k=K)
        topn_rows.append({"seed": seed, "variant": name, "ndcg": report["ndcg_at_k"],
                          "recall": report["recall_at_k"], "best_epoch": model.best_epoch_,
                          "seconds": time.perf_counter() - start})
        if seed == SEEDS[0]:
            rankers[name] = model
topn_study = pd.DataFrame(topn_rows)
topn_table = topn_study.groupby("variant", sort=False).agg(
    ndcg_mean=("ndcg", "mean"), ndcg_std=("ndcg", "std"), recall_mean=("recall", "mean"),
    best_epoch=("best_epoch", "mean"), seconds=("seconds", "mean"))
topn_table.round(4)

# %%
ndcg_wide = topn_study.pivot(index="seed", columns="variant", values="ndcg")[list(TOPN_VARIANTS)]
topn_group_names = [v for v in TOPN_VARIANTS if v.startswith("+ ")] + ["all, sum"]
topn_fusions = ["all, sum", "all, concat", "all, senet", "all, attention"]
topn_gains = pd.concat([
    paired_deltas(ndcg_wide[["ids", *topn_group_names]], reference="ids"),
    paired_deltas(ndcg_wide[topn_fusions], reference="all, sum"),
])
topn_gains.round(4)

# %%
fig, ax = plt.subplots(figsize=(7, 4))
plot_gains(topn_gains, f"NDCG@{K}", ax)
ax.set_title("Hybrid ranker: groups against the ids, combinations against the sum\n(grey: within noise, red: a loss)");

# %%
for name in topn_gains.index:
    key = name.replace("+ ", "").replace("all, ", "all_").replace(" ", "_").lower()
    glue(f"topn_gain_{key}", topn_gains.loc[name, "delta_mean"])
    glue(f"topn_gain_{key}_sd", topn_gains.loc[name, "delta_std"])
glue("topn_ids_ndcg", topn_table.loc["ids", "ndcg_mean"])
glue("topn_ids_ndcg_sd", topn_table.loc["ids", "ndcg_std"])
glue("topn_seconds", topn_study["seconds"].sum())
topn_gains[["delta_mean", "delta_min", "delta_max", "within_noise"]].round(4)

# %%
glue("min_train_ratings", first["train"].groupby("user_id").size().min())
topn_up, topn_down, topn_flat = verdicts(topn_gains, topn_group_names)
glue("topn_up", topn_up)
glue("topn_down", topn_down)
glue("topn_flat", topn_flat)
print("clear gains:", topn_up, "| clear losses:", topn_down, "| within noise:", topn_flat)

# %% [markdown]
# The ids alone reach NDCG@10 {glue:text}`topn_ids_ndcg:.4f` (spread
# {glue:text}`topn_ids_ndcg_sd:.4f` between splits), BPR-MF's level in chapter 5, as
# {eq}`eq-ablation-hybrid` says they should. **No group of features is a clear
# gain for the ranker.** Clear gains: {glue:text}`topn_up`; clear losses:
# {glue:text}`topn_down`; within noise: {glue:text}`topn_flat`. Every mean gain is
# smaller than 0.01 in size.
#
# Why so little, where DeepFM gained from side, text and graph features? Because every
# user and nearly every film here is *warm*. Every user has at least
# {glue:text}`min_train_ratings:.0f` training ratings (ML-100K keeps users with 20 or
# more); for such a user, and for a film rated by dozens, the id
# vector can learn everything a feature says and more. The click-through model is in a
# different position: it must tell which of the films a user *did* rate were liked, a
# finer question, and its id embeddings get at most 10 epochs to learn; the graph
# vectors hand it each user's and film's neighbourhood ready-made.
# Features earn their place in a ranking where the ids know little: chapter 10's cold
# films, which the text vectors took from chance to a useful NDCG@10. Exercise 2 shows
# the other side of the coin: on their own, without the ids, the features carry little
# of the taste that the ids learn.
#
# The text vectors are even a small loss on every split
# ({glue:text}`topn_gain_text:+.4f`): their projection adds $64 \times 65$ parameters
# learned from the same interactions, to say what the film's id already knows.
#
# All groups summed give {glue:text}`topn_gain_all_sum:+.4f` against the ids, within
# noise. Among the combination methods, concatenation with a learned projection gains
# {glue:text}`topn_gain_all_concat:+.4f` over the sum, small but positive on every
# split; the squeeze-and-excitation gate ({glue:text}`topn_gain_all_senet:+.4f`) and
# attention pooling ({glue:text}`topn_gain_all_attention:+.4f`) have larger means but
# spreads as large as the means, at up to three times the cost of the sum (column
# `seconds`). Three splits cannot rank them; exercise 3 shows how many splits a gain
# this small would need.

# %%
glue("topn_deep_min", topn_gains.loc["+ deep", "delta_min"])
glue("topn_deep_max", topn_gains.loc["+ deep", "delta_max"])
groups_only = topn_gains.loc[topn_group_names]
assert abs(topn_table.loc["ids", "ndcg_mean"] - 0.30) < 0.02  # BPR-MF on this protocol: 0.305 (chapter 5)
assert (groups_only["delta_mean"].abs() < 0.01).all(), "every mean gain is below 0.01"
assert not ((groups_only["delta_mean"] > 0) & ~groups_only["within_noise"]).any(), "no clear gain"
assert topn_gains.loc["+ text", "delta_max"] < 0, "the text vectors lose on every split"
assert topn_gains.loc["all, sum", "within_noise"]
assert topn_gains.loc["all, concat", "delta_min"] > 0 and not topn_gains.loc["all, concat", "within_noise"]
assert topn_gains.loc["all, senet", "within_noise"] and topn_gains.loc["all, attention", "within_noise"]

# %% [markdown]
# ## Which features does each model use?
#
# An ablation says what a group adds when it is *added*; permutation importance
# {cite}`breiman2001random` says what a trained model *uses*: shuffle one field's values
# across rows (across users, or across films, for the ranker), keep the weights, and
# measure how much the test metric drops. We ask the "all" models of the first split.
# A field can matter to a model and still add nothing over the ids, when the ids
# could have carried the same information.

# %%
data = prepared[SEEDS[0]]
groups_all, _ = CTR_VARIANTS["all"]
trainer, featurizer, batches = ctr_variant(data, groups_all, {}, SEEDS[0])
test_batch = batches[2]
field_groups = {f: ("cat", slice(k, k + 1)) for k, f in enumerate(featurizer.fields)}
start = 0
for col, width in zip(featurizer.multi_hot, featurizer.multi_dims_):
    field_groups[col] = ("multi", slice(start, start + width))
    start += width
for name, width in zip(["text", "lightgcn user", "lightgcn film"], (TEXT_DIM, 64, 64)):
    field_groups[name] = ("multi", slice(start, start + width))
    start += width
assert start == test_batch.x_multi.shape[1]
ctr_importance = permutation_importance(
    lambda xc, xm: trainer.predict((xc, xm)).numpy().astype(float), test_batch.x_cat, test_batch.x_multi,
    test_batch.y.numpy(), field_groups, metrics.roc_auc, n_repeats=N_REPEATS, seed=0)
ctr_importance.round(4).head(10)

# %%
ranker = rankers["all, sum"]
topn_importance = ranker.permutation_importance(pd.concat([data["train"], data["valid"]]), data["test"],
                                                n_repeats=N_REPEATS, seed=0)
topn_importance.round(4).head(10)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
for ax, imp, title in ((axes[0], ctr_importance, "DeepFM, test AUC drop"),
                       (axes[1], topn_importance, f"hybrid ranker, test NDCG@{K} drop")):
    top = imp.head(12)[::-1]
    ax.barh(top.index, top["importance_mean"], xerr=top["importance_std"], color="tab:blue")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title(title)
fig.tight_layout()

# %%
glue("ctr_top_field", ctr_importance.index[0])
glue("ctr_top_drop", ctr_importance["importance_mean"].iloc[0])
glue("topn_top_field", topn_importance.index[0])
glue("topn_top_drop", topn_importance["importance_mean"].iloc[0])

# %% [markdown]
# Both models lean hardest on the LightGCN vectors: shuffling the film vectors costs
# DeepFM {glue:text}`ctr_top_drop:.4f` AUC, and shuffling the films' LightGCN field costs
# the ranker {glue:text}`topn_top_drop:.4f` NDCG@10, the largest drop of each panel. Yet
# for the ranker the ablation found the LightGCN group within noise. Both are right.
# Importance says what *this trained model* uses; the ablation says what the group adds
# *over the ids*. With the LightGCN vectors present, the ranker carries through them the
# taste its id vectors would otherwise hold, so shuffling them hurts; without them the
# ids learn the same. Reading an importance ranking as the value of a feature is the
# trap; the article's §9.4 lists 特征重要性分析 ("feature-importance analysis") as an aid
# to interpretability, and {doc}`/notebooks/15_interpretability` shows what it can and
# cannot say.
#
# The rest of each ranking is informative. For DeepFM, after the graph vectors come the
# user's mean rating decile and the user id: whether a user likes a film depends first
# on how generous the user is. For the ranker, after the graph vectors come the ids and
# the film's popularity decile: which films get rated depends first on which film it is
# and how popular it is.

# %%
assert ctr_importance.index[0] == "lightgcn film" and topn_importance.index[0] == "items: lightgcn"
assert (ctr_importance["importance_mean"].iloc[:5] > 0).all()

# %% [markdown]
# ## Exercises
#
# 1. Climb chapter 11's *ladder* with DeepFM on the first split: add the groups one on
#    top of the other in the order side, text, deep, aggregates, temporal, crosses. Does
#    each group's gain on the ladder match its gain over the ids alone? What does the
#    difference say about reporting a ladder?
# 2. Train the ranker on the features alone: every group except the LightGCN vectors
#    (which are learned id vectors under another name), without the id fields
#    (`user_ids=False, item_ids=False`), on the first split. How far below the ids alone
#    does it land? What does that say about why the groups add so little over the ids?
# 3. If the side group's top-N gain kept its measured mean and standard deviation, how
#    many splits would the two-standard-error rule need to call it real?
#
# :::{admonition} Solutions
# :class: dropdown
# The cells below run all three. (1) On a ladder each gain is measured over everything
# added before, so a group that repeats an earlier one gains less there than over the
# ids alone, and a harmful group's loss depends on what it is added to: a ladder's
# numbers are answers to a question that depends on the order, and should be reported
# with the order. (2) The features alone reach {glue:text}`features_only_ndcg:.4f`,
# against {glue:text}`ids_first_ndcg:.4f` for the ids alone on the same split: only a
# little above what popularity alone reaches in chapter 5. Age group, gender,
# occupation, decade, genres, popularity and the title mostly say which films are
# popular with which *kind* of user; what separates two users of the same kind is in
# the ids (and in the LightGCN vectors, which are learned from them). That is why the
# groups add so little to the ids here, and why they matter for users and films the
# ids do not know (chapter 10's cold-start experiment). (3) The rule needs
# $|\bar\Delta| > 2 s_\Delta/\sqrt{S}$, that is $S > (2 s_\Delta/\bar\Delta)^2$:
# {glue:text}`side_splits_needed:,.0f` splits for the side group. A gain that small is
# rarely worth a feature pipeline in a warm catalogue.
# :::

# %%
ladder = ["ids", "side", "text", "deep", "aggregates", "temporal", "crosses"]
ladder_auc = {}
for k in range(1, len(ladder) + 1):
    trainer, _, batches = ctr_variant(data, ladder[:k], {}, SEEDS[0])
    p = trainer.predict(batches[2].inputs).numpy().astype(float)
    ladder_auc[ladder[k - 1]] = metrics.roc_auc(batches[2].y.numpy(), p)
ladder_gain = pd.Series(ladder_auc).diff().iloc[1:]
alone_gain = auc_wide.loc[SEEDS[0]].sub(auc_wide.loc[SEEDS[0], "ids"])
pd.DataFrame({"gain on the ladder": ladder_gain,
              "gain over the ids alone": [alone_gain[f"+ {g}"] for g in ladder_gain.index]}).round(4)

# %%
seen0 = pd.concat([data["train"], data["valid"]])
content_groups = [*TOPN_GROUPS, "text"]  # every group but the LightGCN vectors
user_feats, item_feats = entity_features(data, content_groups)
features_only = FeatureRanker(user_feats, item_feats, progress=False, seed=SEEDS[0], user_ids=False,
                              item_ids=False, **RANKER).fit(data["train"], data["valid"])
features_only_ndcg = evaluate_topn(features_only, seen0, data["test"], k=K)["ndcg_at_k"]
glue("features_only_ndcg", features_only_ndcg)
glue("ids_first_ndcg", ndcg_wide.loc[SEEDS[0], "ids"])
print(f"features only: NDCG@{K} {features_only_ndcg:.4f}; ids only: {ndcg_wide.loc[SEEDS[0], 'ids']:.4f}")
assert 0.145 < features_only_ndcg < ndcg_wide.loc[SEEDS[0], "ids"]

# %%
mean, sd = topn_gains.loc["+ side", ["delta_mean", "delta_std"]]
glue("side_splits_needed", (2 * sd / abs(mean)) ** 2)
print(f"splits needed: {(2 * sd / abs(mean)) ** 2:,.0f}")

# %%
print(f"CPU time of this notebook: {time.process_time() - START:.0f} s")
