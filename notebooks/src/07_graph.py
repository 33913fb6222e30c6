# %% [markdown]
# # Graph neural networks: LightGCN
#
# Matrix factorisation gives every user and every film a vector and fits their dot
# products to the data, one interaction at a time. The *collaborative* signal, that two
# users who watched the same films have similar taste, reaches a user's vector only
# indirectly, through many gradient steps on shared films. A graph neural network puts
# that signal into the model itself: users and films are the nodes of a graph, every
# interaction is an edge, and each node's representation is built from its neighbours'.
#
# The source article's abstract promises graph neural networks (图神经网络) among its core
# algorithm principles; its §3 never mentions them, so this chapter supplies what the
# abstract promises. It implements LightGCN {cite}`he2020lightgcn`, the simplest graph model that
# works well for recommendation: it keeps only the neighbourhood aggregation of a graph
# convolutional network {cite}`kipf2017semi`, with no weight matrices and no
# non-linearity, and trains the node embeddings with the BPR loss of Chapter 5
# {cite}`rendle2009bpr`.
#
# **You will learn** why message passing over the user-film graph learns collaborative
# features; the propagation rule and the layer combination of LightGCN, computed by hand
# on a toy graph and then with sparse matrices; how many layers help on MovieLens-100K;
# how LightGCN compares with popularity and BPR-MF under the top-N protocol of Chapter 5;
# and how to export its embeddings as features for other models.

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
# On a GPU (`FULL`) LightGCN trains until early stopping ends it (at most 300 epochs)
# and the layer study covers up to four layers at a longer budget; on a CPU the main
# model is capped at 100 epochs and the study trains each depth for 30, so the whole
# chapter runs in about two minutes on one core.

# %%
import torch

FULL = torch.cuda.is_available()
SEED = 0
K = 10  # recommendation list length
RATIOS = (0.8, 0.1, 0.1)  # per-user train / validation / test, as in Chapter 5
NUM_EPOCHS = 300 if FULL else 100  # upper bound; early stopping on validation NDCG@10 may end training sooner
STUDY_LAYERS = (0, 1, 2, 3, 4) if FULL else (0, 1, 2, 3)
STUDY_EPOCHS = 150 if FULL else 30  # epochs per depth in the layer study

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recfeat_ref.baselines import Popularity
from recfeat_ref.book import glue
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.graph import LightGCN, normalized_adjacency, propagate
from recfeat_ref.mf import BPRMF
from recfeat_ref.recommender import evaluate_topn
from recfeat_ref.splits import ratio_split_by_user

torch.set_num_threads(1)  # the models are small; one thread is as fast and shares the machine
ml = load_movielens_100k(verbose=False)
train, valid, test = ratio_split_by_user(ml.ratings, ratios=RATIOS, seed=SEED)
seen = pd.concat([train, valid])  # excluded from the test lists, as in Chapter 5
print(len(train), len(valid), len(test))

