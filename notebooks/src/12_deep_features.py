# %% [markdown]
# # Features from deep models
#
# The article's central claim is that large (deep) models *learn* the features that
# hand-made feature engineering used to supply: §2.3 says 大模型通过端到端的学习方式，自动从数据中学习出有效的特征表示，无需手动进行特征工程
# ("large models learn end to end, automatically learning effective feature
# representations from data, with no need for manual feature engineering"), where §1
# says 传统推荐系统往往依赖于手工程序提取特征 ("traditional recommenders often rely on
# hand-written procedures to extract features"). The previous chapters trained those
# models one by one: matrix factorisation and an autoencoder (chapter 5), a graph
# network, a sequence model and a pretrained language model (the chapters on deep
# feature extraction). Each ends with a table of vectors: one per user, one per film.
#
# This chapter uses those vectors the way an industrial pipeline does: as **input
# features of another model**. The downstream model is the click-through model of
# chapter 5, DeepFM {cite}`guo2017deepfm`, on the same task (will the user rate the film
# 4 or 5?). We add the vectors of one source at a time and measure what each adds to
# the AUC, with the spread over repeated training runs.
#
# **You will learn** how a learned embedding becomes a feature (and how a feature
# model crosses it with the others); why each embedding model must be trained on the
# downstream model's *training* rows only; and how to tell a real gain from noise when
# the gains are small.

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
# On a GPU the notebook uses three random 80/10/10 splits (chapter 5's seeds) and
# trains every source longer. On a CPU it keeps to a budget of a few minutes: one split,
# whose sources are trained once, and three DeepFM seeds on it, so the spread measures
# the noise of training but not that of the split.

# %%
import torch

FULL = torch.cuda.is_available()  # full-size path on a GPU
SPLITS = (0, 1, 2) if FULL else (0,)  # random 80/10/10 splits (chapter 5's seeds)
MODEL_SEEDS = (0, 1, 2)  # DeepFM seeds per split
MAX_EPOCHS = 30 if FULL else 10  # DeepFM epochs (early stopping on validation AUC)
AUTOREC_EPOCHS = 100 if FULL else 60  # I-AutoRec full-batch steps (its validation RMSE is flat from 60)
GRAPH_EPOCHS = 200 if FULL else 30  # LightGCN epochs (no validation: a fixed budget)
SEQ_EPOCHS = 100 if FULL else 5  # SASRec epochs

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recfeat_ref import metrics
from recfeat_ref.autoencoders import IAutoRec
from recfeat_ref.book import glue
from recfeat_ref.ctr import (
    CTRFeaturizer,
    add_dense,
    ctr_frame,
    ctr_split,
    fit_ctr,
    lookup_rows,
)
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.graph import LightGCN
from recfeat_ref.mf import MFRecommender
from recfeat_ref.neural import DeepFM, DeepFMConfig
from recfeat_ref.sequential import SASRec
from recfeat_ref.text import encode_items, item_texts

ml = load_movielens_100k(verbose=False)
frame = ctr_frame(ml)  # one row per rating, label = rating >= 4, with side features

# %% [markdown]
# ## From a table of vectors to a feature
#
# A source gives a matrix whose row $j$ is the vector of user (or film) $j$. For a
# click-through row $(u, i)$ we look up $u$'s row and $i$'s row and append them to the
# row's features (`recfeat_ref.ctr.lookup_rows`, `add_dense`). Inside DeepFM a dense
# block $x \in \mathbb{R}^d$ becomes one more *field*: a linear term $w^\top x$, and a
# field vector $e = W^\top x \in \mathbb{R}^D$ with a learned $d \times D$ projection
# $W$. The FM part then crosses $e$ with every other field through inner products,
#
# $$
# \hat y = \sigma\Big(w_0 + \sum_f w_f^\top x_f + \sum_{f < g} \langle e_f, e_g\rangle
# + \mathrm{MLP}([e_1; \dots; e_M])\Big),
# $$ (eq-deepfeat-deepfm)
#
# exactly as it crosses a categorical field's embedding {cite}`rendle2010factorization,guo2017deepfm`.
# Users or films that a source never saw get a zero vector, which contributes nothing.
#
# **The leakage rule.** An embedding trained on a rating the downstream model is later
# tested on has seen the answer. So for each split, every source that learns from
# ratings is trained on that split's *training* rows only. The language model learns
# nothing from ratings: its film vectors depend on the titles, years and genres alone.
#
# ## The sources
#
# | source | vectors for | learned from | chapter |
# |---|---|---|---|
# | biased MF {cite}`koren2009matrix` | users and films, 64-d | training ratings | 5 |
# | I-AutoRec {cite}`sedhain2015autorec` | films (hidden code), 500-d | training ratings | 5 |
# | LightGCN {cite}`he2020lightgcn` | users and films, 64-d | training interactions (graph) | graph networks |
# | SASRec {cite}`kang2018sasrec` | films, 64-d | order of training interactions | sequence models |
# | all-MiniLM-L6-v2 {cite}`reimers2019sentence,wang2020minilm` | films, 384-d | title, year and genres (text) | transfer learning |
#
# The film texts are encoded once (cached on disk) because they do not depend on the split.

