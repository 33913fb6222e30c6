# %% [markdown]
# # Data augmentation for interaction data
#
# The source article's §3.2 (step 1) lists data augmentation among the preprocessing
# done 在应用大模型之前 ("before applying the large model"), and illustrates it with
# rotation, scaling and cropping: 通过旋转、缩放、裁剪等操作，增加数据集的多样性，提高模型的泛化能力
# ("by rotating, scaling, cropping and similar operations, increase the diversity of the
# data set and improve the model's generalisation"). Those are *image* augmentations,
# and they do not transfer to recommendation: they rely on invariances of pictures (a
# rotated or slightly enlarged cat is still a cat), and an interaction log has no such
# geometry. A user's set of films cannot be rotated, and a (user, film) pair has no
# scale to change. The article is right that augmentation has a place in a
# recommender's preprocessing (its §4.3 lists it again, for a log of user behaviour),
# but its examples are the wrong ones. This chapter shows the
# augmentations that fit interaction data. It implements them in
# `recfeat_ref.augment` and measures three on MovieLens-100K: one that hurts, one whose
# effect is too small to tell from noise, and one that helps.
#
# **You will learn** what can be augmented in interaction data (the negatives, the
# positives, the order of a sequence); how popularity-weighted negative sampling and
# per-epoch dropping of positives change BPR-MF; why the same noise helps a denoising
# autoencoder; how to judge a small difference
# against the spread over random seeds; and how crop, mask and reorder make the two
# "views" of a sequence that contrastive sequential models learn from.

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
# Every model is BPR-MF with the defaults of `recfeat_ref.mf.BPRConfig` (tuned on the
# validation part of this split in the chapter on recommenders) and early stopping on
# the validation NDCG@10. Each setting is trained with three model seeds (initial
# weights, negatives, batch order) on the *same* split; on a GPU (`FULL`) five seeds.
# The exponent `beta` is chosen on validation data only; the test part is used only
# for the final numbers.

# %%
import torch

FULL = torch.cuda.is_available()
SPLIT_SEED = 0  # the per-user 8:1:1 split
SEEDS = (0, 1, 2, 3, 4) if FULL else (0, 1, 2)  # model seeds
K = 10  # list length
RATIOS = (0.8, 0.1, 0.1)  # per-user train / validation / test
BETAS = (0.25, 0.5, 0.75, 1.0)  # popularity exponents tried on validation
DROP_RATES = (0.1, 0.3)  # fractions of the positives dropped per epoch

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recfeat_ref.augment import (
    PopularityNegativeSampler,
    add_random_interactions,
    crop,
    mask,
    reorder,
)
from recfeat_ref.autoencoders import MultDAE
from recfeat_ref.baselines import Popularity
from recfeat_ref.book import glue
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.mf import BPRMF, NegativeSampler
from recfeat_ref.recommender import evaluate_topn
from recfeat_ref.sequential import pad_sequences, user_sequences
from recfeat_ref.splits import ratio_split_by_user

torch.set_num_threads(1)
START = time.process_time()
ml = load_movielens_100k(verbose=False)
ratings = ml.ratings
train, valid, test = ratio_split_by_user(ratings, RATIOS, seed=SPLIT_SEED)
seen = pd.concat([train, valid])  # excluded from the test lists
print(f"train {len(train):,}, valid {len(valid):,}, test {len(test):,} rows")

