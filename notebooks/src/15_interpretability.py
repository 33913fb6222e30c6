# %% [markdown]
# # Interpretability: what the model looks at, and why it recommends
#
# The article's §8.3 lists 模型解释性 ("model interpretability") among the challenges of
# large models, and its §9.4 names two answers. One is 模型可视化 ("model visualisation"),
# 通过可视化技术，如网络结构图、参数分布图等，展示模型的内部结构和参数关系 ("using
# visualisation techniques such as network-structure diagrams and parameter-distribution
# plots to show the model's internal structure and parameter relations"). Such pictures
# describe the network, not a decision: a diagram of DeepFM's layers is the same for
# every user, and a histogram of its weights does not say why one film was recommended.
# The other answer is 特征重要性分析 ("feature-importance analysis"), which does speak to
# decisions. This chapter computes feature importance two ways, and replaces the
# article's pictures by a visualisation that can be checked: maps of the learned film
# vectors. It works on the click-through model of chapter 5 (DeepFM on ids,
# demographics, decade and genres) and on the matrix factorisation of the same chapter:
#
# 1. **Global importance**: which fields does the model rely on? Permutation importance
#    on held-out rows.
# 2. **Local attribution**: for one prediction, how much did each field push it up or
#    down? Integrated gradients, checked against Captum and against their completeness
#    axiom.
# 3. **Visualisation**: maps of the learned film vectors, coloured by genre.
# 4. **An explanation for one user's top 10**: the films they rated that are most like
#    each recommendation, and the attributions of their own features.
#
# **You will learn** the difference between a global and a local explanation; why
# gradients alone mislead and integrated gradients do not; and how to explain a
# recommendation in terms a user understands.

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

# %%
import torch

FULL = torch.cuda.is_available()  # a GPU trains longer and explains more rows
SEED = 0
MAX_EPOCHS = 30 if FULL else 12  # DeepFM, early-stopped on validation AUC
IG_STEPS = 64  # Gauss-Legendre nodes for integrated gradients
N_EXPLAIN = 2000 if FULL else 500  # test rows explained by integrated gradients
N_REPEATS = 5 if FULL else 3  # shuffles per field for permutation importance

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from torch import nn

from recfeat_ref import metrics
from recfeat_ref.book import glue
from recfeat_ref.ctr import build_ctr_features
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.interpret import field_attributions, field_groups, integrated_gradients, permutation_importance
from recfeat_ref.mf import BPRMF, MFRecommender
from recfeat_ref.neural import DeepFM, DeepFMConfig
from recfeat_ref.training import TrainConfig, Trainer, seed_everything

ml = load_movielens_100k(verbose=False)

# %% [markdown]
# ## The model to explain
#
# Chapter 5's DeepFM {cite}`guo2017deepfm`, trained exactly as there on the 80/10/10
# click-through split (label: the user rated the film 4 or 5).

# %%
data = build_ctr_features(ml, seed=SEED)
featurizer = data.featurizer
seed_everything(SEED)
model = DeepFM(DeepFMConfig(featurizer.field_dims_, featurizer.multi_dims_))
config = TrainConfig(num_epochs=MAX_EPOCHS, lr=1e-2, weight_decay=1e-4, patience=3,
                     monitor="valid_auc", mode="max", seed=SEED, progress=False)
trainer = Trainer(model, nn.BCEWithLogitsLoss(), config, metrics={"auc": metrics.roc_auc},
                  output_transform=torch.sigmoid)
trainer.fit(data.train.pair, data.valid.pair)
model = model.cpu().eval()
y_test = data.test.y.numpy()


def predict(x_cat, x_multi):
    with torch.no_grad():
        return torch.sigmoid(model(x_cat, x_multi)).numpy().astype(float)


test_auc = metrics.roc_auc(y_test, predict(*data.test.inputs))
glue("interp_test_auc", test_auc)
FIELD_NAMES = [*featurizer.fields, *featurizer.multi_hot]  # one name per field group
print(f"test AUC {test_auc:.4f}; field groups: {FIELD_NAMES}")

# %% [markdown]
# (ch15-permutation)=
# ## Global: permutation importance
#
# Shuffle one field's column across the test rows, which keeps its distribution but
# breaks its link to everything else, and measure how much the AUC drops
# {cite}`breiman2001random`. A field the model ignores costs nothing; a field it relies
# on costs a lot. Each field is shuffled several times; the spread shows the noise.

