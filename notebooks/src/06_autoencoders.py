# %% [markdown]
# # Autoencoders: learning user and item features
#
# The source article's abstract promises autoencoders among the 核心算法原理，包括自编码器、生成对抗网络和图神经网络等
# ("core algorithm principles, including autoencoders, generative adversarial networks
# and graph neural networks"), but its §3 (核心算法原理 & 具体操作步骤, "Core algorithm
# principles and concrete steps") never mentions them; they reappear only in §7.3, as the
# subject of a recommended paper. This chapter supplies what the abstract promises. Why
# autoencoders belong there is in their shape: an autoencoder is trained to
# rebuild its input after squeezing it through a layer much narrower than the input
# {cite}`hinton2006reducing`. Nothing tells that layer what to hold; it has to keep
# whatever is needed to rebuild the input, and for a user's list of films that is taste:
# which kinds of films go together. The narrow layer, the *bottleneck*, is therefore a
# learned feature vector, and the weights that decode it are learned item vectors.
#
# Chapter 5 used an autoencoder, I-AutoRec {cite}`sedhain2015autorec`, to predict
# ratings. This chapter trains two autoencoders for the task that matters more in
# practice, choosing the ten films to show a user (top-N recommendation from implicit
# feedback): a denoising autoencoder with a multinomial likelihood (Mult-DAE) and its
# variational version (Mult-VAE) {cite}`liang2018variational`. Both are in
# `recfeat_ref.autoencoders`.
#
# **You will learn** why a bottleneck learns features, and what denoising and the
# variational objective add; the multinomial log-likelihood and the $\beta$-weighted
# evidence lower bound, each computed by hand and checked against the package; how to
# read the training curves of a VAE, KL annealing included; how the two models compare
# with popularity and BPR-MF on the top-N protocol of Chapter 5; and how to take the
# bottleneck out of a trained model and use it as user features.

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
# The models use their package defaults, which were tuned on the validation part of the
# split below (the tables are in the docstrings of `MultVAEConfig` and `MultDAEConfig`).
# On a GPU (`FULL`) the models may train longer before early stopping ends them; on a
# CPU they stop at 200 epochs at most, and the whole chapter runs in about two minutes
# on one core.

# %%
import torch

FULL = torch.cuda.is_available()
SEED = 0
K = 10  # recommendation list length
RATIOS = (0.8, 0.1, 0.1)  # per-user train / validation / test, as in Chapter 5
NUM_EPOCHS = 400 if FULL else 200  # upper bound; early stopping on validation NDCG@10 ends training sooner
BETA_CAPS = (0.0, 0.2, 1.0)  # KL caps compared on validation (0.2 is the package default)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recfeat_ref.autoencoders import (
    MultDAE,
    MultVAE,
    gaussian_kl,
    kl_beta,
    multinomial_nll,
)
from recfeat_ref.baselines import Popularity
from recfeat_ref.book import glue
from recfeat_ref.datasets import genre_matrix, load_movielens_100k
from recfeat_ref.mf import BPRMF
from recfeat_ref.recommender import evaluate_topn
from recfeat_ref.splits import ratio_split_by_user

torch.set_num_threads(1)  # the models are small; one thread is as fast and shares the machine
ml = load_movielens_100k(verbose=False)
train, valid, test = ratio_split_by_user(ml.ratings, ratios=RATIOS, seed=SEED)
seen = pd.concat([train, valid])  # excluded from the test lists, as in Chapter 5
print(len(train), len(valid), len(test))