# %% [markdown]
# (ch13-what-to-augment)=
# ## What can be augmented in interaction data
#
# Image augmentation adds transformed copies of a training example that keep its
# label {cite}`shorten2019survey`. In implicit-feedback recommendation the examples are
# (user, item) positives and the negatives they are contrasted with, so augmentation
# changes *which* examples the model sees:
#
# | What is changed | Augmentation | In `recfeat_ref.augment` |
# |---|---|---|
# | the negatives | draw them from a non-uniform distribution, e.g. popularity{sup}`beta` {cite}`mikolov2013distributed,rendle2014improving` | `PopularityNegativeSampler` |
# | the positives | drop a random fraction each epoch (interaction dropout; edge dropout on the user-item graph {cite}`wu2021sgl`) | `drop_interactions`, `keep_index` |
# | the positives | add random unobserved pairs (false positives, a robustness test) | `add_random_interactions` |
# | a sequence | crop, mask or reorder it to make two views for contrastive learning {cite}`xie2022contrastive` | `crop`, `mask`, `reorder` |
#
# None of these preserves a label in the way a rotation does. A dropped positive is
# treated as unobserved for that epoch, and a popular negative may be a film the user
# would have liked. Whether an augmentation helps is therefore an empirical question,
# and it has to be answered on validation data.
#
# ## Popularity-weighted negatives
#
# BPR {cite}`rendle2009bpr` contrasts each positive $i$ of user $u$ with a negative $j$
# and maximises $\ln \sigma(\hat x_{ui} - \hat x_{uj})$. The gradient on a triple is
# proportional to $\sigma(\hat x_{uj} - \hat x_{ui})$. With uniform negatives $j$ is
# usually an obscure film that the model already ranks far below $i$, so most triples
# contribute almost nothing. Rendle and Freudenthaler {cite}`rendle2014improving`
# proposed drawing harder negatives instead. The simplest version is the word2vec
# distribution {cite}`mikolov2013distributed`, restricted to the items $u$ has not
# interacted with:
#
# $$P(j \mid u) = \frac{n_j^{\beta}}{\sum_{k \notin I_u} n_k^{\beta}}, \qquad j \notin I_u,$$
#
# where $n_j$ counts item $j$'s training positives. $\beta = 0$ is uniform sampling and
# $\beta = 1$ samples items in proportion to how often they occur.
# `PopularityNegativeSampler` draws from $n_j^\beta$ and rejects draws that hit one of
# the user's positives, which gives exactly $P(j \mid u)$. The cell below compares
# the two samplers on the training data: how often a negative is one of the 100 most
# popular films.

# %%
item_codes, item_ids = pd.factorize(train["item_id"], sort=True)
user_codes, _ = pd.factorize(train["user_id"], sort=True)
n_items = len(item_ids)
popularity = np.bincount(item_codes, minlength=n_items)  # (I,) training positives per film
top100 = np.argsort(-popularity)[:100]
query = torch.as_tensor(user_codes)
samplers = {"uniform": NegativeSampler(user_codes, item_codes, n_items)}
samplers |= {f"beta={b}": PopularityNegativeSampler(user_codes, item_codes, n_items, beta=b) for b in (0.5, 0.75, 1.0)}
top_share = {}
for name, sampler in samplers.items():
    neg = sampler.sample(query, torch.Generator().manual_seed(0)).numpy()
    top_share[name] = np.isin(neg, top100).mean()
top_share = pd.Series(top_share, name="share of negatives among the 100 most popular films")
top_share.to_frame().round(3)

# %%
glue("top100_uniform", top_share["uniform"])
glue("top100_beta075", top_share["beta=0.75"])
glue("top100_pos", np.isin(item_codes, top100).mean())
assert top_share["uniform"] < top_share["beta=0.5"] < top_share["beta=0.75"] < top_share["beta=1.0"]

# %% [markdown]
# The 100 most popular films hold {glue:text}`top100_pos:.3f` of the training positives. A
# uniform negative is one of them {glue:text}`top100_uniform:.3f` of the time, a
# negative drawn with $\beta = 0.75$ {glue:text}`top100_beta075:.3f` of the time. The
# popularity sampler therefore asks the model a harder question: not "is this film
# better for $u$ than a random obscure one?", but "is it better than the popular films
# $u$ did not choose?".
#
# ## The experiment
#
# One function trains BPR-MF with early stopping on the validation part and reports
# the validation NDCG@10 of the kept epoch, and NDCG@10 and Recall@10 on the test part,
# ranking the whole catalogue minus each user's training and validation films.

