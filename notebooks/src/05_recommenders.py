# %% [markdown]
# # Recommenders side by side
#
# The source article names three families of recommendation algorithms (§2.1, and again
# §3.2 (step 4)): collaborative filtering, content-based filtering and model-based
# methods. Its §1 claims that large models 能够自动从数据中学习出丰富的特征表示，从而显著提升推荐系统的性能和泛化能力
# ("can automatically learn rich feature representations from data, and so significantly
# improve the performance and generalisation of recommender systems"), and gives no
# measurement. This chapter puts a readable implementation of each
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

from recfeat_ref.autoencoders import IAutoRec
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
# | Collaborative filtering, deep (autoencoder) | who rated what | no | `IAutoRec` {cite}`sedhain2015autorec` |
# | Content-based | film content and the user's ratings | yes | `ContentBased` {cite}`pazzani2007content` |
# | Model-based, neural, with side features | ids, demographics, genres, year | through its features | `recfeat_ref.neural` (protocol 3) |
#
# All of them implement one interface, `recfeat_ref.recommender.Recommender`: `fit` on
# a frame of raw ids, `predict` for given (user, film) rows, `score_items` for every
# film. Ranking, exclusion of already-rated films, metrics and cross-validation are
# written once, in the same module, so every model is measured the same way.
#
# (ch05-protocol-rating)=
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
    "I-AutoRec": lambda: IAutoRec(progress=False),
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
glue("best_cv_rmse", rating_table["rmse_mean"].min())

# %% [markdown]
# Biased matrix factorisation reaches an RMSE of {glue:text}`mf_cv_rmse:.4f`, against
# {glue:text}`bias_cv_rmse:.4f` for biases alone, and the best model is I-AutoRec at
# {glue:text}`best_cv_rmse:.4f` (the check below confirms which model won). I-AutoRec
# {cite}`sedhain2015autorec` is the first *deep* model of the book: an autoencoder that
# reconstructs each film's column of ratings through a 500-unit sigmoid bottleneck,
# $\hat r_i = W \sigma(V r_i + \mu) + b$, trained only on the observed entries. It wins
# because it models each film as a non-linear function of *all* users' ratings, where MF
# is bilinear. The fold-to-fold spread (about 0.003) is small against the steps between
# the tiers: mean, biases, user kNN, then item kNN and MF, then I-AutoRec. Item kNN and
# MF, a few ten-thousandths apart, are tied.
#
# The checks hold the targets the project set for this protocol: MF at or below 0.925,
# the best model at or below 0.900, and biases where Surprise's baseline lands (0.944).

# %%
assert mf_rmse <= 0.925, "biased MF must stay at or below 0.925 RMSE"
assert rating_table["rmse_mean"].min() <= 0.900, "the best model must reach 0.900"
assert best_rating_model == "I-AutoRec", "the text names I-AutoRec as the best model"
assert 0.935 < rating_table.loc["user + item biases", "rmse_mean"] < 0.955
assert (rating_table["rmse_std"] < 0.01).all()

# %% [markdown]
# (ch05-protocol-topn)=
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
# The third protocol asks the question behind the article's project (§4.2: 需要预测用户是否喜欢某件商品,
# "we need to predict whether a user likes an item") and behind most industrial rankers:
# given a user, a film and everything we know about both, will the user like it
# (rating >= 4)? Now the models see *side features*: the user's age bucket,
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

# %% [markdown]
# ## Side by side with established libraries
#
# Would a reader do better with an established library? `benchmarks/run_peers.sh`
# installs Surprise {cite}`hug2020surprise` and RecBole {cite}`zhao2021recbole` in their
# own virtual environments and runs them on *exactly* the splits above (the folds and the
# 8:1:1 parts are exported to files both sides read); `benchmarks/bench_ours.py` runs our
# models on the same splits in the same session, so the timings are comparable. Both
# write their results, with the machine they ran on, to `benchmarks/results/`; this
# section reads those files. (RecBole excludes each user's training *and* validation
# films from the test lists, as `evaluate_topn(model, train + valid, test)` does above;
# its metric formulas are the same as ours. `benchmarks/README.md` lists the remaining,
# minor, protocol differences.)