# %% [markdown]
# ## Why a bottleneck learns features
#
# Write $x_u \in \{0, 1\}^I$ for user $u$'s row of the interaction matrix: a 1 for every
# film $u$ rated in training, whatever the stars. An autoencoder is two functions, an
# encoder $g_\phi : \mathbb{R}^I \to \mathbb{R}^d$ and a decoder
# $f_\theta : \mathbb{R}^d \to \mathbb{R}^I$, with $d \ll I$, trained so that
# $f_\theta(g_\phi(x_u))$ is close to $x_u$. With $I \approx 1{,}650$ films and $d$ at
# most a few hundred, the code $h_u = g_\phi(x_u)$ cannot store any list; it must store what the
# list has in common with other lists. With linear $f, g$ and a squared error the best
# code spans the top principal components of the data; tanh layers let it bend.
#
# I-AutoRec (Chapter 5) is this idea applied to ratings: the input is an item's column of
# the rating matrix and only the observed ratings enter the loss. For ranking, two changes
# help {cite}`liang2018variational,wu2016collaborative`:
#
# 1. **Denoising.** The input is corrupted by dropping each of its 1s with probability $p$,
#    and the network must still rebuild the *whole* row {cite}`vincent2008extracting`.
#    Rebuilding hidden films from visible ones is exactly recommendation, and it stops
#    the network from learning the identity.
# 2. **A multinomial likelihood.** The decoder's output goes through a softmax over the
#    catalogue, $\pi_u = \mathrm{softmax}(f_\theta(h_u))$, and the loss is
#
# $$
# -\log p(x_u \mid \pi_u) \overset{c}{=} -\sum_{i=1}^{I} x_{ui} \log \pi_{ui} .
# $$ (eq-ae-mult)
#
# The films compete for one unit of probability: raising one score lowers the others,
# which is what a ranking needs; a squared error or a per-film logistic loss would score
# each film on its own. The scores we rank by are $\log \pi_{ui}$.
#
# A quick check of {eq}`eq-ae-mult`: with equal scores over four films, a user with two
# films loses $2 \log 4$; the package function agrees, and so does `torch.distributions`
# once the multinomial coefficient, which does not depend on the model, is removed.

# %%
logits = torch.zeros(1, 4)
x = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
by_hand = -(x * torch.log_softmax(logits, dim=-1)).sum()
dist = torch.distributions.Multinomial(2, logits=logits[0])
log_coef = torch.lgamma(torch.tensor(3.0)) - torch.lgamma(x[0] + 1).sum()  # log(2! / (1! 1!))
print(float(by_hand), float(multinomial_nll(logits, x)), float(-(dist.log_prob(x[0]) - log_coef)), 2 * np.log(4))
assert torch.isclose(multinomial_nll(logits, x), by_hand)

# %% [markdown]
# ## Mult-DAE: a denoising autoencoder of item sets
#
# Mult-DAE {cite}`liang2018variational` normalises the row to unit length, drops entries
# with probability $p$ (and scales the kept ones by $1/(1-p)$), and runs one tanh layer:
#
# $$
# \tilde x_u = \mathrm{dropout}_p\!\left(\frac{x_u}{\lVert x_u \rVert}\right), \qquad
# h_u = \tanh(V \tilde x_u + c), \qquad
# \pi_u = \mathrm{softmax}(W h_u + b),
# $$ (eq-ae-dae)
#
# trained on {eq}`eq-ae-mult` averaged over a batch of users, with Adam
# {cite}`kingma2015adam`. For prediction the row is not corrupted. CDAE
# {cite}`wu2016collaborative` is the same denoising idea with a per-user input weight and a
# per-film logistic loss. `MultDAE` follows the interface of `BPRMF`: `fit(train,
# valid=...)` evaluates NDCG@10 on the validation part every five epochs, stops after
# four evaluations without improvement, and keeps the best weights.

# %%
dae = MultDAE(num_epochs=NUM_EPOCHS, progress=False).fit(train, valid=valid)
print(dae.config)
print(f"best epoch {dae.best_epoch_}, fit {dae.fit_seconds_:.1f} s")