# %%
def run(seed, **params):
    """Fit BPR-MF with ``params`` and a model seed; validation and test metrics."""
    model = BPRMF(seed=seed, progress=False, **params).fit(train, valid=valid)
    history = model.history_.set_index("epoch")
    report = evaluate_topn(model, seen, test, k=K)
    return model, {
        "seed": seed,
        "valid_ndcg": history.loc[model.best_epoch_, f"valid_ndcg_at_{K}"],
        "test_ndcg": report["ndcg_at_k"],
        "test_recall": report["recall_at_k"],
        "best_epoch": model.best_epoch_,
    }


# %% [markdown]
# First, uniform negatives (the default), once per seed.

# %%
rows, models = [], {}
for seed in SEEDS:
    model, row = run(seed)
    rows.append({"setting": "uniform", **row})
    models["uniform", seed] = model
pd.DataFrame(rows).round(4)

# %% [markdown]
# Next, choose $\beta$ on the validation NDCG@10 (first seed only), then train the
# chosen $\beta$ with the other seeds.

# %%
beta_rows = []
for beta in BETAS:
    model, row = run(SEEDS[0], negatives="popularity", popularity_beta=beta)
    beta_rows.append({"beta": beta, **row})
    models[f"beta={beta}", SEEDS[0]] = model
beta_table = pd.DataFrame(beta_rows).set_index("beta")
best_beta = float(beta_table["valid_ndcg"].idxmax())
print(f"beta chosen on validation: {best_beta}")
beta_table[["valid_ndcg", "best_epoch"]].round(4)

# %%
pop_name = f"popularity, beta={best_beta}"
for seed in SEEDS:
    if seed == SEEDS[0]:
        model, row = models[f"beta={best_beta}", seed], beta_rows[BETAS.index(best_beta)]
        row = {k: v for k, v in row.items() if k != "beta"}
    else:
        model, row = run(seed, negatives="popularity", popularity_beta=best_beta)
    rows.append({"setting": pop_name, **row})
    models[pop_name, seed] = model

# %% [markdown]
# Finally, dropping a random fraction of the positives in every epoch (a new subset
# each epoch, `BPRConfig(drop_rate=...)`). Both rates are trained with every seed.

# %%
for rate in DROP_RATES:
    for seed in SEEDS:
        model, row = run(seed, drop_rate=rate)
        rows.append({"setting": f"drop {rate:.0%} of positives", **row})
results = pd.DataFrame(rows)

# %% [markdown]
# ## Results
#
# Mean and standard deviation over the seeds. Because the seeds share the split, the
# difference to uniform negatives is also computed *per seed* (same seed, both
# settings), which removes part of the shared noise. This notebook counts a difference as
# real only if its mean exceeds twice the seed standard deviation of both settings.
# With three seeds this rule is rough. It does not account for the split either: another
# split would move all numbers by about as much again.

# %%
metrics_cols = ["valid_ndcg", "test_ndcg", "test_recall"]
summary = results.groupby("setting", sort=False)[metrics_cols].agg(["mean", "std"])
base = results[results.setting == "uniform"].set_index("seed")
diffs = {}
for setting, part in results.groupby("setting", sort=False):
    d = part.set_index("seed")["test_ndcg"] - base["test_ndcg"]
    diffs[setting] = {"diff_mean": d.mean(), "diff_std": d.std()}
summary[("test_ndcg", "diff to uniform")] = pd.DataFrame(diffs).T["diff_mean"]
summary[("test_ndcg", "diff std")] = pd.DataFrame(diffs).T["diff_std"]
summary.round(4)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, col, label in zip(axes, ["test_ndcg", "test_recall"], [f"NDCG@{K}", f"Recall@{K}"]):
    ax.barh(summary.index, summary[(col, "mean")], xerr=summary[(col, "std")], color="tab:blue", capsize=4)
    ax.set_xlabel(f"test {label} (mean, std over {len(SEEDS)} seeds)")
    ax.invert_yaxis()
fig.suptitle("BPR-MF on ML-100K with augmentations")
fig.tight_layout();

# %%
def verdict(setting):
    """+1 helps, -1 hurts, 0 within noise (rule in the text)."""
    d = summary.loc[setting, ("test_ndcg", "diff to uniform")]
    noise = 2 * max(summary.loc[setting, ("test_ndcg", "std")], summary.loc["uniform", ("test_ndcg", "std")])
    return int(np.sign(d)) if abs(d) > noise else 0