# %%
n_fields = len(featurizer.fields)
groups = {name: ("cat", slice(f, f + 1)) for f, name in enumerate(featurizer.fields)}
groups["genres"] = ("multi", slice(0, sum(featurizer.multi_dims_)))
importance = permutation_importance(predict, *data.test.inputs, y_test, groups, metrics.roc_auc,
                                    n_repeats=N_REPEATS, seed=SEED)
importance.round(4)

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(importance.index[::-1], importance.importance_mean[::-1], xerr=importance.importance_std[::-1])
ax.set_xlabel("drop in test AUC when the field is shuffled")
ax.set_title("Permutation importance of DeepFM's fields")
fig.tight_layout();

# %%
top_field = importance.index[0]
glue("interp_top_drop", importance.importance_mean.iloc[0])
glue("interp_user_drop", importance.loc["user_id", "importance_mean"])
glue("interp_item_drop", importance.loc["item_id", "importance_mean"])
assert top_field in ("user_id", "item_id"), "the ids carry most of the signal (chapter 5, exercise 3)"

# %% [markdown]
# The ids dominate: shuffling the film id costs {glue:text}`interp_item_drop:.3f` AUC and
# shuffling the user id {glue:text}`interp_user_drop:.3f`, far more than any
# demographic or content field. That matches chapter 5, where NeuMF on ids alone did
# about as well as the feature models: who the user is and which film it is carries
# more than any description of them. The side fields matter where ids know little,
# which is the cold-start case of the transfer-learning chapter.
#
# ## Local: integrated gradients
#
# For one prediction we want each field's share. The gradient
# $\partial f / \partial x_j$ answers a different question (what a *small* change would
# do) and is zero wherever a ReLU is switched off, even for a feature that matters.
# Integrated gradients {cite}`sundararajan2017axiomatic` integrate the gradient along a
# straight path from a baseline $x'$ to the input $x$:
#
# $$
# \mathrm{IG}_j(x) = (x_j - x'_j)\int_0^1 \frac{\partial f(x' + \alpha(x - x'))}{\partial x_j}\,d\alpha,
# \qquad \sum_j \mathrm{IG}_j(x) = f(x) - f(x').
# $$ (eq-interp-ig)
#
# The right-hand identity, *completeness*, makes the attributions an exact account of
# the prediction's distance from the baseline. Fields are categorical, so there is no
# straight path between two user ids; `recfeat_ref.interpret` integrates instead over a
# *scale* $s_g \in [0, 1]$ per field group that multiplies the field's embedding and
# weight (and a bag's columns). At $s = 0$ every field is switched off, which is exactly
# the model's input for an unknown user and film (their rows are zero). The integral is
# computed by Gauss-Legendre quadrature, as in Captum {cite}`kokhlikyan2020captum`.
#
# First, our integrator against Captum's on the same function, the model's logit as a
# function of the field scales of a few test rows:

# %%
import warnings

from tqdm import TqdmWarning

with warnings.catch_warnings():  # Captum imports tqdm.auto, which warns when ipywidgets is absent
    warnings.simplefilter("ignore", TqdmWarning)
    from captum.attr import IntegratedGradients

from recfeat_ref.interpret import scaled_forward

x_cat, x_multi = (t[:8] for t in data.test.inputs)
f = scaled_forward(model, x_cat, x_multi)
ones = torch.ones(8, len(field_groups(model)))
ours = integrated_gradients(f, ones, torch.zeros_like(ones), steps=IG_STEPS)
theirs = IntegratedGradients(f).attribute(ones, baselines=torch.zeros_like(ones), n_steps=IG_STEPS,
                                           method="gausslegendre")
captum_gap = float((ours - theirs.float()).abs().max())
glue("interp_captum_gap", captum_gap)
assert captum_gap < 1e-4
print(f"largest difference from Captum: {captum_gap:.2e}")

# %% [markdown]
# Now the attributions of {glue:text}`interp_n_explain` test rows, with the completeness
# check: the attributions of each row must add up to its logit minus the all-unknown
# baseline logit.

# %%
attr = field_attributions(model, *(t[:N_EXPLAIN] for t in data.test.inputs), steps=IG_STEPS)
attr.columns = [*FIELD_NAMES, "logit", "baseline_logit"]
gap = attr.logit - attr.baseline_logit
completeness_error = float((attr[FIELD_NAMES].sum(axis=1) - gap).abs().max() / gap.abs().max())
glue("interp_n_explain", N_EXPLAIN)
glue("interp_completeness", completeness_error)
assert completeness_error < 0.02, "ReLU kinks slow the quadrature, but 64 nodes get within 2 %"
attr.head().round(3)