# %% [markdown]
# ## Mult-VAE: the variational version
#
# A variational autoencoder {cite}`kingma2014auto` makes the code random. The encoder
# outputs a Gaussian, $q_\phi(z_u \mid x_u) = \mathcal{N}(\mu_\phi(\tilde x_u),
# \mathrm{diag}\, \sigma^2_\phi(\tilde x_u))$, the decoder reads a sample of it, and the
# prior is $z_u \sim \mathcal{N}(0, I_d)$. Training maximises the evidence lower bound,
# which Liang et al. weight with a factor $\beta$ on its second term
# {cite}`liang2018variational,higgins2017beta`:
#
# $$
# \mathcal{L}_\beta(x_u) =
# \mathbb{E}_{q_\phi(z_u \mid x_u)}\big[\log p_\theta(x_u \mid z_u)\big]
# - \beta \, \mathrm{KL}\big(q_\phi(z_u \mid x_u) \,\|\, \mathcal{N}(0, I_d)\big),
# $$ (eq-ae-elbo)
#
# with $\log p_\theta(x_u \mid z_u)$ the multinomial log-likelihood {eq}`eq-ae-mult` of
# $\pi_u = \mathrm{softmax}(f_\theta(z_u))$. Two pieces make it trainable:
#
# * **Reparameterisation.** $z_u = \mu_u + \sigma_u \odot \epsilon$ with
#   $\epsilon \sim \mathcal{N}(0, I)$: the randomness is an input, so gradients flow into
#   $\mu$ and $\sigma$. One sample per user and step estimates the expectation.
# * **A closed-form KL term.** For a diagonal Gaussian against the standard normal,
#
# $$
# \mathrm{KL} = \frac{1}{2} \sum_{j=1}^{d} \big(\mu_{uj}^2 + \sigma_{uj}^2 - \log \sigma_{uj}^2 - 1\big).
# $$ (eq-ae-kl)
#
# The KL term pulls every user's code towards the same prior; with $\beta = 1$ it pulls
# so hard that codes carry little about the user and the lists become generic. Liang et
# al. therefore *anneal*: $\beta$ starts at 0 (a denoising autoencoder with noise in its
# code) and grows linearly with the number of updates up to a cap
# {cite}`bowman2016generating`,
#
# $$
# \beta_t = \min\big(\beta_{\max},\ t / T\big),
# $$ (eq-ae-beta)
#
# and they choose $\beta_{\max}$ on validation data. First, {eq}`eq-ae-kl` against
# `torch.distributions`:

# %%
gen = torch.Generator().manual_seed(SEED)
mu, logvar = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
prior = torch.distributions.Normal(torch.zeros(5, 3), torch.ones(5, 3))
reference = torch.distributions.kl_divergence(q, prior).sum(-1).mean()
print(float(gaussian_kl(mu, logvar)), float(reference))
assert torch.isclose(gaussian_kl(mu, logvar), reference)

# %% [markdown]
# ### Choosing $\beta_{\max}$ on validation data
#
# The cap is a hyper-parameter, chosen on the validation part. We train the model three
# times, with $\beta_{\max} = 0$ (no KL term: a denoising autoencoder with a noisy code),
# with the package default $0.2$ (the paper's value) and with $1$ (the full ELBO), and
# compare their validation NDCG@10. The network is the package default: on 943 users a
# *linear* encoder and decoder (the logits are linear in $z_u$, and $\mu_u$ and
# $\log \sigma_u^2$ are linear in $\tilde x_u$) validated better than the paper's
# 600-unit tanh layers, which were built for 100,000+ users (the table in
# `MultVAEConfig`). Each run stops early on its own validation curve.

# %%
vae_runs = {
    cap: MultVAE(beta_cap=cap, num_epochs=NUM_EPOCHS, progress=False).fit(train, valid=valid)
    for cap in BETA_CAPS
}
vae = vae_runs[MultVAE().config.beta_cap]  # the default model, used from here on
print(vae.config)
cap_table = pd.DataFrame(
    {
        "best valid NDCG@10": {c: m.history_[f"valid_ndcg_at_{K}"].max() for c, m in vae_runs.items()},
        "best epoch": {c: m.best_epoch_ for c, m in vae_runs.items()},
        "fit seconds": {c: m.fit_seconds_ for c, m in vae_runs.items()},
    }
).rename_axis("beta_cap")
cap_table.round(4)

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for cap, model in vae_runs.items():
    v = model.history_.dropna(subset=[f"valid_ndcg_at_{K}"])
    ax.plot(v["epoch"], v[f"valid_ndcg_at_{K}"], marker=".", label=rf"$\beta_{{\max}} = {cap:g}$")
ax.set(xlabel="epoch", ylabel=f"validation NDCG@{K}", title=r"Mult-VAE: the KL cap on validation")
ax.legend();

# %%
best_cap = float(cap_table["best valid NDCG@10"].idxmax())
glue("best_cap", best_cap)
glue("cap_gain_over_0", cap_table.loc[best_cap, "best valid NDCG@10"] - cap_table.loc[0.0, "best valid NDCG@10"])
print(f"best cap {best_cap}")

