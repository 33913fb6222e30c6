# %% [markdown]
# # Recommenders side by side
#
# The source article names three families of recommendation algorithms,
# collaborative filtering, content-based filtering and model-based methods, and claims
# that deep models improve on them. This chapter puts a readable implementation of each
# family from `recfeat_ref` on MovieLens-100K and compares them under three protocols,
# each answering a different question:
#
# 1. **Rating prediction**: how many stars? 5-fold cross-validation, RMSE and MAE.
# 2. **Top-N recommendation**: which ten films? A per-user 8:1:1 split, every film
#    ranked for every user, Recall, NDCG, Hit rate and MRR at 10.
# 3. **Click-through style**: will the user like it (rating >= 4), given who they are and
#    what the film is? ROC-AUC and log loss.
#
# Every number below is computed by this notebook; hyper-parameters are given next to
# each table and were chosen on validation data only.
#
# **You will learn** how the families differ in what they use and what they can
# predict; why the best rating predictor is not the best ranker; and how to read a
# comparison honestly: a mean, a spread, and a baseline.

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
SEED = 0
N_FOLDS = 5  # rating cross-validation
K = 10  # recommendation list length
RATIOS = (0.8, 0.1, 0.1)  # per-user train / validation / test for top-N

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recfeat_ref.baselines import BiasBaseline, GlobalMean, Popularity
from recfeat_ref.book import glue
from recfeat_ref.content import ContentBased
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.knn import ItemKNN, UserKNN
from recfeat_ref.mf import BPRMF, MFRecommender
from recfeat_ref.recommender import (
    cross_validate_ratings,
    evaluate_ratings,
    evaluate_topn,
)
from recfeat_ref.splits import kfold_split, random_split, ratio_split_by_user

ml = load_movielens_100k(verbose=False)
ratings = ml.ratings

# %% [markdown]
# ## The three families
#
# | Family | Uses | Can score a new film? | In `recfeat_ref` |
# |---|---|---|---|
# | Baselines | counts and averages | popularity: no | `GlobalMean`, `BiasBaseline`, `Popularity` |
# | Collaborative filtering, neighbourhood | who rated what | no | `ItemKNN`, `UserKNN` {cite}`sarwar2001item,koren2010factor` |
# | Collaborative filtering, model-based | who rated what | no | `MFRecommender` {cite}`koren2009matrix`, `BPRMF` {cite}`rendle2009bpr` |
# | Content-based | film content and the user's ratings | yes | `ContentBased` {cite}`pazzani2007content` |
# | Model-based, neural, with side features | ids, demographics, genres, year | through its features | `recfeat_ref.neural` (protocol 3) |
#
# All of them implement one interface, `recfeat_ref.recommender.Recommender`: `fit` on
# a frame of raw ids, `predict` for given (user, film) rows, `score_items` for every
# film. Ranking, exclusion of already-rated films, metrics and cross-validation are
# written once, in the same module, so every model is measured the same way.
#
# ## Protocol 1: rating prediction
#
# The task of the Netflix Prize: predict the held-out stars. We cut the 100,000 ratings
# into five folds; each is the test set once. The metrics are
#
# $$
# \mathrm{RMSE} = \sqrt{\frac{1}{|T|}\sum_{(u,i) \in T} (r_{ui} - \hat r_{ui})^2},
# \qquad
# \mathrm{MAE} = \frac{1}{|T|}\sum_{(u,i) \in T} |r_{ui} - \hat r_{ui}| .
# $$ (eq-rec-rmse)
#
# **Choosing hyper-parameters without touching a test fold.** Item-kNN has a choice of
# similarity. We decide it on an inner validation split of the first fold's training
# part, exactly as the defaults of `MFRecommender` were tuned (its docstring has the
# table).

# %%
first_train, _ = next(kfold_split(ratings, n_splits=N_FOLDS, seed=SEED))
inner_train, inner_valid = random_split(first_train, ratios=(0.9, 0.1), seed=1)
selection = {
    similarity: evaluate_ratings(
        ItemKNN(similarity=similarity).fit(inner_train), inner_valid
    )["rmse"]
    for similarity in ("cosine", "pearson_baseline")
}
best_similarity = min(selection, key=selection.get)
pd.Series(selection, name="inner-validation RMSE").round(4)

# %% [markdown]
# Now the cross-validation itself. Each model is built fresh for each fold.