# %% [markdown]
# The largest violation of completeness is {glue:text}`interp_completeness:.4f` of the
# largest gap, the quadrature error at the ReLU kinks along the path. Averaged over the
# rows, the size of each field's attribution is a second, *local* view of importance:

# %%
local = attr[FIELD_NAMES].abs().mean().sort_values(ascending=False).rename("mean |IG|")
both = pd.concat([local, importance.importance_mean.rename("permutation AUC drop")], axis=1)
rank_corr = both.rank().corr(method="spearman").iloc[0, 1]
glue("interp_rank_corr", rank_corr)
both.round(4)

# %% [markdown]
# The two views agree on the order of the fields to a Spearman correlation of
# {glue:text}`interp_rank_corr:.2f`: they ask different questions (how far each field
# moves single predictions, against how much the ranking quality depends on it) but on
# this model they tell the same story.
#
# (ch15-maps)=
# ## Visualisation: maps of the film vectors
#
# Matrix factorisation {cite}`koren2009matrix` learns a 64-dimensional vector per film.
# Two projections to the plane: PCA keeps the directions of largest variance; t-SNE
# {cite}`vandermaaten2008tsne` keeps neighbourhoods. Each film is coloured by its first
# listed genre (films with at least 20 training ratings, so the vectors are not noise).

# %%
ratings = ml.ratings
mf = MFRecommender(progress=False, seed=SEED).fit(ratings)
counts = ratings.item_id.value_counts()
keep = np.isin(mf.item_ids_, counts[counts >= 20].index)
vectors = mf.item_factors_[keep]
items = ml.items.set_index("item_id").loc[mf.item_ids_[keep]]
main_genre = items.genres.map(lambda g: g[0] if len(g) else "unknown")
shown = main_genre.value_counts().index[:6]  # the six most frequent first genres

pca_xy = PCA(n_components=2, random_state=SEED).fit_transform(vectors)
tsne_xy = TSNE(n_components=2, random_state=SEED, init="pca", perplexity=30).fit_transform(vectors)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, xy, title in zip(axes, (pca_xy, tsne_xy), ("PCA", "t-SNE")):
    for genre in shown:
        mask = (main_genre == genre).to_numpy()
        ax.scatter(xy[mask, 0], xy[mask, 1], s=6, alpha=0.6, label=genre)
    ax.set_title(f"MF film vectors, {title}")
    ax.set_xticks([])
    ax.set_yticks([])
axes[1].legend(markerscale=3, fontsize=8, loc="best")
fig.tight_layout();

# %% [markdown]
# Genre was never an input of MF, yet films of a genre cluster: the vectors learned
# from who rated what encode content. How strongly? A quantitative check instead of an
# impression: the share of each film's 10 nearest neighbours (cosine, in 64 dimensions)
# that share its first genre, against the same share for random films.

# %%
unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
sim = unit @ unit.T
np.fill_diagonal(sim, -np.inf)
neighbours = np.argsort(-sim, axis=1)[:, :10]
labels = main_genre.to_numpy()
same_genre = (labels[neighbours] == labels[:, None]).mean()
rng = np.random.default_rng(SEED)
random_share = (labels[rng.integers(0, len(labels), neighbours.shape)] == labels[:, None]).mean()
glue("interp_same_genre", same_genre)
glue("interp_random_genre", random_share)
assert same_genre > random_share
print(f"neighbours sharing the first genre: {same_genre:.3f} (random films: {random_share:.3f})")

# %% [markdown]
# {glue:text}`interp_same_genre:.3f` of a film's nearest neighbours share its first
# genre, against {glue:text}`interp_random_genre:.3f` for random films.
#
# ## Explaining one user's top 10
#
# A user does not want a gradient; they want a reason. Two reasons the models give us:
#
# * *Because you liked...*: for each recommended film, the film the user rated highly
#   whose vector is closest to it (the explanation style of item-based
#   recommenders {cite}`sarwar2001item`).
# * *What about you mattered*: the integrated-gradient attributions of the user's own
#   fields in DeepFM, for the (user, film) pairs of the list.

#
# The list comes from the ranking model of chapter 5, BPR-MF {cite}`rendle2009bpr`
# (a rating predictor such as MF tops its lists with films that few people rated, all
# highly), trained on all ratings for the number of epochs chapter 5's early stopping
# chose.