drop_names = [f"drop {r:.0%} of positives" for r in DROP_RATES]
uni = summary.loc["uniform"]
pop = summary.loc[pop_name]
glue("uni_ndcg", uni[("test_ndcg", "mean")])
glue("uni_ndcg_std", uni[("test_ndcg", "std")])
glue("uni_recall", uni[("test_recall", "mean")])
glue("best_beta", best_beta)
glue("pop_ndcg", pop[("test_ndcg", "mean")])
glue("pop_ndcg_std", pop[("test_ndcg", "std")])
glue("pop_recall", pop[("test_recall", "mean")])
glue("pop_epoch", results[results.setting == pop_name]["best_epoch"].mean())
glue("uni_epoch", results[results.setting == "uniform"]["best_epoch"].mean())
glue("beta_min_valid", beta_table["valid_ndcg"].min())
glue("epoch_small_beta", beta_table["best_epoch"].iloc[0])
glue("epoch_large_beta", beta_table["best_epoch"].iloc[-1])
glue("beta_max_valid", beta_table["valid_ndcg"].max())
glue("uni_valid", uni[("valid_ndcg", "mean")])
for rate, name in zip(DROP_RATES, drop_names):
    tag = f"drop{round(rate * 100)}"
    glue(f"{tag}_ndcg", summary.loc[name, ("test_ndcg", "mean")])
    glue(f"{tag}_ndcg_std", summary.loc[name, ("test_ndcg", "std")])
    glue(f"{tag}_diff", summary.loc[name, ("test_ndcg", "diff to uniform")])
    glue(f"{tag}_diff_std", summary.loc[name, ("test_ndcg", "diff std")])
print({name: verdict(name) for name in [pop_name, *drop_names]})
assert abs(uni[("test_ndcg", "mean")] - 0.30) < 0.02  # the chapter on recommenders: 0.305 with seed 0
assert verdict(pop_name) == -1  # popularity negatives hurt, by far more than the noise
assert beta_table["valid_ndcg"].max() < uni[("valid_ndcg", "mean")]  # every beta is worse on validation too
assert beta_table["valid_ndcg"].is_monotonic_decreasing  # the closer to uniform (beta = 0), the better
assert all(verdict(name) <= 0 for name in drop_names)  # dropping positives does not help

# %% [markdown]
# **Popularity negatives hurt.** Every $\beta$ validated worse than uniform sampling
# (validation NDCG@10 between {glue:text}`beta_min_valid:.3f` and
# {glue:text}`beta_max_valid:.3f`, against {glue:text}`uni_valid:.3f`), and the least
# bad one, $\beta =$ {glue:text}`best_beta:.2f`, reaches test NDCG@10
# {glue:text}`pop_ndcg:.3f` ± {glue:text}`pop_ndcg_std:.3f` against
# {glue:text}`uni_ndcg:.3f` ± {glue:text}`uni_ndcg_std:.3f` for uniform negatives
# (Recall@10 {glue:text}`pop_recall:.3f` against {glue:text}`uni_recall:.3f`). The gap is
# more than twice the spread over seeds. The validation NDCG falls steadily as $\beta$
# grows, so the best setting is the one closest to uniform sampling ($\beta = 0$). The
# larger $\beta$, the earlier the validation NDCG peaks and then declines: the kept epoch
# falls from {glue:text}`epoch_small_beta:.0f` at the smallest $\beta$ to
# {glue:text}`epoch_large_beta:.0f` at the largest (uniform negatives: epoch
# {glue:text}`uni_epoch:.0f` on average).
#
# **Dropping positives is within noise.** Dropping 10 % of the positives per epoch gives
# {glue:text}`drop10_ndcg:.3f` ± {glue:text}`drop10_ndcg_std:.3f`, a per-seed difference
# of {glue:text}`drop10_diff:.4f` ± {glue:text}`drop10_diff_std:.4f` to uniform; dropping
# 30 % gives {glue:text}`drop30_ndcg:.3f` ± {glue:text}`drop30_ndcg_std:.3f`
# (difference {glue:text}`drop30_diff:.4f` ± {glue:text}`drop30_diff_std:.4f`). BPR-MF
# with its tuned L2 penalty and early stopping is already regularised, so the extra
# noise of a random subset adds little; what it saves is time, since each epoch is
# shorter. Neither augmentation helps BPR-MF, and only the popularity negatives clearly
# harm. This is why `BPRConfig` keeps uniform negatives and `drop_rate=0` as its defaults.
#
# ## Why the popular negatives hurt on MovieLens
#
# The test films of a user are, like the training films, mostly popular ones: ranking
# by popularity alone reaches a test NDCG@10 of {glue:text}`popularity_ndcg:.3f` on this
# split (computed below). A popular film is drawn as a negative about as often as it appears as a
# positive, so the gradient pushes its score *down* for every user who did not choose
# it. The model learns to explain which popular films a user picks, but it loses the
# popularity prior that the test rewards. The cell below measures this directly: how
# popular are the films each model recommends?