# %% [markdown]
# ## The user-film graph
#
# Let $R \in \{0, 1\}^{U \times I}$ be the interaction matrix: $R_{ui} = 1$ if user $u$
# rated film $i$ in training. The bipartite graph has $U + I$ nodes and the adjacency
# matrix
#
# $$
# A = \begin{pmatrix} 0 & R \\ R^\top & 0 \end{pmatrix} .
# $$ (eq-graph-adjacency)
#
# **Why message passing learns collaborative features.** If each node replaces its
# vector by the average of its neighbours' vectors, a user becomes a summary of the
# films they watched, and a film a summary of its audience. Repeat once more, and a
# user receives the vectors of the *users who watched the same films*: after two steps,
# two users with overlapping histories have drawn from the same sources and have become
# similar, whether or not a gradient step ever compared them. That is user-based
# collaborative filtering (Chapter 5's user kNN) built into the representation; three
# steps reach the films those neighbours watched. Matrix factorisation has to discover
# these relations through its loss alone.
#
# LightGCN {cite}`he2020lightgcn` takes the aggregation of a graph convolutional network
# {cite}`kipf2017semi` and removes everything else: no weight matrix per layer and no
# non-linearity, both of which the authors found to hurt on interaction data, where a
# node has nothing but its id (the earlier NGCF {cite}`wang2019neural` kept them). Each
# node $v$ has one trainable *ego* embedding $e^{(0)}_v \in \mathbb{R}^d$, and layer
# $k+1$ is
#
# $$
# e_u^{(k+1)} = \sum_{i \in N_u} \frac{1}{\sqrt{|N_u|}\sqrt{|N_i|}}\, e_i^{(k)}, \qquad
# e_i^{(k+1)} = \sum_{u \in N_i} \frac{1}{\sqrt{|N_i|}\sqrt{|N_u|}}\, e_u^{(k)},
# $$ (eq-graph-propagation)
#
# with $N_v$ the neighbours of $v$. In matrix form, with $D$ the diagonal matrix of node
# degrees, $E^{(k+1)} = \tilde A E^{(k)}$ and $\tilde A = D^{-1/2} A D^{-1/2}$. The
# symmetric normalisation keeps popular films from dominating by sheer number of
# edges, and the largest eigenvalue of $\tilde A$ is 1, so repeated propagation neither
# explodes nor vanishes. The final embedding combines the layers,
#
# $$
# e_v = \sum_{k=0}^{L} \alpha_k e_v^{(k)}, \qquad \alpha_k = \frac{1}{L+1},
# $$ (eq-graph-combination)
#
# and the score of user $u$ for film $i$ is the dot product $\hat y_{ui} = e_u^\top e_i$.
# The layer mean keeps the node's own embedding ($k = 0$) in the mix, which guards
# against *over-smoothing*: the deeper layers alone drift towards the same vector for
# every node. With $L = 0$ the model is matrix factorisation.
#
# ## One propagation step by hand
#
# A toy graph: three users, four films. User `a` watched films 0 and 1, `b` films 1
# and 2, `c` film 2 only; film 3 has never been watched (an isolated node). So `a` and
# `b` share film 1, `b` and `c` share film 2, and `a` and `c` share nothing. We build
# $\tilde A$ with NumPy, following the formula, and print it.

# %%
toy_users = np.array([0, 0, 1, 1, 2])  # users a, b, c
toy_items = np.array([0, 1, 1, 2, 2])  # films 0..2; film 3 has no edge
names = ["a", "b", "c", "film 0", "film 1", "film 2", "film 3"]
U_toy, I_toy = 3, 4
A = np.zeros((U_toy + I_toy, U_toy + I_toy))
A[toy_users, U_toy + toy_items] = 1
A[U_toy + toy_items, toy_users] = 1
degree = A.sum(axis=1)
d_inv_sqrt = np.divide(1, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)  # 0 for film 3
A_tilde = d_inv_sqrt[:, None] * A * d_inv_sqrt[None, :]
pd.DataFrame(A_tilde, index=names, columns=names).round(3)

# %% [markdown]
# An edge between two nodes of degree 2 (`a` and film 1) weighs $1/\sqrt{2 \cdot 2} =
# 0.5$; the edge from `a` to film 0, which only `a` watched, weighs $1/\sqrt{2 \cdot 1}
# \approx 0.707$: rare neighbours count more. The package builds the same matrix as a
# sparse tensor (`normalized_adjacency`), and the isolated film 3 gets an all-zero row
# instead of a division by zero:

# %%
A_sparse = normalized_adjacency(toy_users, toy_items, n_users=U_toy, n_items=I_toy)
assert np.allclose(A_sparse.to_dense().numpy(), A_tilde)
print(A_sparse.layout, tuple(A_sparse.shape), "non-zeros:", A_sparse._nnz())

# %% [markdown]
# Now one propagation step. To see where information goes, give each *user* a one-hot
# ego embedding ("I am a", "I am b", "I am c") and every film a zero vector:

# %%
E0 = np.zeros((U_toy + I_toy, 3))
E0[:3] = np.eye(3)
E1 = A_tilde @ E0  # one step: films receive their users
E2 = A_tilde @ E1  # two steps: users receive the users who share their films
steps = pd.concat(
    {"E(1)": pd.DataFrame(E1, index=names, columns=["a", "b", "c"]),
     "E(2)": pd.DataFrame(E2, index=names, columns=["a", "b", "c"])},
    axis=1,
)
steps.round(3)

# %% [markdown]
# After one step film 1 holds half of `a` and half of `b`, its audience; the users hold
# nothing yet, since the film vectors were zero. After two steps user `a` holds mostly
# itself plus a quarter of `b`, with whom it shares film 1, and nothing of `c`, with whom
# it shares no film (`c` is four steps away). Film 3 stays zero. The layer mean of
# {eq}`eq-graph-combination` is what `propagate` returns:

# %%
E_mean = propagate(A_sparse, torch.tensor(E0, dtype=torch.float32), n_layers=2).numpy()
assert np.allclose(E_mean, (E0 + E1 + E2) / 3, atol=1e-6)
pd.DataFrame(E_mean, index=names, columns=["a", "b", "c"]).round(3)

# %% [markdown]
# ## Training with BPR
#
# The only parameters are the ego embeddings $E^{(0)}$. They are trained, like BPR-MF in
# Chapter 5, on triples $(u, i, j)$: a training interaction $(u, i)$ and a film $j$ drawn
# uniformly among those $u$ has not rated. The loss of a batch $B$ is
#
# $$
# \mathcal{L} = \frac{1}{|B|}\sum_{(u,i,j) \in B} \Big[ -\ln \sigma(\hat y_{ui} - \hat y_{uj})
# + \lambda \big(\lVert e^{(0)}_u\rVert^2 + \lVert e^{(0)}_i\rVert^2 + \lVert e^{(0)}_j\rVert^2\big) \Big],
# $$ (eq-graph-bpr)
#
# the penalty on the batch's ego embeddings, as in the paper {cite}`he2020lightgcn`.
# `LightGCN` reuses `NegativeSampler` and `bpr_loss` from `recfeat_ref.mf`. The cost is
# new: a batch's scores depend on its nodes' neighbourhoods, so every optimisation step
# propagates the whole graph (two sparse products per layer, forward and backward). We
# therefore use large batches, 4,096 triples, about 20 steps per epoch. The defaults of
# `LightGCNConfig` were chosen on the validation part (its docstring has the table), and
# training stops when the validation NDCG@10, checked every five epochs, stops improving.

# %%
lightgcn = LightGCN(num_epochs=NUM_EPOCHS, progress=False).fit(train, valid=valid)
history = lightgcn.history_
print(f"stopped after {len(history)} epochs; best epoch {lightgcn.best_epoch_}; "
      f"{history['seconds'].median():.3f} s per epoch")

# %%
evaluated = history.dropna(subset=[f"valid_ndcg_at_{K}"])
fig, (ax_loss, ax_ndcg) = plt.subplots(1, 2, figsize=(10, 3.5))
ax_loss.plot(history["epoch"], history["train_loss"])
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("training loss (BPR + penalty)")
ax_ndcg.plot(evaluated["epoch"], evaluated[f"valid_ndcg_at_{K}"], marker="o", markersize=3)
ax_ndcg.axvline(lightgcn.best_epoch_, color="grey", linestyle="--", label="best epoch (weights kept)")
ax_ndcg.set_xlabel("epoch")
ax_ndcg.set_ylabel(f"validation NDCG@{K}")
ax_ndcg.legend()
fig.suptitle("LightGCN on MovieLens-100K");

# %%
glue("lgcn_best_epoch", lightgcn.best_epoch_)
glue("lgcn_epoch_seconds", float(history["seconds"].median()))
glue("lgcn_valid_ndcg", float(evaluated[f"valid_ndcg_at_{K}"].max()))