# %%
texts = item_texts(ml.items)
text_vectors = encode_items(texts)  # (n_films, 384), rows of norm 1
print(len(texts), "film texts, e.g.", repr(texts[0]), "->", text_vectors.shape)


# %% [markdown]
# For each split, the sources that learn from ratings are fitted on its training rows.
# Each returns `(user_ids, user_vectors)` and `(item_ids, item_vectors)` (None where it
# has no vectors).


# %%
def fit_sources(train_rows, seed):
    """Train every rating-based source on the training rows of one split."""
    ratings = train_rows[["user_id", "item_id", "rating", "timestamp"]]
    out, seconds = {}, {}
    start = time.perf_counter()
    mf = MFRecommender(progress=False, seed=seed).fit(ratings)
    out["MF"] = ((mf.user_ids_, mf.user_factors_), (mf.item_ids_, mf.item_factors_))
    seconds["MF"] = time.perf_counter() - start

    start = time.perf_counter()
    autorec = IAutoRec(progress=False, seed=seed, num_epochs=AUTOREC_EPOCHS).fit(ratings)
    out["I-AutoRec"] = (None, (autorec.item_ids_, autorec.encode_items()))
    seconds["I-AutoRec"] = time.perf_counter() - start

    start = time.perf_counter()
    gcn = LightGCN(progress=False, seed=seed, num_epochs=GRAPH_EPOCHS).fit(ratings)
    out["LightGCN"] = ((gcn.user_ids_, gcn.user_embeddings_), (gcn.item_ids_, gcn.item_embeddings_))
    seconds["LightGCN"] = time.perf_counter() - start

    start = time.perf_counter()
    sas = SASRec(progress=False, seed=seed, num_epochs=SEQ_EPOCHS).fit(ratings)
    out["SASRec"] = (None, (sas.item_ids_, sas.item_embeddings_))
    seconds["SASRec"] = time.perf_counter() - start

    out["MiniLM"] = (None, (ml.items["item_id"].to_numpy(), text_vectors))
    return out, seconds


# %% [markdown]
# The downstream model and its training are chapter 5's, unchanged: DeepFM with its
# defaults, Adam, early stopping on validation AUC.


# %%
def train_deepfm(featurizer, train, valid, test, dense_dims, seed, **options):
    """Fit DeepFM (chapter 5's protocol, `fit_ctr`) and return its test AUC and log loss."""
    config = DeepFMConfig(featurizer.field_dims_, featurizer.multi_dims_, dense_dims=dense_dims, **options)
    trainer = fit_ctr(lambda: DeepFM(config), train, valid, num_epochs=MAX_EPOCHS, patience=3, seed=seed)
    p = trainer.predict(test.inputs).numpy().astype(float)
    y = test.y.numpy()
    return metrics.roc_auc(y, p), metrics.log_loss(y, p)


def with_sources(batch, rows, sources, names):
    """Append the user and film vectors of the named sources to a batch."""
    blocks = []
    for name in names:
        users, items = sources[name]
        if users is not None:
            blocks.append(lookup_rows(rows["user_id"], *users))
        blocks.append(lookup_rows(rows["item_id"], *items))
    return add_dense(batch, *blocks), tuple(b.shape[1] for b in blocks)