# %%
def mean_rec_popularity(model):
    """Mean training count of the films in the test users' top-10 lists (seen films excluded)."""
    users = np.unique(test["user_id"])
    scores = model.score_items(users)  # (U, I), columns in model.item_ids_ order
    counts = train["item_id"].value_counts().reindex(model.item_ids_).to_numpy()  # (I,)
    col = pd.Series(np.arange(len(model.item_ids_)), index=model.item_ids_)
    row = pd.Series(np.arange(len(users)), index=users)
    seen_known = seen[seen["item_id"].isin(model.item_ids_)]
    scores[row[seen_known["user_id"]].to_numpy(), col[seen_known["item_id"]].to_numpy()] = -np.inf
    top = np.argpartition(-scores, K, axis=1)[:, :K]  # (U, K)
    return counts[top].mean()


glue("popularity_ndcg", evaluate_topn(Popularity().fit(train), seen, test, k=K)["ndcg_at_k"])
rec_pop = pd.Series({name: mean_rec_popularity(models[name, SEEDS[0]]) for name in ["uniform", pop_name]},
                    name="mean training count of recommended films")
glue("rec_pop_uniform", rec_pop["uniform"])
glue("rec_pop_popneg", rec_pop[pop_name])
glue("test_pop", train["item_id"].value_counts().reindex(test["item_id"]).mean())
assert rec_pop[pop_name] < rec_pop["uniform"]
rec_pop.to_frame().round(1)

# %% [markdown]
# With uniform negatives the recommended films have on average
# {glue:text}`rec_pop_uniform:.0f` training ratings; with popularity negatives
# {glue:text}`rec_pop_popneg:.0f`. The films in the test part average
# {glue:text}`test_pop:.0f`. Popularity sampling pulls the lists away from what the
# test users actually watched. On a catalogue where popularity says less about the
# future, for example with a long tail, a temporal split or a goal of novelty, the
# trade can come out differently. Rendle and Freudenthaler {cite}`rendle2014improving`
# therefore sample by the *current model scores*, not by fixed popularity. The lesson
# holds in general: an augmentation encodes an assumption about the data, and
# validation checks it.

# %% [markdown]
# ## Noise that helps: the denoising autoencoder's input dropout
#
# Noise on implicit feedback *does* help a model that is built around it. Mult-DAE
# {cite}`liang2018variational` (chapter 6) reconstructs each user's whole row of films
# from a corrupted copy in which every film is dropped with probability $p$: each epoch
# sees a new random subset of every user's history, the augmentation of the previous
# sections, now applied to the *input* of a model that must fill the gaps. Same split,
# same seeds, dropout $p = 0.5$ (the paper's, and the module's default) against none:

# %%
dae_rows = []
for p_drop in (0.0, 0.5):
    for seed in SEEDS:
        dae = MultDAE(seed=seed, dropout=p_drop, progress=False).fit(train, valid=valid)
        dae_rows.append({"input dropout": p_drop, "seed": seed,
                         "test_ndcg": evaluate_topn(dae, seen, test, k=K)["ndcg_at_k"]})