# %% [markdown]
# The training loss falls steadily while the validation NDCG@10 rises quickly, then
# slowly, and peaks at epoch {glue:text}`lgcn_best_epoch` with
# {glue:text}`lgcn_valid_ndcg:.3f`; the weights of that epoch are kept. An epoch takes
# {glue:text}`lgcn_epoch_seconds:.2f` s on this machine, more than BPR-MF's (compared
# below): the price of propagating the graph at every step.
#
# ## How many layers?
#
# The number of layers $L$ is how far information travels: 0 is matrix factorisation,
# 1 mixes each user with their films, 2 with their co-watchers, 3 with the co-watchers'
# films. We train each depth with the same settings and compare the validation NDCG@10
# (the test part stays untouched: choosing $L$ is model selection). On the CPU each depth
# gets a fixed budget of epochs, shorter than the full run above, so the curve compares
# depths at equal training time, not at convergence.

# %%
study = {}
for n_layers in STUDY_LAYERS:
    model = LightGCN(n_layers=n_layers, num_epochs=STUDY_EPOCHS, progress=False).fit(train, valid=valid)
    study[n_layers] = {
        f"valid NDCG@{K}": model.history_[f"valid_ndcg_at_{K}"].max(),
        "best epoch": model.best_epoch_,
        "s/epoch": model.history_["seconds"].median(),
    }
layer_table = pd.DataFrame(study).T.rename_axis("layers")
layer_table.round(4)

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(layer_table.index, layer_table[f"valid NDCG@{K}"], marker="o")
ax.set_xticks(layer_table.index)
ax.set_xlabel("number of layers L (0 = matrix factorisation)")
ax.set_ylabel(f"validation NDCG@{K}")
ax.set_title(f"LightGCN depth, {STUDY_EPOCHS} epochs each");

# %%
ndcg_by_layers = layer_table[f"valid NDCG@{K}"]
glue("study_epochs", STUDY_EPOCHS)
glue("ndcg_l0", ndcg_by_layers[0])
glue("ndcg_best_l", ndcg_by_layers.max())
glue("best_l", int(ndcg_by_layers.idxmax()))
glue("l0_best_epoch", int(layer_table.loc[0, "best epoch"]))
assert ndcg_by_layers.max() > ndcg_by_layers[0], "propagation should beat plain MF at equal epochs"

# %% [markdown]
# After {glue:text}`study_epochs` epochs each, plain matrix factorisation ($L = 0$)
# reaches {glue:text}`ndcg_l0:.3f` (its best epoch: {glue:text}`l0_best_epoch`), and the
# best depth, $L =$ {glue:text}`best_l`, reaches {glue:text}`ndcg_best_l:.3f`.
# Propagation adds the collaborative signal, and it also changes how the model learns:
# every gradient step on a triple now moves the ego embeddings of the whole
# neighbourhood, which acts as a regulariser. Deeper models smooth more, and with a
# short budget they have not yet reached their best: two layers trained to convergence
# reached {glue:text}`lgcn_valid_ndcg:.3f` above, and on the full validation runs of
# `LightGCNConfig` three layers were no better than two (its docstring has the table),
# while each extra layer adds one sparse product forward and one backward per step. The
# paper found two to four layers best on larger data sets {cite}`he2020lightgcn`.
#
# ## Results on the test part
#
# Now the test part, used once, with the Chapter 5 protocol: every film the user has not
# rated in training or validation is ranked. Popularity and BPR-MF (early-stopped on the
# same validation part) are the baselines.