# %% [markdown]
# ## The experiment
#
# For each split: fit the sources on its training rows, then DeepFM without any of them
# (chapter 5's model), with each source alone, and with all of them. With all five,
# three ways of *combining* them, the three that the article's §3.2 (step 3) lists under
# 特征组合 ("feature combination"): 特征拼接 ("concatenation"), 特征加权 ("weighting") and
# 特征融合 ("fusion"):
#
# * **concatenation**: each block is one more field (as above);
# * **learned field weights**: a squeeze-and-excitation gate {cite}`hu2018squeeze,huang2019fibinet`
#   computes one weight per field and row from the field vectors themselves,
#   $a = \mathrm{ReLU}(W_2\,\mathrm{ReLU}(W_1 z))$ with $z_f$ the mean of field $f$'s vector,
#   and rescales every field vector by its weight;
# * **attention fusion**: the five film and user vectors are fused into one,
#   $v = \sum_s \alpha_s v_s$ with weights $\alpha = \mathrm{softmax}(\tanh(W_k v_s)^\top W_q c / \sqrt D)$
#   that depend on the row's other fields $c$ {cite}`vaswani2017attention`, so each row
#   can lean on the source that knows it best.

# %%
SOURCE_NAMES = ("MF", "I-AutoRec", "LightGCN", "SASRec", "MiniLM")
VARIANTS = {"ids + side features": ((), {})} | {f"+ {s}": ((s,), {}) for s in SOURCE_NAMES} | {
    "+ all five": (SOURCE_NAMES, {}),
    "+ all five, field gate": (SOURCE_NAMES, {"field_gate": "senet"}),
    "+ all five, attention fusion": (SOURCE_NAMES, {"dense_fusion": "attention"}),
}

rows, source_seconds = [], []
for split in SPLITS:
    train_rows, valid_rows, test_rows = ctr_split(frame, seed=split)
    featurizer = CTRFeaturizer().fit(train_rows)
    parts = [(featurizer.transform(r), r) for r in (train_rows, valid_rows, test_rows)]
    sources, seconds = fit_sources(train_rows, split)
    source_seconds.append(seconds)
    for variant, (names, options) in VARIANTS.items():
        batches = [with_sources(b, r, sources, names) for b, r in parts]
        for seed in MODEL_SEEDS:
            auc, log_loss = train_deepfm(featurizer, *(b for b, _ in batches), batches[0][1], seed, **options)
            rows.append({"variant": variant, "run": f"split {split}, seed {seed}", "auc": auc, "log_loss": log_loss})
results = pd.DataFrame(rows)
pd.DataFrame(source_seconds, index=pd.Index(SPLITS, name="split")).round(1).rename(
    columns=lambda c: f"{c} fit (s)")

# %% [markdown]
# ## What each source adds
#
# All variants share the splits and the seeds, so the fair comparison is *paired*: for
# each run (split and seed), the variant's AUC minus the baseline's AUC in the same run.
# The spread of those differences over the runs tells us how much of a difference is
# noise.

# %%
base = results[results.variant == "ids + side features"].set_index("run")["auc"]
results["delta_auc"] = results.apply(lambda r: r.auc - base[r.run], axis=1)
table = results.groupby("variant", sort=False).agg(
    auc_mean=("auc", "mean"), auc_std=("auc", "std"),
    log_loss_mean=("log_loss", "mean"), delta_auc_mean=("delta_auc", "mean"),
    delta_auc_std=("delta_auc", "std"),
)
table.round(4)

# %%
deltas = table.drop(index="ids + side features")
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.barh(deltas.index[::-1], deltas.delta_auc_mean[::-1], xerr=deltas.delta_auc_std[::-1], color="tab:blue", alpha=0.8)
ax.axvline(0, color="black", lw=0.8)
ax.set_xlabel("test AUC minus the baseline's (mean and std over the runs)")
ax.set_title("What each source of learned features adds to DeepFM")
fig.tight_layout();

# %% [markdown]
# A gain counts as real here when its mean is more than twice its standard deviation
# over the runs (a rough paired test with three pairs); otherwise it is within noise.