# %% [markdown]
# On validation the cap {glue:text}`best_cap:.1f` wins, {glue:text}`cap_gain_over_0:.3f`
# above the run without a KL term. The differences between caps are small (a few
# thousandths, near the noise of one validation curve), which is why the package keeps
# the paper's 0.2; what matters more is that $\beta = 1$, the "proper" VAE, is not
# better: as in the paper, the KL term works as a regulariser of the code rather than as
# part of a generative model. (With the paper's tanh network, a run whose $\beta$ grew
# to 1 peaked on validation at $\beta = 0.5$; see `MultVAEConfig`.)
#
# %% [markdown]
# The curves of the default model and of Mult-DAE: the training loss of both models (per user, the multinomial term plus
# $\beta$ KL for the VAE), the validation NDCG@10 that early stopping watches, and the
# VAE's KL term with its $\beta$ schedule {eq}`eq-ae-beta`. The dashed lines mark the
# epochs whose weights were kept.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for name, model in (("Mult-DAE", dae), ("Mult-VAE", vae)):
    h = model.history_
    axes[0].plot(h["epoch"], h["train_loss"], label=name)
    v = h.dropna(subset=[f"valid_ndcg_at_{K}"])
    line, = axes[1].plot(v["epoch"], v[f"valid_ndcg_at_{K}"], marker="o", label=name)
    axes[1].axvline(model.best_epoch_, color=line.get_color(), ls="--")
axes[0].set(xlabel="epoch", ylabel="training loss per user", title="Training loss")
axes[1].set(xlabel="epoch", ylabel=f"NDCG@{K}", title="Validation NDCG@10")
axes[0].legend()
h = vae.history_
axes[2].plot(h["epoch"], h["train_kl"], color="C1", label="KL (left)")
axes[2].set(xlabel="epoch", ylabel="KL per user", title=r"Mult-VAE: KL and $\beta$")
twin = axes[2].twinx()
twin.plot(h["epoch"], h["beta"], color="k", ls=":", label=r"$\beta$ (right)")
twin.set_ylabel(r"$\beta$")
axes[2].legend(loc="center right")
twin.legend(loc="lower right")
fig.tight_layout();

# %% [markdown]
# The KL starts near zero, because the initial codes are all close to the prior, and
# grows as the codes learn to tell users apart: each nat of information about a user
# costs $\beta$ nats of loss. While $\beta$ ramps up (the first 20 epochs) the KL grows
# fast; once $\beta$ holds at its cap the growth is slow and steady. The training loss
# keeps falling after the validation NDCG has levelled off: the network starts to
# memorise the training rows, and early stopping ends the run.
#
# ## Results on the test part
#
# The same protocol as Chapter 5: every film the user has not rated in training or
# validation is ranked, and NDCG@10 and Recall@10 are computed on the test part, which
# none of the choices above has seen. Popularity and BPR-MF {cite}`rendle2009bpr` are
# the baselines.

# %%
bpr = BPRMF(progress=False).fit(train, valid=valid)
pop = Popularity().fit(train)
rows = {}
for name, model in {"popularity": pop, "BPR-MF": bpr, "Mult-DAE": dae, "Mult-VAE": vae}.items():
    report = evaluate_topn(model, seen, test, k=K)
    rows[name] = {
        f"recall@{K}": report["recall_at_k"],
        f"ndcg@{K}": report["ndcg_at_k"],
        f"hit_rate@{K}": report["hit_rate_at_k"],
        f"mrr@{K}": report["mrr_at_k"],
        "fit_seconds": model.fit_seconds_,
    }
results = pd.DataFrame(rows).T
results.round(4)

# %%
ndcg = results[f"ndcg@{K}"]
glue("pop_ndcg", ndcg["popularity"])
glue("bpr_ndcg", ndcg["BPR-MF"])
glue("dae_ndcg", ndcg["Mult-DAE"])
glue("vae_ndcg", ndcg["Mult-VAE"])
glue("vae_seconds", results.loc["Mult-VAE", "fit_seconds"])
assert ndcg["Mult-VAE"] > 1.5 * ndcg["popularity"]
assert ndcg["Mult-DAE"] > 1.5 * ndcg["popularity"]
assert ndcg["Mult-VAE"] >= ndcg["BPR-MF"] - 0.01  # at least on par with BPR-MF (ahead on this CPU run)