# %%
bpr = BPRMF(progress=False).fit(train, valid=valid)
popularity = Popularity().fit(train)
rows = {}
for name, model in {"popularity": popularity, "BPR-MF": bpr, "LightGCN": lightgcn}.items():
    report = evaluate_topn(model, seen, test, k=K)
    rows[name] = {
        f"NDCG@{K}": report["ndcg_at_k"],
        f"Recall@{K}": report["recall_at_k"],
        f"Hit rate@{K}": report["hit_rate_at_k"],
        f"MRR@{K}": report["mrr_at_k"],
        "fit seconds": model.fit_seconds_,
        "s/epoch": model.history_["seconds"].median() if hasattr(model, "history_") else np.nan,
    }
results = pd.DataFrame(rows).T
results.round(4)

# %%
glue("test_pop", results.loc["popularity", f"NDCG@{K}"])
glue("test_bpr", results.loc["BPR-MF", f"NDCG@{K}"])
glue("test_lgcn", results.loc["LightGCN", f"NDCG@{K}"])
glue("test_lgcn_recall", results.loc["LightGCN", f"Recall@{K}"])
glue("test_bpr_recall", results.loc["BPR-MF", f"Recall@{K}"])
glue("epoch_cost_ratio", results.loc["LightGCN", "s/epoch"] / results.loc["BPR-MF", "s/epoch"])
assert results.loc["LightGCN", f"NDCG@{K}"] > 2 * results.loc["popularity", f"NDCG@{K}"]
assert results.loc["LightGCN", f"NDCG@{K}"] >= results.loc["BPR-MF", f"NDCG@{K}"]

# %% [markdown]
# LightGCN reaches NDCG@10 {glue:text}`test_lgcn:.3f` on the test part, against
# {glue:text}`test_bpr:.3f` for BPR-MF and {glue:text}`test_pop:.3f` for popularity
# (Recall@10 {glue:text}`test_lgcn_recall:.3f` against {glue:text}`test_bpr_recall:.3f`).
# The margin over a well-tuned BPR-MF is small on a data set this size and dense; the
# paper's gains were larger on sparser, bigger data, where a user's own interactions say
# less and the neighbourhood more. A difference of a few thousandths is within the
# spread one would see over different random splits, so what this table shows is that
# the graph model is *at least* as good as matrix factorisation here, at
# {glue:text}`epoch_cost_ratio:.1f` times its time per epoch.
#
# ### Side by side with RecBole
#
# RecBole's LightGCN {cite}`zhao2021recbole` ran on the same split (`benchmarks/`,
# Chapter 5): with its defaults (learning rate 0.001, batches of 2,048, early stopping
# after 10 epochs without improvement) it stopped early, and with patience 50 it ran 300
# epochs. Its seconds per epoch come from the same kind of machine, one CPU thread.

# %%
import json
from pathlib import Path

from IPython.display import display

RESULTS = Path("../benchmarks/results")
recbole_files = [RESULTS / "recbole_ml100k_811.json", RESULTS / "recbole_ml100k_811_lightgcn_stopping50.json"]
have_recbole = all(p.exists() for p in recbole_files)
if have_recbole:
    runs = [json.loads(p.read_text())["results"]["LightGCN"] for p in recbole_files]
    peer = {
        f"RecBole LightGCN (patience {r['config']['stopping_step']})": {
            f"NDCG@{K}": r["test"]["ndcg@10"],
            f"Recall@{K}": r["test"]["recall@10"],
            "best epoch": r["best_epoch"],
            "epochs run": r["epochs_run"],
            "s/epoch": r["seconds_per_epoch_train"]["median"],
        }
        for r in runs
    }
    peer["recfeat_ref LightGCN"] = {
        f"NDCG@{K}": results.loc["LightGCN", f"NDCG@{K}"],
        f"Recall@{K}": results.loc["LightGCN", f"Recall@{K}"],
        "best epoch": lightgcn.best_epoch_,
        "epochs run": len(history),
        "s/epoch": history["seconds"].median(),
    }
    display(pd.DataFrame(peer).T.round(4))
else:  # e.g. on Colab, where only the package is installed
    print("benchmark results not found: see benchmarks/README.md in the repository")