# %%
bpr = BPRMF(progress=False, seed=SEED, num_epochs=65).fit(ratings)
user = int(ratings.user_id.value_counts().index[100])  # a user with a typical history
seen = set(ratings.loc[ratings.user_id == user, "item_id"])
scores = bpr.score_items([user])[0]
order = [j for j in np.argsort(-scores) if bpr.item_ids_[j] not in seen][:10]
top10 = bpr.item_ids_[order]

liked = ratings[(ratings.user_id == user) & (ratings.rating >= 4)].item_id.to_numpy()
liked_rows = np.searchsorted(bpr.item_ids_, liked)
all_unit = bpr.item_factors_ / np.linalg.norm(bpr.item_factors_, axis=1, keepdims=True)
because = liked[np.argmax(all_unit[order] @ all_unit[liked_rows].T, axis=1)]
titles = ml.items.set_index("item_id").title
explanation = pd.DataFrame({"recommended": titles.loc[top10].to_numpy(),
                            "because you liked": titles.loc[because].to_numpy()})
explanation

# %%
user_row = ml.users.set_index("user_id").loc[user]
pairs = pd.DataFrame({"user_id": user, "item_id": top10})
frame = pairs.merge(ml.users, on="user_id").merge(ml.items, on="item_id")
from recfeat_ref.ctr import age_bucket, year_bucket

frame["age_bucket"] = age_bucket(frame["age"])
frame["year_bucket"] = year_bucket(frame["year"])
batch = featurizer.transform(frame)
user_attr = field_attributions(model, *batch.inputs, steps=IG_STEPS)
user_attr.columns = [*FIELD_NAMES, "logit", "baseline_logit"]
user_attr.index = titles.loc[top10].to_numpy()
print(f"user {user}: age {user_row.age}, {user_row.gender}, {user_row.occupation}")
user_attr[["user_id", "age_bucket", "gender", "occupation", "item_id", "genres"]].round(2)

# %% [markdown]
# Read a row as: starting from the prediction for an unknown user and an unknown film,
# this is how much each field moved the logit of this (user, film) pair. The
# user's own fields (id, age group, gender, occupation) say what the model has learned
# about *them*; the film's fields say what it has learned about the film.
#
# ## Summary
#
# * Permutation importance is global (how much the model's quality depends on a field),
#   integrated gradients are local (how much a field moved one prediction) and complete
#   (the shares add up to the prediction's distance from a baseline).
# * For categorical fields, the natural baseline is "unknown", which a model with OOV
#   rows already has.
# * Learned embeddings can be mapped and probed; here MF film vectors cluster by a
#   genre MF never saw.
# * A recommendation is best explained in the user's own terms: the films they liked
#   that resemble it.
#
# ## Exercises
#
# 1. Compute plain gradients $\partial f / \partial s$ at $s = 1$ (one backward pass) and
#    compare their field ranking with integrated gradients. Where do they disagree, and
#    why?
# 2. Recompute the integrated gradients with 4, 16 and 64 quadrature nodes. How fast does
#    the completeness error fall?
# 3. Colour the t-SNE map by the films' decade instead of their genre. Is there
#    structure? What would you conclude about what MF learns?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below runs (1) and (2). (1) The gradient at $s = 1$ is the slope at the end
# of the path only; a field whose effect saturates (or whose ReLUs are off at the end)
# gets a small gradient despite a large contribution, so the rankings differ. (2) The
# error falls quickly with the number of nodes and flattens at the ReLU kinks.
# (3) Left to the reader: replace `main_genre` by `items.year // 10 * 10`.
# :::

# %%
s = torch.ones(N_EXPLAIN, len(FIELD_NAMES), requires_grad=True)
f_all = scaled_forward(model, *(t[:N_EXPLAIN] for t in data.test.inputs))
(grad,) = torch.autograd.grad(f_all(s).sum(), s)
plain = pd.Series(grad.abs().mean(0).numpy(), index=FIELD_NAMES)
print("ranking by |gradient|:", list(plain.sort_values(ascending=False).index))
print("ranking by |IG|:      ", list(local.index))
for steps in (4, 16, 64):
    a = field_attributions(model, *(t[:200] for t in data.test.inputs), steps=steps)
    g = a.logit - a.baseline_logit
    err = (a[field_groups(model)].sum(axis=1) - g).abs().max() / g.abs().max()
    print(f"{steps:3d} nodes: completeness error {err:.4f}")