# %%
rating_models = {
    "global mean": lambda: GlobalMean(),
    "user + item biases": lambda: BiasBaseline(),
    "user kNN": lambda: UserKNN(),
    f"item kNN ({best_similarity})": lambda: ItemKNN(similarity=best_similarity),
    "biased MF": lambda: MFRecommender(progress=False),
}
cv = pd.concat(
    {
        name: cross_validate_ratings(
            make, ratings, n_splits=N_FOLDS, seed=SEED, progress=False
        )
        for name, make in rating_models.items()
    },
    names=["model"],
).reset_index(level=0)
rating_table = cv.groupby("model", sort=False).agg(
    rmse_mean=("rmse", "mean"),
    rmse_std=("rmse", "std"),
    mae_mean=("mae", "mean"),
    fit_seconds=("fit_seconds", "mean"),
)
rating_table.round(4)

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.barh(
    rating_table.index,
    rating_table["rmse_mean"],
    xerr=rating_table["rmse_std"],
    color="tab:blue",
)
ax.set_xlim(0.85, 1.15)
ax.set_xlabel(f"RMSE, mean over {N_FOLDS} folds (bars: one standard deviation)")
ax.invert_yaxis()
ax.set_title("Rating prediction on MovieLens-100K");

# %%
mf_rmse = rating_table.loc["biased MF", "rmse_mean"]
best_rating_model = rating_table["rmse_mean"].idxmin()
glue("mf_cv_rmse", mf_rmse)
glue("bias_cv_rmse", rating_table.loc["user + item biases", "rmse_mean"])
glue("best_rating_model", best_rating_model, display=False)
glue("best_cv_rmse", rating_table["rmse_mean"].min())

# %% [markdown]
# Biased matrix factorisation reaches an RMSE of {glue:text}`mf_cv_rmse:.4f`, against
# {glue:text}`bias_cv_rmse:.4f` for biases alone. For scale: Surprise
# {cite}`hug2020surprise` reports 0.934 for its SVD and 0.944 for its baseline on the
# same protocol. The fold-to-fold spread (about 0.003) is a tenth of the gaps between
# families, so the ordering is not noise. The checks hold the two numbers the issue
# tracker set as targets.

# %%
assert mf_rmse <= 0.925, "biased MF must stay at or below 0.925 RMSE"
assert 0.935 < rating_table.loc["user + item biases", "rmse_mean"] < 0.955
assert (rating_table["rmse_std"] < 0.01).all()

# %% [markdown]
# ## Protocol 2: top-N recommendation
#
# A recommender is judged by the list it shows. We split each user's ratings 8:1:1 at
# random, train on the first part, stop early and choose settings on the second, and
# test on the third. For every user, every film not rated in training (or validation) is
# ranked: no sampled candidates, which bias the comparison {cite}`krichene2020sampled`.
# A test film counts as relevant whatever its rating, the convention of RecBole
# {cite}`zhao2021recbole`, whose numbers we compare with below.

# %%
# NBVAL_CHECK_OUTPUT
train, valid, test = ratio_split_by_user(ratings, ratios=RATIOS, seed=SEED)
seen = pd.concat([train, valid])  # excluded from the test lists
print(len(train), len(valid), len(test))

# %% [markdown]
# The models. kNN and popularity have no training loop; BPR-MF stops early on the
# validation NDCG@10; `ContentBased` needs the film table for its features.

# %%
topn_models = {
    "popularity": Popularity(),
    "content-based (genres, decade, title)": ContentBased(ml.items),
    "user kNN": UserKNN(mode="ranking"),
    "item kNN": ItemKNN(mode="ranking"),
    "BPR-MF": BPRMF(progress=False),
}
rows = {}
for name, model in topn_models.items():
    if isinstance(model, BPRMF):
        model.fit(train, valid=valid)
    else:
        model.fit(train)
    rows[name] = evaluate_topn(model, seen, test, k=K) | {
        "fit_seconds": model.fit_seconds_
    }
topn_table = pd.DataFrame(rows).T
topn_table = topn_table.rename(columns=lambda c: c.replace("_at_k", f"@{K}"))
topn_table[[f"recall@{K}", f"ndcg@{K}", f"hit_rate@{K}", f"mrr@{K}", "fit_seconds"]].round(4)

# %%
ax = topn_table[[f"recall@{K}", f"ndcg@{K}", f"mrr@{K}"]].plot.barh(
    figsize=(7, 4)
)
ax.invert_yaxis()
ax.set_xlabel(f"metric @{K}")
ax.set_title("Top-10 recommendation, MovieLens-100K (per-user 8:1:1)");

# %%
bpr = topn_models["BPR-MF"]
glue("bpr_ndcg", topn_table.loc["BPR-MF", f"ndcg@{K}"])
glue("pop_ndcg_811", topn_table.loc["popularity", f"ndcg@{K}"])
glue("bpr_epoch_seconds", float(bpr.history_["seconds"].median()))