# %%
table["verdict"] = np.where(
    table.delta_auc_mean > 2 * table.delta_auc_std, "gain",
    np.where(table.delta_auc_mean < -2 * table.delta_auc_std, "loss", "within noise"),
)
table.loc["ids + side features", "verdict"] = "baseline"
best_variant = table.drop(index="ids + side features").delta_auc_mean.idxmax()
for name, key in [("+ MF", "mf"), ("+ I-AutoRec", "autorec"), ("+ LightGCN", "gcn"), ("+ MiniLM", "text"), ("+ all five", "all"),
                  ("+ all five, field gate", "gate"), ("+ all five, attention fusion", "attn")]:
    glue(f"deepfeat_{key}_delta", table.loc[name, "delta_auc_mean"])
    glue(f"deepfeat_{key}_delta_std", table.loc[name, "delta_auc_std"])
glue("deepfeat_base_auc", table.loc["ids + side features", "auc_mean"])
glue("deepfeat_n_gain", int((table.verdict == "gain").sum()))
glue("deepfeat_n_loss", int((table.verdict == "loss").sum()))
table[["delta_auc_mean", "delta_auc_std", "verdict"]].round(4)

# %% [markdown]
# The baseline, DeepFM on ids and side features, reaches a test AUC of
# {glue:text}`deepfeat_base_auc:.4f`. Of the eight variants, {glue:text}`deepfeat_n_gain`
# clear the noise bar as gains and {glue:text}`deepfeat_n_loss` as losses. Three
# findings, each with a reason:
#
# **1. A source trained on the label can hurt.** The MF vectors change the AUC by
# {glue:text}`deepfeat_mf_delta:.4f` (spread {glue:text}`deepfeat_mf_delta_std:.4f`):
# features from a good model make DeepFM *worse*. MF was trained to predict the ratings
# of the very rows DeepFM trains on, and the label is a function of the rating
# (rating >= 4). On those rows $p_u^\top q_i$ nearly *is* the answer, so DeepFM learns
# to lean on it; on test rows it carries only what MF generalises. This is the in-sample
# leakage of target encoding (chapter 11) in another form, and the cure is the same:
# out-of-fold features, each training row described by a source that did not see it
# (exercise 3). The I-AutoRec film codes, also trained on those ratings, change the AUC
# by {glue:text}`deepfeat_autorec_delta:.4f` (± {glue:text}`deepfeat_autorec_delta_std:.4f`).
# The solutions below push the mistake to its extreme: an MF trained on
# *all* rows, test rows included, lifts the AUC far above every honest variant.
#
# **2. Sources that never see the label do not leak it.** LightGCN learns from *who
# rated what* (every rating is an edge, whatever its value), SASRec from the *order* of
# a user's ratings, MiniLM from text. LightGCN's vectors are a real gain
# ({glue:text}`deepfeat_gcn_delta:.4f` ± {glue:text}`deepfeat_gcn_delta_std:.4f`): its
# neighbours-of-neighbours view adds something DeepFM's pairwise interactions do not
# capture. The text vectors, {glue:text}`deepfeat_text_delta:.4f`
# (± {glue:text}`deepfeat_text_delta_std:.4f`), describe films that have many ratings
# here, where the ids already say more; their value is on films without ratings (the
# cold-start experiment of chapter 10).
#
# **3. How the sources are combined matters as much as which.** Concatenating all five
# changes the AUC by {glue:text}`deepfeat_all_delta:.4f`; the learned field gate by
# {glue:text}`deepfeat_gate_delta:.4f` with a large spread
# ({glue:text}`deepfeat_gate_delta_std:.4f`: it trains unstably on 16 fields); attention
# fusion by {glue:text}`deepfeat_attn_delta:.4f` (± {glue:text}`deepfeat_attn_delta_std:.4f`),
# the best variant of the table. Fusion lets each row weight the five sources: two of
# them hurt on their own, and concatenated the five gain nothing beyond the noise, yet
# weighted per row they give the largest gain.
#
# On the CPU path the spread is over training seeds on one split; a GPU run adds two
# more splits (Parameters). The checks below hold the text to the table.
#
# %%
assert 0.78 < table.loc["ids + side features", "auc_mean"] < 0.82, "chapter 5's DeepFM range"
assert table.loc["+ MF", "delta_auc_mean"] < 0, "finding 1: the label-trained source hurts"
assert table.loc["+ LightGCN", "delta_auc_mean"] > 0, "finding 2: the graph source helps"
assert table.delta_auc_mean.idxmax() == "+ all five, attention fusion", "finding 3: fusion is best"
assert table.loc["+ all five, attention fusion", "delta_auc_mean"] > table.loc["+ all five", "delta_auc_mean"]