# %%
import json
from pathlib import Path

RESULTS = Path("../benchmarks/results")
peer_files = {
    "surprise": RESULTS / "surprise_ml100k_5fold.json",
    "recbole": RESULTS / "recbole_ml100k_811.json",
    "ours": RESULTS / "ours_ml100k.json",
}
have_results = all(p.exists() for p in peer_files.values())
if have_results:
    bench = {k: json.loads(p.read_text()) for k, p in peer_files.items()}
    print({k: v["machine"]["cpu"] for k, v in bench.items()})
else:  # e.g. on Colab, where only the package is installed
    print("benchmark results not found: see benchmarks/README.md in the repository")

# %% [markdown]
# **Rating prediction**, 5-fold cross-validation (mean RMSE; fit seconds per fold, one
# CPU thread each):

# %%
if have_results:
    surprise = bench["surprise"]["results"]
    ours_cv = bench["ours"]["rating_5fold"]
    rows = {
        f"Surprise {name}": {
            "RMSE": surprise[name]["rmse"]["mean"],
            "fit s/fold": surprise[name]["fit_seconds"]["mean"],
        }
        for name in ("BaselineOnly", "SVD", "SVDpp", "KNNBaseline", "KNNBaseline_item_pearson_baseline")
    } | {
        f"recfeat_ref {name}": {
            "RMSE": float(np.mean(ours_cv[name]["rmse"])),
            "fit s/fold": float(np.mean(ours_cv[name]["fit_seconds"])),
        }
        for name in ("BiasBaseline", "UserKNN", "ItemKNN", "MFRecommender", "IAutoRec")
    }
    library_ratings = pd.DataFrame(rows).T.sort_values("RMSE")
    display(library_ratings.round(4))

# %% [markdown]
# **Top-N**, the per-user 8:1:1 split (test metrics @10; seconds per training epoch).
# The table also holds the deep models of the later chapters, run by the same script
# with their defaults on the same split: Mult-DAE and Mult-VAE (chapter 6), LightGCN
# (chapter 7) and CFGAN (chapter 8). All of them rank better than BPR-MF and than every
# RecBole model here; the chapters explain why.

# %%
if have_results:
    recbole = bench["recbole"]["results"]
    ours_topn = bench["ours"]["topn_811"]
    rows = {
        f"RecBole {name}": {
            "NDCG@10": r["test"]["ndcg@10"],
            "Recall@10": r["test"]["recall@10"],
            "s/epoch": r["seconds_per_epoch_train"]["median"],
        }
        for name, r in recbole.items()
    } | {
        f"recfeat_ref {name}": {
            "NDCG@10": r["ndcg_at_k"],
            "Recall@10": r["recall_at_k"],
            "s/epoch": r.get("seconds_per_epoch_median", np.nan),
        }
        for name, r in ours_topn.items()
    }
    library_topn = pd.DataFrame(rows).T.sort_values("NDCG@10", ascending=False)
    display(library_topn.round(4))

# %% [markdown]
# Timings taken in separate runs drift with the load of a shared machine, so the speed
# targets are measured head to head: `benchmarks/head_to_head.py` runs Surprise's SVD,
# our MF, RecBole's BPR and our BPR-MF *in alternation*, three rounds, on the same
# exported splits and one CPU thread each, and reports the medians.

# %%
h2h_file = RESULTS / "head_to_head_ml100k.json"
have_h2h = have_results and h2h_file.exists()
if have_h2h:
    h2h = json.loads(h2h_file.read_text())["summary"]
    display(pd.DataFrame({
        "ours": [h2h["ours_mf_fit_seconds_per_fold"], h2h["ours_bpr_seconds_per_epoch"]],
        "peer": [h2h["svd_fit_seconds_per_fold"], h2h["recbole_bpr_seconds_per_epoch"]],
    }, index=["MF fit, s/fold (peer: Surprise SVD)", "BPR epoch, s (peer: RecBole BPR)"]).round(3))