# %% [markdown]
# Mult-VAE reaches NDCG@10 {glue:text}`vae_ndcg:.3f` (trained in
# {glue:text}`vae_seconds:.0f` s on this machine), against {glue:text}`bpr_ndcg:.3f` for
# BPR-MF and {glue:text}`pop_ndcg:.3f` for popularity; Mult-DAE reaches
# {glue:text}`dae_ndcg:.3f`. Both autoencoders rank better than BPR-MF, whose user
# vectors are free parameters fitted from a few dozen films each, while the autoencoders
# compute a user's vector from the user's films with an encoder shared by everyone.
# The margin is modest: one split and one seed, and validation curves that move by a
# few thousandths from one evaluation to the next; Liang et al. measured larger margins
# on data sets with tens of thousands of users.
#
# ## The bottleneck as features
#
# A trained Mult-VAE maps any user's film list to $\mu_u$, a vector of
# {glue:text}`latent_dim:.0f` numbers; `encode_users` returns it. Unlike the user factors
# of matrix factorisation, it needs no retraining for a new user: the encoder reads the
# user's list, which is what makes it usable as a feature in other models. On the item
# side, the rows $e_i$ of the decoder's output weight (`item_embeddings_`) are film
# vectors. With the default linear decoder they live in the same space as the codes,
# and the model is a matrix factorisation whose user vectors are computed from the
# user's films: $\log \pi_{ui} = \langle \mu_u, e_i \rangle + b_i - \log \sum_j
# e^{\langle \mu_u, e_j \rangle + b_j}$. The cell checks this identity.

# %%
codes = vae.encode_users()  # (U, d), row j is user vae.user_ids_[j]
glue("latent_dim", codes.shape[1])
print(codes.shape, vae.item_embeddings_.shape)
logits = codes @ vae.item_embeddings_.T + vae.item_bias_  # (U, I)
log_pi = logits - np.log(np.exp(logits).sum(1, keepdims=True))
assert np.allclose(log_pi, vae.score_items(), atol=1e-4)

# %% [markdown]
# Do users who are close in this space like the same kind of film? Describe each user by
# the genre mix of their training films (the share of each of the 19 genres); the code
# never saw genres. For every user, find the nearest other user by cosine similarity of
# their codes, and compare the two genre mixes; as a reference, compare each user with a
# random other user.

# %%
genres = genre_matrix(ml.items).loc[vae.item_ids_]  # (I, 19), films in the model's order
X = vae.train_matrix_.toarray()  # (U, I) training rows
mix = X @ genres.to_numpy()  # genre counts per user
mix = mix / mix.sum(1, keepdims=True)  # (U, 19) genre shares


def cosine_rows(a):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    return a @ a.T


sim = cosine_rows(codes)
np.fill_diagonal(sim, -np.inf)
nearest = sim.argmax(1)
rng = np.random.default_rng(SEED)
random_other = (np.arange(len(codes)) + rng.integers(1, len(codes), len(codes))) % len(codes)
genre_sim = cosine_rows(mix)
neighbour_agreement = genre_sim[np.arange(len(codes)), nearest].mean()
random_agreement = genre_sim[np.arange(len(codes)), random_other].mean()
glue("genre_nn", neighbour_agreement)
glue("genre_random", random_agreement)
print(f"genre-mix cosine: nearest user {neighbour_agreement:.3f}, random user {random_agreement:.3f}")
assert neighbour_agreement > random_agreement

# %% [markdown]
# Nearest users in the code space have genre mixes with cosine
# {glue:text}`genre_nn:.3f`, against {glue:text}`genre_random:.3f` for random pairs:
# the code has learned taste from co-occurrence alone. (Genre mixes of random users are
# already similar, because drama and comedy dominate everyone's list.)
#
# A picture: the first two principal components of the codes, each user coloured by the
# share of one genre in their list. Two directions out of
# {glue:text}`latent_dim:.0f` show only part of the picture, but the share of drama
# already changes gradually across the plane, although the model never saw a genre.

# %%
centred = codes - codes.mean(0)
_, _, vt = np.linalg.svd(centred, full_matrices=False)
pcs = centred @ vt[:2].T  # (U, 2)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, genre in zip(axes, ("Drama", "Action")):
    share = mix[:, list(genres.columns).index(genre)]
    points = ax.scatter(pcs[:, 0], pcs[:, 1], c=share, s=8, cmap="viridis")
    fig.colorbar(points, ax=ax, label=f"share of {genre} films")
    ax.set(xlabel="PC 1", ylabel="PC 2", title=f"Mult-VAE user codes, coloured by {genre}")