# %% [markdown]
# BPR-MF, trained to rank observed films above unobserved ones, reaches NDCG@10
# {glue:text}`bpr_ndcg:.3f`, twice popularity's {glue:text}`pop_ndcg_811:.3f`, at
# {glue:text}`bpr_epoch_seconds:.3f` s per training epoch. The neighbourhood methods
# come close without any training loop. Content-based scoring on genres, decade and title
# words is far behind: on this data set what other people watched says much more than
# what a film is about. Its strength is elsewhere: it can score a film nobody has rated.
#
# Compare with Chapter 2, where biased MF trained on squared error *ranked* worse than
# popularity: the loss decides what a model is good at.

# %%
assert topn_table.loc["BPR-MF", f"ndcg@{K}"] > 1.5 * topn_table.loc["popularity", f"ndcg@{K}"]
assert topn_table.loc["item kNN", f"ndcg@{K}"] > topn_table.loc["popularity", f"ndcg@{K}"]
assert topn_table.loc["content-based (genres, decade, title)", f"ndcg@{K}"] < topn_table.loc["popularity", f"ndcg@{K}"]

# %% [markdown]
# ## Protocol 3: click-through style prediction with side features
#
# The third protocol asks the question behind the article's project and behind most
# industrial rankers: given a user, a film and everything we know about both, will the
# user like it (rating >= 4)? Now the models see *side features*: the user's age bucket,
# gender and occupation, and the film's decade and genres, next to the two ids.
# `CTRFeaturizer` encodes each field with its own encoder fitted on the training rows
# (unseen values map to 0), and the genres as a bag.
#
# The models, from least to most expressive {cite}`zhang2019deep`:
#
# * **logistic regression**: one weight per field value, $z = b + \sum_f w_{x_f}$;
# * **factorisation machine** {cite}`rendle2010factorization`: adds every pairwise
#   interaction through embeddings, $z = b + \sum_f w_{x_f} + \sum_{f < g} \langle v_{x_f}, v_{x_g} \rangle$;
# * **DeepFM** {cite}`guo2017deepfm`: an FM plus an MLP on the same embeddings;
# * **DCN-v2** {cite}`wang2021dcn`: explicit cross layers
#   $x_{l+1} = x_0 \odot (W_l x_l + b_l) + x_l$ beside an MLP;
# * **NeuMF** {cite}`he2017neural`: generalised MF plus an MLP, on the two ids only.
#
# Every model is trained with `Trainer` and `BCEWithLogitsLoss`, stopped early on the
# validation AUC (patience 5), on three random 80/10/10 splits (seeds 0, 1, 2). The
# settings below were chosen on the seed-0 validation split (embedding size 16; the
# module docstrings give the sweeps).

# %%
import torch
from torch import nn

from recfeat_ref import metrics
from recfeat_ref.ctr import build_ctr_features
from recfeat_ref.neural import (
    FM,
    DCNv2,
    DCNv2Config,
    DeepFM,
    DeepFMConfig,
    FMConfig,
    LogisticRegression,
    LRConfig,
    NeuMF,
    NeuMFConfig,
)
from recfeat_ref.training import TrainConfig, Trainer, seed_everything

CTR_SEEDS = (0, 1, 2)
CTR_MODELS = {  # name: (build from the featurizer, learning rate, weight decay)
    "logistic regression": (lambda f: LogisticRegression(LRConfig(f.field_dims_, f.multi_dims_)), 1e-2, 0.0),
    "FM": (lambda f: FM(FMConfig(f.field_dims_, f.multi_dims_)), 1e-2, 3e-5),
    "DeepFM": (lambda f: DeepFM(DeepFMConfig(f.field_dims_, f.multi_dims_)), 1e-2, 1e-4),
    "DCN-v2": (lambda f: DCNv2(DCNv2Config(f.field_dims_, f.multi_dims_)), 1e-2, 1e-4),
    "NeuMF (ids only)": (lambda f: NeuMF(NeuMFConfig(f.field_dims_[0], f.field_dims_[1])), 1e-3, 1e-5),
}


def ctr_inputs(name, batch):
    """NeuMF takes (users, items); the feature models take (x_cat, x_multi)."""
    if name.startswith("NeuMF"):
        return batch.x_cat[:, 0], batch.x_cat[:, 1]
    return batch.inputs


# %% [markdown]
# One training run per model and seed:

# %%
ctr_rows = []
for seed in CTR_SEEDS:
    data = build_ctr_features(ml, seed=seed)
    for name, (build, lr, weight_decay) in CTR_MODELS.items():
        seed_everything(seed)
        config = TrainConfig(
            num_epochs=30, lr=lr, weight_decay=weight_decay, patience=5,
            monitor="valid_auc", mode="max", seed=seed, progress=False,
        )
        trainer = Trainer(
            build(data.featurizer), nn.BCEWithLogitsLoss(), config,
            metrics={"auc": metrics.roc_auc}, output_transform=torch.sigmoid,
        )
        history = trainer.fit(
            (ctr_inputs(name, data.train), data.train.y),
            (ctr_inputs(name, data.valid), data.valid.y),
        )
        p = trainer.predict(ctr_inputs(name, data.test)).numpy().astype(float)
        y = data.test.y.numpy()
        ctr_rows.append({
            "model": name, "seed": seed,
            "auc": metrics.roc_auc(y, p), "log_loss": metrics.log_loss(y, p),
            "epochs": len(history), "seconds_per_epoch": history["seconds"].mean(),
        })
ctr = pd.DataFrame(ctr_rows)
ctr_table = ctr.groupby("model", sort=False).agg(
    auc_mean=("auc", "mean"), auc_std=("auc", "std"),
    log_loss_mean=("log_loss", "mean"), log_loss_std=("log_loss", "std"),
    seconds_per_epoch=("seconds_per_epoch", "mean"),
)
ctr_table.round(4)

# %% [markdown]
# The split and the initialisation both change with the seed, so the spread of a single
# model mixes the two. A comparison between two models is sharper when *paired*: the
# difference on the same split, seed by seed.

# %%
auc_by_seed = ctr.pivot(index="seed", columns="model", values="auc")
margins = pd.DataFrame({
    f"{a} - {b}": auc_by_seed[a] - auc_by_seed[b]
    for a, b in [("DeepFM", "FM"), ("DCN-v2", "FM"), ("DeepFM", "logistic regression"),
                 ("DCN-v2", "logistic regression"), ("DCN-v2", "NeuMF (ids only)")]
})
margin_table = margins.agg(["mean", "std", "min"]).T
margin_table.round(4)

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, grp in ctr.groupby("model", sort=False):
    ax.plot(grp["seed"], grp["auc"], marker="o", label=name)
ax.set_xticks(list(CTR_SEEDS))
ax.set_xlabel("seed (split and initialisation)")
ax.set_ylabel("test ROC-AUC")
ax.set_title("Click-through protocol, MovieLens-100K")
ax.legend(fontsize=8);

# %%
glue("deepfm_fm_margin", margin_table.loc["DeepFM - FM", "mean"])
glue("deepfm_fm_margin_std", margin_table.loc["DeepFM - FM", "std"])
glue("dcn_fm_margin", margin_table.loc["DCN-v2 - FM", "mean"])
glue("deepfm_auc", ctr_table.loc["DeepFM", "auc_mean"])
glue("lr_auc", ctr_table.loc["logistic regression", "auc_mean"])
glue("dcn_neumf_margin", margin_table.loc["DCN-v2 - NeuMF (ids only)", "mean"])
glue("dcn_neumf_margin_std", margin_table.loc["DCN-v2 - NeuMF (ids only)", "std"])

# %% [markdown]
# The deep models earn their keep, modestly. DeepFM reaches a mean test AUC of
# {glue:text}`deepfm_auc:.4f` against {glue:text}`lr_auc:.4f` for logistic regression,
# and beats FM by {glue:text}`deepfm_fm_margin:.4f` AUC (standard deviation over seeds
# {glue:text}`deepfm_fm_margin_std:.4f`); DCN-v2 beats FM by
# {glue:text}`dcn_fm_margin:.4f`. Both margins are positive on every seed (the `min`
# column), several standard deviations from zero. NeuMF, which sees only the two ids, is
# within noise of DCN-v2 (margin {glue:text}`dcn_neumf_margin:.4f` $\pm$
# {glue:text}`dcn_neumf_margin_std:.4f`): on MovieLens, most of what the side features
# say about a user is already in the user's id once that user has rated a few dozen
# films. Side features matter most where ids say little: new users and new films, the
# subject of the cold-start sections later in the book.

# %%
for deep in ("DeepFM", "DCN-v2"):
    for shallow in ("FM", "logistic regression"):
        assert margins[f"{deep} - {shallow}"].min() > 0, f"{deep} must beat {shallow} on every seed"
assert 0.76 < ctr_table.loc["logistic regression", "auc_mean"] < 0.80
assert 0.78 < ctr_table.loc["DeepFM", "auc_mean"] < 0.82