# %%
if have_results:
    svd_fit = h2h["svd_fit_seconds_per_fold"] if have_h2h else surprise["SVD"]["fit_seconds"]["mean"]
    mf_fit = h2h["ours_mf_fit_seconds_per_fold"] if have_h2h else float(np.mean(ours_cv["MFRecommender"]["fit_seconds"]))
    recbole_bpr_epoch = (h2h["recbole_bpr_seconds_per_epoch"] if have_h2h
                         else recbole["BPR"]["seconds_per_epoch_train"]["median"])
    ours_bpr_epoch = h2h["ours_bpr_seconds_per_epoch"] if have_h2h else ours_topn["BPRMF"]["seconds_per_epoch_median"]
    best_recbole = max(r["test"]["ndcg@10"] for r in recbole.values())
    deep_topn = [ours_topn[m]["ndcg_at_k"] for m in ("MultDAE", "MultVAE", "LightGCN", "CFGAN") if m in ours_topn]
    assert all(v > max(best_recbole, ours_topn["BPRMF"]["ndcg_at_k"]) for v in deep_topn), "the text says so"
    glue("svd_fit", svd_fit)
    glue("mf_fit", mf_fit)
    glue("mf_speedup", svd_fit / mf_fit)
    glue("mf_vs_svd_rmse", surprise["SVD"]["rmse"]["mean"] - float(np.mean(ours_cv["MFRecommender"]["rmse"])))
    glue("bpr_speedup", recbole_bpr_epoch / ours_bpr_epoch)
    glue("ours_bpr_ndcg", ours_topn["BPRMF"]["ndcg_at_k"])
    glue("recbole_bpr_ndcg", recbole["BPR"]["test"]["ndcg@10"])
    glue("best_recbole_ndcg", best_recbole)
    glue("autorec_vs_svdpp", surprise["SVDpp"]["rmse"]["mean"] - float(np.mean(ours_cv["IAutoRec"]["rmse"])))

# %% [markdown]
# **Where we win, where we lose, and why.**
#
# * *Accuracy of rating prediction: we win.* Our biased MF is
#   {glue:text}`mf_vs_svd_rmse:.3f` RMSE better than Surprise's SVD on the same folds:
#   both are the same model, but ours regularises each batch's factors with tuned
#   strength (the defaults of `MFRecommenderConfig` were chosen on an inner validation
#   split) while Surprise's defaults are generic. I-AutoRec beats Surprise's best,
#   SVD++, by {glue:text}`autorec_vs_svdpp:.3f`.
# * *Speed of MF.* Surprise fits SVD in {glue:text}`svd_fit:.2f` s per fold, ours in
#   {glue:text}`mf_fit:.2f` s (Surprise's time divided by ours:
#   {glue:text}`mf_speedup:.2f`). Surprise's SGD loop is compiled Cython that touches one
#   rating at a time. Ours runs mini-batches through PyTorch, whose fixed cost per batch
#   dominates on a problem this small; three choices pay for it: large batches (8,192
#   ratings, with a larger step, validated to fit as well), 15 epochs instead of 20, and
#   a hand-written backward pass (`recfeat_ref.mf._MFBatch`: Koren's SGD gradients,
#   scattered with `index_add_`, tested equal to autograd's) instead of autograd's dozen
#   small graph nodes. The same code runs unchanged on a GPU.
# * *Top-N: accuracy and speed.* Our BPR-MF reaches NDCG@10
#   {glue:text}`ours_bpr_ndcg:.3f` against RecBole's {glue:text}`recbole_bpr_ndcg:.3f`
#   (its best model here: {glue:text}`best_recbole_ndcg:.3f`), and an epoch is
#   {glue:text}`bpr_speedup:.1f` times faster. RecBole draws each negative through a
#   general-purpose sampler and a per-batch `Interaction` object; ours samples all
#   negatives of an epoch at once (a vectorised rejection sampler with a dense
#   membership table), and its backward pass is Rendle's LearnBPR gradients written
#   out (`recfeat_ref.mf._BPRBatch`, tested equal to autograd).
#
# RecBole's LightGCN deserves a footnote: with RecBole's early-stopping patience of 10 it
# stopped on a plateau; with patience 50 it reached a higher NDCG@10 than any model here
# (`benchmarks/results/recbole_ml100k_811_lightgcn_stopping50.json`), after 300 epochs
# and nearly five minutes. Graph models are the subject of a later chapter.