dae_results = pd.DataFrame(dae_rows).pivot(index="seed", columns="input dropout", values="test_ndcg")
dae_diff = dae_results[0.5] - dae_results[0.0]  # paired, per seed
glue("dae_ndcg_noise", dae_results[0.5].mean())
glue("dae_ndcg_clean", dae_results[0.0].mean())
glue("dae_diff", dae_diff.mean())
glue("dae_diff_std", dae_diff.std())
dae_noise_floor = 2 * dae_results.std().max()
assert dae_diff.mean() > dae_noise_floor, "the text says input dropout helps beyond the noise"
dae_results.round(4)

# %% [markdown]
# With input dropout, test NDCG@10 is {glue:text}`dae_ndcg_noise:.4f` on average, without
# it {glue:text}`dae_ndcg_clean:.4f`: a per-seed gain of {glue:text}`dae_diff:.4f`
# ± {glue:text}`dae_diff_std:.4f`, more than twice the spread of either setting, so it
# helps by this chapter's rule. The difference from dropping positives in BPR-MF is
# what the model is asked to do with the noise: BPR-MF only sees fewer pairs, while the
# autoencoder is trained to *recover* the dropped films from the rest, which is exactly
# the test task (predict the films a user will choose from the ones they chose).

# %% [markdown]
# ## Sequence augmentations for contrastive learning
#
# Sequential models (see the chapter on sequences) read a user's history in order.
# CL4SRec {cite}`xie2022contrastive` adds a self-supervised task to SASRec
# {cite}`kang2018sasrec`. It makes two random *views* $\tilde s^{(1)}, \tilde s^{(2)}$
# of each sequence $s$ with one of three operations:
#
# * **crop**: a random contiguous window of $\lfloor \eta n \rfloor$ of the $n$ items;
# * **mask**: $\lfloor \gamma n \rfloor$ random items replaced by a special mask item;
# * **reorder**: a random window of $\lfloor \beta n \rfloor$ consecutive items shuffled.
#
# The encoder maps each view to a vector $z$, and an InfoNCE loss pulls the two views of
# the same user together and pushes apart the views of the other $2(B-1)$ sequences in
# the batch:
#
# $$\mathcal{L}_{cl} = -\log \frac{\exp(\operatorname{sim}(z^{(1)}, z^{(2)}) / \tau)}
#   {\exp(\operatorname{sim}(z^{(1)}, z^{(2)}) / \tau) + \sum_{z^- } \exp(\operatorname{sim}(z^{(1)}, z^-) / \tau)}.$$
#
# The assumption is that a user's taste survives losing part of the history, a few
# unknown items, or a swap of nearby items. This is the sequence counterpart of "a
# cropped cat is still a cat", and it is an assumption about people, not geometry. Below
# are the three operations on a real user's most recent 20 films, left-padded to 24
# positions as `pad_sequences` does (0 is padding and is never changed). The mask code is
# `I + 1`, one past the last film.

# %%
seq_users, sequences, seq_encoder = user_sequences(train)
user_row = int(np.flatnonzero(seq_users == 1)[0])  # user 1
seq = pad_sequences([sequences[user_row][-20:]], max_len=24)[0]
mask_id = len(seq_encoder.classes_) + 1
rng = np.random.default_rng(0)
views = {
    "original": seq,
    "crop (eta=0.6)": crop(seq, 0.6, rng),
    "mask (gamma=0.3)": mask(seq, 0.3, mask_id, rng),
    "reorder (beta=0.6)": reorder(seq, 0.6, rng),
}
with np.printoptions(linewidth=150):
    for name, view in views.items():
        print(f"{name:>19}: {view}")
assert all(np.all(v[seq == 0] == 0) and len(v) == len(seq) for v in views.values())
assert sorted(views["reorder (beta=0.6)"]) == sorted(seq)

# %% [markdown]
# The reordered window in film titles (the positions that `reorder` changed):

# %%
title = ml.items.set_index("item_id")["title"]


def titles(codes):
    return [title[seq_encoder.classes_[c - 1]] if 0 < c < mask_id else ("[mask]" if c == mask_id else "-")
            for c in codes]