# %% [markdown]
# Two implementation choices make our epoch cheaper than the library's: the sparse
# product runs in compressed-row (CSR) layout and its backward pass reuses $\tilde A$
# (since $\tilde A^\top = \tilde A$) instead of transposing it at every step, and the L2
# penalty is computed from per-node counts rather than by gathering the batch's rows
# (`lightgcn_objective`). Our batches are also twice as large, so an epoch has half as
# many propagations. The larger learning rate (5e-3 against RecBole's 1e-3) then reaches
# in about a hundred epochs what the library's default needed about three hundred for.
# (Seconds per epoch are wall-clock times on a shared machine; compare them across runs
# of the same day only.)
#
# ## The embeddings as features
#
# The final embeddings $e_u$, $e_i$ (`user_embeddings_`, `item_embeddings_`, one row per
# training id) are learned features: they can feed a click-through model, a
# re-ranker, or a nearest-neighbour index. A quick check of what they contain: the films
# closest to *Star Wars* (1977) by cosine similarity of their LightGCN embeddings.

# %%
item_features = pd.DataFrame(lightgcn.item_embeddings_, index=lightgcn.item_ids_)  # (I, K)
films = ml.items.set_index("item_id")
star_wars = films.index[(films["title"] == "Star Wars") & (films["year"] == 1977)].item()
n_ratings = train["item_id"].value_counts()


def neighbours_of(features: pd.DataFrame, item_id, n: int = 8) -> pd.DataFrame:
    """The n films with the largest cosine similarity to ``item_id``, with their training counts."""
    normed = features.div(np.linalg.norm(features, axis=1), axis=0)
    cosine = (normed @ normed.loc[item_id]).drop(item_id).nlargest(n)  # (n,)
    return films.loc[cosine.index, ["title", "year"]].assign(
        cosine=cosine.round(3), n_ratings=n_ratings.reindex(cosine.index).to_numpy()
    )


neighbours_of(item_features, star_wars)

# %% [markdown]
# *Return of the Jedi* comes first, but the rest of the list is mostly the most-watched
# films of the data set, whatever their genre. The propagation smooths well-connected
# nodes towards each other, so the embeddings carry a strong *popularity* direction. Its
# first principal component shows it: we correlate each film's coordinate on it with the
# logarithm of its number of training ratings.

# %%
centred = item_features - item_features.mean()
u_svd, s_svd, vt_svd = np.linalg.svd(centred.to_numpy(), full_matrices=False)
pc1 = u_svd[:, 0] * s_svd[0]  # (I,) coordinate on the first principal component
popularity_corr = np.corrcoef(pc1, np.log(n_ratings.reindex(item_features.index)))[0, 1]
glue("pc1_popularity_corr", abs(popularity_corr))
print(f"correlation of the first principal component with log(#ratings): {popularity_corr:.3f}")

# %% [markdown]
# The correlation is {glue:text}`pc1_popularity_corr:.2f` in absolute value: the first
# direction *is* popularity. Removing it leaves more of the taste part of the
# representation. Compare the lists: the similarities spread out, and *Return of the
# Jedi* stands further apart from the films that follow it. One component does not
# remove popularity entirely (see the counts), but it was most of what the raw cosine
# measured:

# %%
taste = pd.DataFrame(centred.to_numpy() - np.outer(pc1, vt_svd[0]), index=item_features.index)
neighbours_of(taste, star_wars)

# %%
print("feature matrices:", lightgcn.user_embeddings_.shape, lightgcn.item_embeddings_.shape)
assert abs(popularity_corr) > 0.8
jedi = films.index[films["title"] == "Return of the Jedi"].item()
assert jedi in neighbours_of(item_features, star_wars, 3).index
assert jedi in neighbours_of(taste, star_wars, 3).index