fig.tight_layout();

# %% [markdown]
# How well do the codes predict such an attribute? A linear (ridge) regression of each
# genre's share on the codes, scored by $R^2$ on users held out with 5-fold
# cross-validation, says how much of it is linearly readable from the bottleneck.

# %%
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import cross_val_score

r2 = pd.Series(
    {
        genre: cross_val_score(
            RidgeCV(alphas=np.logspace(-2, 3, 11)),
            codes,
            mix[:, list(genres.columns).index(genre)],
            cv=5,
            scoring="r2",
        ).mean()
        for genre in ("Drama", "Action", "Children's", "Sci-Fi", "Horror")
    },
    name="cross-validated R^2",
)
glue("children_r2", r2["Children's"])
glue("min_genre_r2", r2.min())
assert r2["Children's"] > 0.3
r2.round(3)

# %% [markdown]
# The codes explain a share {glue:text}`children_r2:.2f` of the variance of the share of
# children's films on held-out users, and at least {glue:text}`min_genre_r2:.2f` for each
# genre in the table. On the item side, the nearest films to *Star Wars* by cosine of
# `item_embeddings_` are:

# %%
titles = ml.items.set_index("item_id").loc[vae.item_ids_, "title"].to_numpy()
item_sim = cosine_rows(vae.item_embeddings_)
star_wars = int(np.flatnonzero(titles == "Star Wars")[0])
print(pd.Series(item_sim[star_wars], index=titles).drop("Star Wars").nlargest(5).round(3))

# %% [markdown]
# Its sequel comes first by a wide margin; the others are popular films of the same
# years: the film vectors mix taste with popularity, which the bias $b_i$ does not fully
# absorb. Nothing is saved to disk here; later chapters call `encode_users` and read
# `item_embeddings_` from a model they train themselves.
#
# ## Summary
#
# * An autoencoder's bottleneck must hold what a user's film list has in common with
#   others' lists; that is a learned user feature, and the decoder's output weights are
#   learned item features.
# * For top-N recommendation, Mult-DAE corrupts the input with dropout and rebuilds the
#   row under a multinomial likelihood, so that films compete for probability; Mult-VAE
#   adds a Gaussian code and a KL term weighted by an annealed $\beta$, whose best value
#   is well below 1.
# * On MovieLens-100K both autoencoders rank better than a tuned BPR-MF and double
#   popularity's NDCG@10; on 943 users a linear Mult-VAE validated better than the
#   paper's deeper one; the user codes cluster users by the genres they watch,
#   although no genre was given to the model.
#
# ## Exercises
#
# 1. Train Mult-VAE with the paper's network, `hidden_dims=(600,)`, and compare its
#    validation curve with the linear default. Which one peaks earlier, and why?
# 2. Set `dropout=0` for Mult-DAE. What happens to the training loss and to the
#    validation NDCG@10, and why?
# 3. Score the test users of this chapter *as if* they were new: their codes from their
#    training films only, without retraining. Which recommender of Chapter 5 could not do
#    this, and why can the autoencoders?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below runs (2). (1) The tanh network has 1,650 x 600 + 600 x 400 weights
# in its encoder alone and fits the 943 training rows quickly: it peaks around epoch 50
# at a lower validation NDCG@10 (about 0.25 with 200 latent dimensions, the table in
# `MultVAEConfig`), while the linear model keeps improving for over a hundred epochs. (2) Without dropout the network can copy its input, the training loss
# falls faster and the validation NDCG@10 is lower: the corruption is what forces it to
# predict films it does not see. (3) `encode_users` and `score_items` need only the
# training row of a user, so a new user is scored from their list by a forward pass;
# BPR-MF has one free vector per training user and would have to be refitted (or fall back
# to popularity, as it does for unseen users).
# :::

# %%
no_dropout = MultDAE(dropout=0.0, num_epochs=NUM_EPOCHS, progress=False).fit(train, valid=valid)
for name, model in {"Mult-DAE, dropout 0.5": dae, "Mult-DAE, no dropout": no_dropout}.items():
    best = model.history_[f"valid_ndcg_at_{K}"].max()
    final_loss = model.history_["train_loss"].iloc[-1]
    print(f"{name}: best validation NDCG@{K} {best:.4f} at epoch {model.best_epoch_}, "
          f"last training loss {final_loss:.1f}")