changed = np.flatnonzero(views["reorder (beta=0.6)"] != seq)
span = slice(changed[0], changed[-1] + 1)
pd.DataFrame({"original": titles(seq[span]), "reorder": titles(views["reorder (beta=0.6)"][span])},
             index=pd.RangeIndex(span.start, span.stop, name="position"))

# %% [markdown]
# Training CL4SRec is beyond this chapter: it adds the loss above to SASRec's next-item
# loss, weighted by a coefficient tuned on validation data, together with the
# ratios $\eta, \gamma, \beta$. Its authors report the largest gains on sparse data sets.
# As with the negatives, the operations only help when their assumption fits the data.
# Reordering, for example, claims that order matters little locally, which is false for
# episodic content such as series.
#
# ## Summary
#
# * Image augmentations (rotation, scaling, cropping of pictures) do not apply to
#   interaction data; the source article's examples (§3.2, step 1) are the wrong ones.
#   Interaction data is augmented by changing the negatives, the positives, or a
#   sequence's items.
# * On ML-100K, popularity-weighted negatives made BPR-MF clearly worse for every
#   $\beta$ tried: they remove the popularity prior that the test part rewards.
# * Dropping 10-30 % of the positives per epoch changed NDCG@10 by less than the spread
#   over seeds: no gain, but no loss either, and shorter epochs.
# * The same kind of noise on the *input* of a denoising autoencoder, which must
#   recover what was dropped, helps beyond the noise.
# * Crop, mask and reorder build the views of contrastive sequential models; each
#   encodes an assumption about users, which validation must confirm.
# * Judge an augmentation against the spread over seeds, using paired differences on the
#   same split. Choose its parameters on validation data only.
#
# ## Exercises
#
# 1. Add 10 % false positives to the training part with `add_random_interactions` and
#    train BPR-MF on it (seed 0). How much test NDCG@10 is lost? Is BPR-MF robust to
#    this kind of noise?
# 2. Train with `negatives="popularity"` and `item_bias=False`. Does the gap to uniform
#    sampling grow or shrink? Why might the item bias matter here?
# 3. Rerun the `drop_rate` experiment with five seeds. Do the conclusions change? How
#    many seeds would you need to detect a difference of 0.003 NDCG@10?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below runs (1). The false positives are uniform over the films a user has
# not rated, so most of them are obscure films; they teach the model that obscure films
# are liked, and the loss in test NDCG@10 is several times the spread over seeds
# (compare the printed numbers with the table). BPR-MF is not robust to this noise,
# which is one reason why denoising implicit feedback is a research topic of its own. (2) Without the
# item bias, popularity must live in the factors, and popular negatives push against it
# there too; try it and compare with the table. (3) The per-seed differences to uniform
# have standard deviations of {glue:text}`drop10_diff_std:.4f` and
# {glue:text}`drop30_diff_std:.4f` (table above); detecting a difference of 0.003 with a
# paired test takes roughly $(2 \cdot \text{sd} / 0.003)^2$ seeds, from a handful to a
# few dozen, and three seeds cannot settle it.
# :::

# %%
noisy_u, noisy_i = add_random_interactions(user_codes, item_codes, n_items, 0.1, torch.Generator().manual_seed(0))
user_ids = np.sort(train["user_id"].unique())
noisy = pd.DataFrame({"user_id": user_ids[noisy_u.numpy()], "item_id": item_ids.to_numpy()[noisy_i.numpy()]})
noisy_model = BPRMF(progress=False).fit(noisy, valid=valid)
noisy_ndcg = evaluate_topn(noisy_model, pd.concat([noisy, valid]), test, k=K)["ndcg_at_k"]
clean_ndcg = results[(results.setting == "uniform") & (results.seed == SEEDS[0])]["test_ndcg"].item()
print(f"{len(noisy) - len(train):,} false positives added; test NDCG@{K}: clean {clean_ndcg:.4f}, noisy {noisy_ndcg:.4f}")
assert 0.2 < noisy_ndcg < clean_ndcg

# %%
print(f"CPU time of this notebook: {time.process_time() - START:.0f} s")