# %% [markdown]
# ## Summary
#
# * A learned embedding becomes a feature by a lookup per row; in a factorisation
#   machine it is one more field, crossed with all others through a learned projection.
# * Every embedding that learns from ratings must be trained on the downstream training
#   rows only; text and other content embeddings need no such care.
# * A source trained on the downstream label leaks it, even when it is trained on the
#   training rows only: on those rows it has seen the answers. Train it out of fold, or
#   prefer sources that learn from something else (the graph, the order, the text).
# * Combining sources with attention, which weights them per row, did better than
#   concatenating them or gating the fields.
#
# ## Exercises
#
# 1. Replace DeepFM by logistic regression (`recfeat_ref.neural.LogisticRegression`),
#    which cannot learn interactions. Do the sources add more or less than for DeepFM?
#    Why?
# 2. Train the MF source on *all* ratings, test rows included (the leaky way), and
#    rerun the "+ MF" variant on one split. What happens to the AUC, and why is the
#    number worthless?
# 3. Build *out-of-fold* MF features: split the training rows into 5 folds, train MF on
#    4 of them, and describe the rows of the fifth by that model's vectors (for the
#    validation and test rows, use an MF trained on all training rows). Does "+ MF" still
#    hurt?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below runs (1) and (2) on the first split. (1) Logistic regression has no
# id-by-id interactions, so the dot-product structure inside the MF vectors is new to it,
# but it can only weight each coordinate linearly; compare the two printed gains with
# the table. (2) The leaky MF has seen the test ratings, so its vectors encode the
# answers: the AUC jumps well above every honest variant, a gain that would vanish
# in production. (3) Left to the reader: `recfeat_ref.features.fold_indices` gives the
# folds; the per-row vectors are `lookup_rows` of each fold's model; compare the result
# with finding 1.
# :::

# %%
from recfeat_ref.neural import LogisticRegression, LRConfig

# `parts` and `sources` still hold the last split of the experiment


def lr_auc(names):
    batches = [with_sources(b, r, sources, names) for b, r in parts]
    config = LRConfig(featurizer.field_dims_, featurizer.multi_dims_, dense_dims=batches[0][1])
    trainer = fit_ctr(lambda: LogisticRegression(config), batches[0][0], batches[1][0], weight_decay=0.0, num_epochs=MAX_EPOCHS, patience=3,
                      seed=MODEL_SEEDS[0])
    test = batches[2][0]
    return metrics.roc_auc(test.y.numpy(), trainer.predict(test.inputs).numpy().astype(float))


lr_base = lr_auc(())
print(f"logistic regression: {lr_base:.4f}; + MF {lr_auc(('MF',)) - lr_base:+.4f}")

leaky = MFRecommender(progress=False, seed=MODEL_SEEDS[0]).fit(frame[["user_id", "item_id", "rating"]])
sources["leaky MF"] = ((leaky.user_ids_, leaky.user_factors_), (leaky.item_ids_, leaky.item_factors_))
batches = [with_sources(b, r, sources, ("leaky MF",)) for b, r in parts]
leaky_auc, _ = train_deepfm(featurizer, *(b for b, _ in batches), batches[0][1], MODEL_SEEDS[0])
honest = results[(results.variant == "+ MF") & (results.run == f"split {SPLITS[-1]}, seed {MODEL_SEEDS[0]}")].auc.item()
print(f"DeepFM + honest MF {honest:.4f}; + leaky MF {leaky_auc:.4f}")
assert leaky_auc > honest + 0.01, "the leaky vectors have seen the test answers"