# %%
if have_results:
    assert float(np.mean(ours_cv["MFRecommender"]["rmse"])) <= surprise["SVD"]["rmse"]["mean"]
    assert ours_topn["BPRMF"]["ndcg_at_k"] >= recbole["BPR"]["test"]["ndcg@10"]
    assert recbole_bpr_epoch / ours_bpr_epoch > 1.5, "the text says our BPR epoch is faster"
    assert mf_fit < 2 * svd_fit, "the text compares the fits as of the same order"

# %% [markdown]
# ## Summary
#
# * The three families use different information: baselines use counts, collaborative
#   filtering uses the pattern of who rated what, content-based filtering uses what a
#   film is, and feature-based neural models use all of it.
# * For predicting stars, regularised MF and item kNN tie near 0.91 RMSE and the
#   autoencoder I-AutoRec reaches 0.89; for ranking, BPR-MF, trained to rank, doubles
#   popularity's NDCG@10; for click-through prediction with side features, DeepFM and
#   DCN-v2 beat FM and logistic regression by margins larger than their spread.
# * A comparison is a mean, a spread and a baseline, measured on identical splits; the
#   same splits run through Surprise and RecBole put our numbers in context.
#
# ## Exercises
#
# 1. Average the predictions of I-AutoRec and item kNN (equal weights) on the five
#    folds. Does the blend beat both? Why can averaging two models with correlated
#    errors still help?
# 2. Train BPR-MF with 16 and with 128 factors. How do NDCG@10 and the time per epoch
#    change?
# 3. In protocol 3, drop the user and item ids from the fields (keep only the side
#    features). How much AUC do DeepFM and logistic regression lose? What does that say
#    about what the ids carry?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below runs (1) and (2). (1) The blend is better than either model: their
# errors are correlated but not identical, and averaging cancels part of the
# uncorrelated remainder. (2) More factors cost more time per epoch, though less than in
# proportion (fixed costs per batch dominate at this size), and move NDCG@10 only a
# little; compare the printed numbers with the table. (3) Left to the reader: pass
# `fields=("age_bucket", "gender", "occupation", "year_bucket")` to
# a `recfeat_ref.ctr.CTRFeaturizer`, fit it on the training frame of `ctr_split`, and
# rerun protocol 3; compare the AUCs with the table above. The NeuMF row already hints at
# the answer from the other side: ids alone do about as well as ids plus side features.
# :::

# %%
from recfeat_ref import metrics as M

blend_rmse, autorec_rmse, knn_rmse = [], [], []
for fold, (train_f, test_f) in enumerate(kfold_split(ratings, n_splits=N_FOLDS, seed=SEED)):
    if fold > 0:  # one fold keeps the solution quick; use all five for the full answer
        break
    a = IAutoRec(progress=False).fit(train_f).predict(test_f)
    b = ItemKNN(similarity=best_similarity).fit(train_f).predict(test_f)
    y = test_f["rating"].to_numpy()
    autorec_rmse.append(M.rmse(y, a))
    knn_rmse.append(M.rmse(y, b))
    blend_rmse.append(M.rmse(y, (a + b) / 2))
print(f"I-AutoRec {np.mean(autorec_rmse):.4f}, item kNN {np.mean(knn_rmse):.4f}, blend {np.mean(blend_rmse):.4f}")
assert np.mean(blend_rmse) < min(np.mean(autorec_rmse), np.mean(knn_rmse))

for n_factors in (16, 128):
    model = BPRMF(n_factors=n_factors, progress=False).fit(train, valid=valid)
    report = evaluate_topn(model, seen, test, k=K)
    print(f"BPR-MF, {n_factors} factors: NDCG@{K} {report['ndcg_at_k']:.4f}, "
          f"{model.history_['seconds'].median():.3f} s per epoch")