# %% [markdown]
# Nothing about genre or plot was given to the model, only who watched what. These
# vectors are the "deep features" of the book's title: computed once, they can be
# joined to any table keyed by user or film id. As the principal components show, they
# mix two signals, popularity and taste, that a downstream model may want as separate
# features: the coordinate on the first component, and the rest of the vector.
#
# ## Summary
#
# * The user-film interactions form a bipartite graph; propagating embeddings over it
#   with $\tilde A = D^{-1/2} A D^{-1/2}$ builds the collaborative signal (users who
#   share films, films that share users) into the representation.
# * LightGCN keeps only this propagation: no weights per layer, no non-linearity, a mean
#   over layers, a dot-product score, and the BPR loss with an L2 penalty on the ego
#   embeddings. With zero layers it is matrix factorisation.
# * On MovieLens-100K one or more layers beat plain MF at equal epochs, and the tuned
#   model matches or slightly exceeds a tuned BPR-MF on the test part, at a higher cost
#   per epoch: each step propagates the whole graph.
# * The propagated embeddings are features. Their first principal component is
#   popularity; with it removed, nearest neighbours reflect taste. They can be exported
#   to other models.
#
# ## Exercises
#
# 1. Replace the layer mean by the last layer only, $e = E^{(L)}$, for $L = 3$. What
#    happens to the validation NDCG, and why (think of over-smoothing)?
# 2. Train LightGCN with batches of 1,024 and of 8,192 triples (scale the learning rate
#    with the batch, e.g. 2.5e-3 and 1e-2). How do the time per epoch and the number of
#    epochs to the best validation NDCG change?
# 3. Use the LightGCN film embeddings as item features in the click-through models of
#    Chapter 5 (protocol 3), next to the genres. Does the AUC improve? Why must the
#    embeddings be learned on the *training* interactions only?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below runs (1) and (2) with short budgets. (1) The last layer alone is worse:
# after three layers the embeddings of well-connected nodes have been averaged so often
# that they look alike (over-smoothing), and the ranking loses its personal part; the
# mean keeps each node's own embedding. (2) The time per epoch falls with larger batches
# (fewer full-graph propagations); with the learning rate scaled, the validation NDCG
# after the same number of epochs is about the same, so on a CPU large batches are the
# cheaper way to train this model. (3) Left to the
# reader: join `item_embeddings_` on the film id; the embeddings must come from the
# training part, or they carry the test interactions into the features (leakage).
# :::

# %%
from recfeat_ref.graph import to_csr


class LastLayerLightGCN(LightGCN):
    """LightGCN scoring with E^(L) instead of the layer mean (for exercise 1 only)."""

    def _export(self, embedding, adj):
        with torch.no_grad():
            x = embedding.weight
            for _ in range(self.config.n_layers):
                x = torch.sparse.mm(to_csr(adj), x)
        final = x.cpu().double().numpy()
        self.user_embeddings_, self.item_embeddings_ = final[: self.n_users_], final[self.n_users_ :]


# Only the scoring changes here; training still uses the layer mean, so this shows the
# effect of scoring with over-smoothed embeddings.
mean_model = LightGCN(n_layers=3, num_epochs=STUDY_EPOCHS, progress=False).fit(train, valid=valid)
last_model = LastLayerLightGCN(n_layers=3, num_epochs=STUDY_EPOCHS, progress=False).fit(train, valid=valid)
print(f"layer mean: {mean_model.history_[f'valid_ndcg_at_{K}'].max():.4f}, "
      f"last layer only: {last_model.history_[f'valid_ndcg_at_{K}'].max():.4f}")

for batch_size, lr in ((1024, 2.5e-3), (8192, 1e-2)):
    model = LightGCN(batch_size=batch_size, lr=lr, num_epochs=STUDY_EPOCHS, progress=False).fit(train, valid=valid)
    print(f"batch {batch_size}: {model.history_['seconds'].median():.3f} s per epoch, "
          f"best validation NDCG@{K} {model.history_[f'valid_ndcg_at_{K}'].max():.4f} at epoch {model.best_epoch_}")
