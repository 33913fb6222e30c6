# %% [markdown]
# # Privacy: pseudonymisation, k-anonymity and differential privacy
#
# A recommender learns from what people watched, bought and rated: personal data. The
# source article's §9.2 asks 如何确保大模型在推荐系统中的数据隐私和安全？ ("How can data
# privacy and security be ensured for large models in recommender systems?") and answers
# with three one-line measures: 数据匿名化 ("data anonymisation"), 加密传输与存储
# ("encrypted transmission and storage") and 隐私保护算法，如差分隐私，以减少模型训练过程中对用户数据的依赖
# ("privacy-preserving algorithms, such as differential privacy, to reduce the model
# training's dependence on user data"). Each names a different tool with a different
# guarantee; the answer does not say what each one protects against, and its one-line
# account of differential privacy is wrong (section 4). This chapter measures all three
# on MovieLens-100K.
#
# The threat model matters more than the tool. We look at three attackers:
#
# 1. someone who obtains a **released table** (a "de-identified" log shared with a
#    partner, a leaked backup) and wants to know who is who;
# 2. someone who knows a few facts about a **person** (age, zip code, a few films they
#    watched) and looks for that person's row;
# 3. someone who can query the **trained model** and wants to know whether a given
#    rating was in its training set.
#
# **You will learn** why hashing an identifier is not anonymisation and what a keyed
# hash (HMAC) changes; how to measure and reach k-anonymity, and what it costs a model
# that uses demographic features; what encryption can and cannot do for a model that
# must be trained; how DP-SGD works (per-example clipping, Gaussian noise, a Renyi-DP
# accountant written from scratch and checked against Opacus); and how a simple
# membership-inference attack measures what a model leaks, with and without DP.

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
# On a GPU (`FULL`), the private model is trained at three more noise levels and the
# enumeration attack tries ten times more identifiers; on a CPU the chapter needs about
# 35 s of CPU time on one thread.

# %%
import torch

FULL = torch.cuda.is_available()
SEED = 0
K_ANON = 5  # the k of k-anonymity we aim for
MAX_SUPPRESSION = 0.05  # at most 5% of users may have their quasi-identifiers withheld
DELTA = 1e-5  # the delta of (epsilon, delta)-DP; below 1 / (80,000 training rows)
NOISE_LEVELS = (0.6, 0.8, 1.0, 1.5, 2.0, 4.0, 8.0) if FULL else (0.6, 1.0, 2.0, 4.0)
DP_EPOCHS = 4  # chosen on the validation rows (see DPSGDConfig); epsilon grows with it
ENUM_SPACE = 10**7 if FULL else 10**6  # identifiers an attacker enumerates

# %%
import math
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from torch import nn

from recfeat_ref import metrics
from recfeat_ref.book import glue
from recfeat_ref.ctr import CTRFeaturizer, build_ctr_features, ctr_frame, ctr_split
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.neural import FM, FMConfig, LogisticRegression, LRConfig
from recfeat_ref.privacy import (
    DPSGDConfig,
    dp_membership_bounds,
    dp_sgd_epsilon,
    generalise_users,
    k_anonymity,
    loss_threshold_attack,
    per_example_losses,
    pseudonymise,
    reverse_by_enumeration,
    train_dp_sgd,
    unkeyed_hash,
)
from recfeat_ref.training import TrainConfig, Trainer, get_device, seed_everything

torch.set_num_threads(1)
ml = load_movielens_100k(verbose=False)
users = ml.users
users.head(3)

# %% [markdown]
# (ch16-pseudonymisation)=
# ## 1. Pseudonymisation: hashing is not anonymising
#
# The most common "anonymisation" in practice replaces a user id by its hash,
# $h(\text{id})$ with SHA-256, before a log leaves the team. A hash is one-way for a
# random 256-bit input, but identifiers are not random: ML-100K's users are numbered
# 1 to 943, e-mail addresses and phone numbers come from small, listable sets. The
# attacker simply hashes every candidate and looks the results up, one hash per
# candidate.

# %%
hashed = unkeyed_hash(users["user_id"])
start = time.perf_counter()
recovered = reverse_by_enumeration(hashed, range(1, 944))
seconds_943 = time.perf_counter() - start
assert recovered == users["user_id"].tolist()

probe = [1, 943, ENUM_SPACE - 1]  # the last one is the worst case: found at the end
start = time.perf_counter()
found = reverse_by_enumeration(unkeyed_hash(probe), range(ENUM_SPACE))
seconds_space = time.perf_counter() - start
assert found == probe
pd.DataFrame({
    "identifier space": ["ML-100K user ids (943)", f"{ENUM_SPACE:,} candidates"],
    "reversed": ["all 943", "all 3 probes"],
    "seconds (one core, pure Python)": [seconds_943, seconds_space],
}).round(3)  # fmt: skip

# %%
glue("priv_enum_943_ms", 1000 * seconds_943)
glue("priv_enum_space_s", seconds_space)
glue("priv_enum_space", ENUM_SPACE)

# %% [markdown]
# Every one of the 943 hashed ids is reversed in {glue:text}`priv_enum_943_ms:.1f` ms,
# and a space of {glue:text}`priv_enum_space:,.0f` candidates in
# {glue:text}`priv_enum_space_s:.1f` s of pure Python; a GPU hashes billions per second.
#
# A **keyed** hash fixes this: only someone holding the key can compute a pseudonym, so
# only they can test guesses. HMAC {cite}`krawczyk1997hmac` is the standard construction,
#
# $$
# \mathrm{HMAC}(K, m) = H\bigl((K' \oplus \mathrm{opad}) \,\|\, H((K' \oplus \mathrm{ipad}) \,\|\, m)\bigr),
# $$ (eq-privacy-hmac)
#
# with $H$ = SHA-256, $K'$ the key padded to 64 bytes and two fixed pads;
# `pseudonymise` implements it with Python's `hmac` module (the test suite checks it
# against the construction written out by hand and against RFC 4231's test vector).
# A real key comes from `secrets.token_bytes(32)` and lives in a key store, away from
# the data; the fixed key below only makes the chapter reproducible.

# %%
KEY = b"book-demo-key: never hard-code a real key"
pseudonyms = pseudonymise(users["user_id"], KEY)
attack_outsider = reverse_by_enumeration(pseudonyms, range(1, 944))  # plain SHA-256 guesses
attack_insider = reverse_by_enumeration(pseudonyms, range(1, 944), key=KEY)
pseudo_table = pd.DataFrame({
    "method": ["SHA-256 (unkeyed)", "HMAC-SHA256, attacker without the key", "HMAC-SHA256, key holder"],
    "ids reversed": [sum(r is not None for r in recovered), sum(r is not None for r in attack_outsider),
                     sum(r is not None for r in attack_insider)],
    "joins across tables still work": [True, True, True],
})  # fmt: skip
pseudo_table

# %%
assert pseudo_table["ids reversed"].tolist() == [943, 0, 943]

# %% [markdown]
# Two limits remain, and both matter. First, the key holder can undo the pseudonyms,
# so the data is *pseudonymous*, not anonymous: under the GDPR (Recital 26) it is still
# personal data. Second, and worse, a pseudonym hides only the id. The rest of the row
# still describes the person, which is the subject of the next section.
#
# (ch16-k-anonymity)=
# ## 2. Quasi-identifiers and k-anonymity
#
# Sweeney showed that 87% of Americans are unique on (zip code, gender, date of birth)
# and re-identified a governor in "anonymised" hospital records that way
# {cite}`sweeney2002k`. Such attributes, harmless alone and identifying together, are
# *quasi-identifiers*. ML-100K's user table has four: age, gender, occupation and zip
# code. Rows with equal quasi-identifiers form an *equivalence class*; a table is
# **k-anonymous** when every class holds at least $k$ rows,
#
# $$
# k = \min_{c\ \in\ \text{classes}} |c| ,
# $$ (eq-privacy-k)
#
# so that anyone who knows a person's quasi-identifiers is left with at least $k$
# candidate rows.

# %%
QI = ["age", "gender", "occupation", "zip_code"]
raw = k_anonymity(users, QI)
raw_rows = raw.distribution()
unique_users = int(raw_rows.get(1, 0))
glue("priv_unique_users", unique_users)
glue("priv_unique_share", 100 * unique_users / len(users))
glue("priv_raw_k", raw.k)
raw_rows.to_frame("users").T

# %% [markdown]
# {glue:text}`priv_unique_users:.0f` of the 943 users
# ({glue:text}`priv_unique_share:.1f`%) are alone in their class: the raw table is
# {glue:text}`priv_raw_k:.0f`-anonymous, and a pseudonym on top changes nothing.
#
# **Generalisation and suppression.** To raise $k$ we make values coarser: ages into
# bands, zip codes into prefixes, occupations into groups, each column along a
# hierarchy that ends in `*` (withheld). Rows still alone after that can be
# *suppressed* (all four values withheld) {cite}`sweeney2002k,samarati2001protecting`.
# `generalise_users` searches all 150 combinations of levels (age: exact, 5-, 10-,
# 20-year bands, `*`; gender: exact, `*`; occupation: exact, 8 groups, `*`; zip: 5, 3,
# 2, 1 leading characters, `*`), suppresses what is still below $k$, keeps the
# combinations that suppress at most 5% of the users, and returns the one that loses
# least information, measured as the mean fraction of each hierarchy climbed (a
# suppressed row counts as fully withheld).

# %%
gen = generalise_users(users, k=K_ANON, max_suppression=MAX_SUPPRESSION)
levels_table = pd.DataFrame({
    "level chosen": gen.levels,
    "values before": {c: users[c].nunique() for c in QI},
    "values after": {c: gen.table[c].nunique() for c in QI},
})  # fmt: skip
print(f"k = {gen.k}, users suppressed: {gen.suppressed}, information loss: {gen.loss:.3f}")
levels_table

# %% [markdown]
# The runners-up show the trade-offs the search weighed: each admissible combination,
# with the users it had to suppress.

# %%
admissible = gen.candidates[gen.candidates["admissible"]].sort_values(["loss", "suppressed"])
admissible.head(5).round(3)

# %%
after = k_anonymity(gen.table, QI)
fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
for ax, res, title in [(axes[0], raw, "original"), (axes[1], after, f"generalised (k = {after.k})")]:
    dist = res.distribution()
    ax.bar(dist.index.astype(str), dist.to_numpy(), color="tab:blue")
    ax.set_xlabel("size of the user's equivalence class")
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
axes[0].set_ylabel("users");

# %%
glue("priv_gen_k", gen.k)
glue("priv_gen_suppressed", gen.suppressed)
glue("priv_n_zips", users["zip_code"].nunique())
assert gen.levels == {"age": 4, "gender": 0, "occupation": 0, "zip_code": 4}, "the text names these levels"
assert gen.k >= K_ANON and after.k >= K_ANON
assert gen.suppressed <= MAX_SUPPRESSION * len(users)

# %% [markdown]
# To reach $k$ = {glue:text}`priv_gen_k:.0f` the search withholds age and zip code
# entirely, keeps gender and occupation exact, and suppresses
# {glue:text}`priv_gen_suppressed:.0f` users (rare occupation-gender pairs). Zip code
# goes first because ML-100K's 943 users live in {glue:text}`priv_n_zips:.0f` different
# zip codes: even the first digit, combined with the rest, leaves many alone. The
# runner-up keeps 5-year age bands and drops occupation instead: which is "better"
# depends on the loss measure, and a data owner who knows what the data will be used
# for should choose with that use in mind.
#
# **What does it cost a model?** We train the CTR protocol's logistic regression
# (Chapter 5: will the user rate the film 4 or more; random 80/10/10 split) on the film
# (id, decade, genres) plus the four quasi-identifiers, once with the original values and
# once with the generalised ones; and, for reference, with no user information at all
# and with the user id instead.

# %%
frame = ctr_frame(ml)


def ctr_auc(user_table, user_fields):
    """Test AUC of the CTR logistic regression with the film features plus `user_fields` from `user_table`."""
    rows = frame.drop(columns=["age", "gender", "occupation"])
    lookup = user_table.set_index("user_id", drop=False)
    for col in user_fields:
        rows[f"u_{col}"] = rows["user_id"].map(lookup[col]).astype(str).to_numpy()
    train_f, valid_f, test_f = ctr_split(rows, seed=SEED)
    fields = ("item_id", "year_bucket", *(f"u_{c}" for c in user_fields))
    feat = CTRFeaturizer(fields=fields).fit(train_f)
    tr, va, te = feat.transform(train_f), feat.transform(valid_f), feat.transform(test_f)
    seed_everything(SEED)
    model = LogisticRegression(LRConfig(feat.field_dims_, feat.multi_dims_))
    config = TrainConfig(num_epochs=10, lr=1e-2, patience=2, monitor="valid_auc", mode="max",
                         seed=SEED, progress=False)  # fmt: skip
    trainer = Trainer(model, nn.BCEWithLogitsLoss(), config, metrics={"auc": metrics.roc_auc},
                      output_transform=torch.sigmoid)  # fmt: skip
    trainer.fit(tr.pair, va.pair)
    return metrics.roc_auc(te.y.numpy(), trainer.predict(te.inputs).numpy())


cost_table = pd.Series({
    "film features + original quasi-identifiers": ctr_auc(users, QI),
    f"film features + {K_ANON}-anonymous quasi-identifiers": ctr_auc(gen.table, QI),
    "film features only (no user information)": ctr_auc(users, []),
    "film features + user id (pseudonymous)": ctr_auc(users, ["user_id"]),
}, name="test AUC")  # fmt: skip
cost_table.round(4).to_frame()

# %%
auc_orig, auc_kanon, auc_none, auc_id = cost_table.to_numpy()
glue("priv_auc_qi", auc_orig)
glue("priv_auc_kanon", auc_kanon)
glue("priv_auc_none", auc_none)
glue("priv_auc_id", auc_id)
assert auc_orig - auc_kanon > 0.02, "the text says generalisation costs several AUC points"
assert abs(auc_kanon - auc_none) < 0.02, "the text says the generalised features add little"
assert abs(auc_orig - auc_id) < 0.02, "the text says raw quasi-identifiers act like the id"

# %% [markdown]
# The original quasi-identifiers give a test AUC of {glue:text}`priv_auc_qi:.4f`, the
# generalised ones {glue:text}`priv_auc_kanon:.4f`, hardly more than no user information
# at all ({glue:text}`priv_auc_none:.4f`). The reason is in the last row: the user id
# gives {glue:text}`priv_auc_id:.4f`, about what the raw quasi-identifiers give. Raw
# (age, gender, occupation, zip) *is* a user id for {glue:text}`priv_unique_share:.0f`%
# of the users, and the model
# used it as one: it learned each person's taste, not a demographic effect. The AUC that
# k-anonymity removes is exactly the identifying part. A model that keeps a
# (pseudonymous) id loses nothing by coarsening demographics; the demographics then
# matter for new users only, where coarse bands are what a model can use anyway.
#
# **What k-anonymity does not protect.** It hides *which* row is a person's, not *what*
# the rows say: if all five users of a class liked the same film, the attacker learns it
# anyway (the homogeneity attack behind l-diversity {cite}`machanavajjhala2007diversity`).
# And in a recommender the most identifying columns are not demographics but the
# ratings themselves: Narayanan and Shmatikov re-identified Netflix Prize users from a
# handful of rated films {cite}`narayanan2008robust`, most easily from the films few
# others watched. We count how often a few films a user rated single them out: films
# picked at random among the user's ratings, or the user's least-watched films (what an
# acquaintance who knows your unusual tastes would pick).

# %%
rated = np.zeros((ml.users["user_id"].max() + 1, ml.items["item_id"].max() + 1), dtype=bool)  # (users, films)
rated[ml.ratings["user_id"], ml.ratings["item_id"]] = True
popularity = rated.sum(axis=0)  # (films,) raters per film
rng = np.random.default_rng(SEED)
uniqueness = {}
for n_films in (1, 2, 3, 5):
    alone_random = alone_rare = 0
    for u, films in ml.ratings.groupby("user_id")["item_id"]:
        films = films.to_numpy()
        for pick, kind in [(rng.choice(films, size=n_films, replace=False), "random"),
                           (films[np.argsort(popularity[films], kind="stable")[:n_films]], "rarest")]:  # fmt: skip
            alone = int(rated[:, pick].all(axis=1).sum() == 1)
            alone_random += alone * (kind == "random")
            alone_rare += alone * (kind == "rarest")
    uniqueness[n_films] = {"random films": alone_random / len(users), "least-watched films": alone_rare / len(users)}
film_uniqueness = pd.DataFrame(uniqueness).rename_axis(columns="films known")
glue("priv_unique_3random", 100 * uniqueness[3]["random films"])
glue("priv_unique_3rare", 100 * uniqueness[3]["least-watched films"])
glue("priv_unique_5rare", 100 * uniqueness[5]["least-watched films"])
assert uniqueness[3]["least-watched films"] > 0.5 > uniqueness[3]["random films"]
film_uniqueness.round(3)

# %% [markdown]
# Three random films single out only {glue:text}`priv_unique_3random:.0f`% of the users
# (on ML-100K everyone rated the popular films), but a user's three least-watched films
# single out {glue:text}`priv_unique_3rare:.0f`%, five of them
# {glue:text}`priv_unique_5rare:.0f`%. No generalisation of the user table removes
# that: the training data itself is the quasi-identifier. Protecting it takes a guarantee
# about what a *computation* reveals, whatever the attacker knows: differential privacy,
# after a word on encryption.
#
# ## 3. What encryption can and cannot do
#
# Encryption protects data from whoever does not hold the key. That covers data **in
# transit** (TLS between the app and the server) and **at rest** (encrypted disks and
# backups, so a stolen backup is useless). Both are necessary, cheap, and standard; they
# are what §9.2 names: 对用户数据进行加密传输和存储，防止数据在传输和存储过程中被窃取
# ("encrypt user data in transmission and storage, to prevent it being stolen while
# transmitted or stored"). But they protect nothing at the moment that
# matters here: to compute a gradient, the training job decrypts the data, and the model
# it produces is plain numbers that anyone who can query it can probe (section 5).
#
# Computing *on* encrypted data is possible. Fully homomorphic encryption
# {cite}`gentry2009fully` evaluates any function on ciphertexts, at a cost of several
# orders of magnitude in time and memory: feasible today for scoring a small model,
# not for training a recommender on millions of interactions. Secure aggregation
# {cite}`bonawitz2017practical`, used in federated learning, lets a server add up
# model updates from phones without seeing any single one. Trusted execution
# environments keep data encrypted outside a hardware enclave. All three answer
# *who may see the data during the computation*; none answers *what the result reveals
# about one person*: a model trained under encryption memorises exactly what it would
# have memorised in the clear. That second question is the one differential privacy
# answers, which is why federated systems add DP noise on top of secure aggregation.
#
# (ch16-dp)=
# ## 4. Differential privacy and DP-SGD
#
# A randomised algorithm $M$ is $(\varepsilon, \delta)$-differentially private
# {cite}`dwork2014algorithmic` if for any two data sets $D, D'$ that differ in one row
# and any set of outputs $S$,
#
# $$
# \Pr[M(D) \in S] \le e^{\varepsilon} \Pr[M(D') \in S] + \delta .
# $$ (eq-privacy-dp)
#
# Whatever the attacker knows, the output barely depends on any one row: small
# $\varepsilon$, strong privacy; $\delta$ is a small failure probability, set below
# $1/n$ ({glue:text}`priv_delta:.0e` here, for 80,000 training rows).
#
# This is not what the article's §9.2 says differential privacy does. It describes it as
# a way 以减少模型训练过程中对用户数据的依赖 ("to reduce the model training's dependence on
# user data"). A differentially private training run uses the same user data as any
# other and still learns from it what many users have in common; what the definition
# bounds is how much the *trained model* can change when any *one* row is added or
# removed, and so how much it can reveal about that row.
#
# **DP-SGD** {cite}`abadi2016deep` makes training private. Each step samples a batch
# $B$ (every row joins with probability $q$), computes each example's gradient $g_i$,
# clips it to norm $C$ so that no row can move the sum by more than $C$, and adds
# Gaussian noise scaled to that bound:
#
# $$
# \bar g_i = g_i \min\Bigl(1, \frac{C}{\lVert g_i \rVert_2}\Bigr), \qquad
# \tilde g = \frac{1}{qN}\Bigl(\sum_{i \in B} \bar g_i + \mathcal N(0, \sigma^2 C^2 I)\Bigr).
# $$ (eq-privacy-dpsgd)
#
# The noise multiplier $\sigma$ sets the privacy of one step. `train_dp_sgd` computes
# the per-example gradients in one vectorised pass (`torch.func.vmap` over `grad`),
# clips and adds the noise as written, and hands $\tilde g$ to Adam (any optimizer is
# post-processing, free of extra privacy cost).
#
# **Accounting.** Steps compose: the privacy loss of $T$ steps adds up. Renyi DP
# {cite}`mironov2017renyi` makes the sum tight. For the sampled Gaussian mechanism at an
# integer order $\alpha \ge 2$ {cite}`mironov2019sampled`,
#
# $$
# \varepsilon_{\text{RDP}}(\alpha) = \frac{T}{\alpha - 1} \log \sum_{k=0}^{\alpha}
# \binom{\alpha}{k} (1-q)^{\alpha-k} q^k \exp\Bigl(\frac{k^2-k}{2\sigma^2}\Bigr),
# $$ (eq-privacy-rdp)
#
# and an RDP guarantee converts to $(\varepsilon, \delta)$-DP by
# $\varepsilon = \min_\alpha \bigl[\varepsilon_{\text{RDP}}(\alpha) + \log\frac{\alpha-1}{\alpha}
# - \frac{\log \delta + \log \alpha}{\alpha-1}\bigr]$ {cite}`balle2020hypothesis`.
# `rdp_sampled_gaussian` and `rdp_to_epsilon` implement both from scratch. Before we
# trust them, we compare them with Opacus, the PyTorch DP library: once on the same
# integer orders, and once with Opacus's own accountant, which also tries fractional
# orders between 1 and 11.

# %%
from opacus.accountants import RDPAccountant as OpacusAccountant
from opacus.accountants.analysis import rdp as opacus_rdp

ORDERS = list(range(2, 257))
acc_rows = []
for q, sigma, steps in [(0.0128, 0.6, 312), (0.0128, 1.0, 312), (0.0128, 4.0, 312),
                        (0.01, 1.1, 10_000), (0.001, 0.8, 1000), (0.25, 1.0, 20)]:  # fmt: skip
    ours = dp_sgd_epsilon(q, sigma, steps, DELTA, orders=ORDERS)
    with warnings.catch_warnings():  # Opacus warns when the best order is at the end of its grid
        warnings.simplefilter("ignore", UserWarning)
        same_orders = opacus_rdp.get_privacy_spent(
            orders=ORDERS, rdp=opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=ORDERS),
            delta=DELTA,
        )[0]
        accountant = OpacusAccountant()
        accountant.history = [(sigma, q, steps)]  # what `steps` calls of accountant.step leave
        default = accountant.get_epsilon(DELTA)
    acc_rows.append({"q": q, "sigma": sigma, "steps": steps, "epsilon (ours)": ours,
                     "Opacus, same orders": float(same_orders), "Opacus accountant": default,
                     "ours / Opacus accountant - 1 (%)": 100 * (ours / default - 1)})  # fmt: skip
accountant_table = pd.DataFrame(acc_rows)
accountant_table.round(4)

# %%
rel_same = (accountant_table["epsilon (ours)"] / accountant_table["Opacus, same orders"] - 1).abs()
assert (rel_same < 1e-6).all(), "same orders, same formula: the numbers must agree"
gap = accountant_table["ours / Opacus accountant - 1 (%)"]
assert (gap > -0.1).all(), "Opacus searches more orders below 11; we search more above 63"
glue("priv_delta", DELTA)
glue("priv_acc_gap_max", gap.max())
glue("priv_acc_gap_min", -gap.min())
glue("priv_acc_gap_sigma1", gap.loc[1])

# %% [markdown]
# On the same orders the two agree to every printed digit. Against Opacus's accountant
# ours is at most {glue:text}`priv_acc_gap_max:.1f`% higher: Opacus also tries
# fractional orders (1.1, 1.2, ..., 10.9), which matter at small $\sigma$ and large
# $\varepsilon$; at $\sigma = 1$ the gap is {glue:text}`priv_acc_gap_sigma1:.2f`%. At
# large $\sigma$ ours is lower by {glue:text}`priv_acc_gap_min:.2f`%, because the best
# order lies above 63, the largest Opacus tries, and we go up to 256. Both are valid
# upper bounds on the true $\varepsilon$; each is only as tight as its grid of orders.
#
# **Training with DP-SGD.** The model is the CTR logistic regression of Chapter 5 (user
# id, film id, age group, gender, occupation, decade, genres; one weight per value),
# on the same 80/10/10 split. Every row is one rating, so the guarantee is
# **per rating**: it bounds what the model reveals about whether one rating was in the
# training data. Protecting a whole user, who has on average
# {glue:text}`priv_ratings_per_user:.0f` ratings here, needs
# user-level DP (sample users, clip each user's summed gradient), with a much larger
# noise cost. The settings ($C = 1$, Adam with learning rate 0.03, batches of 1,024 on
# average, 4 epochs) were chosen on the validation rows at $\sigma = 1$; the
# `DPSGDConfig` docstring lists the sweep. The non-private run goes through the same
# loop without clipping or noise.

# %%
data = build_ctr_features(ml, seed=SEED)
device = get_device()
feat = data.featurizer
dp_models, dp_rows = {}, []
for sigma in (0.0, *NOISE_LEVELS):
    torch.manual_seed(SEED)
    model = LogisticRegression(LRConfig(feat.field_dims_, feat.multi_dims_)).to(device)
    config = DPSGDConfig(noise_multiplier=sigma, max_grad_norm=None if sigma == 0 else 1.0,
                         epochs=DP_EPOCHS, delta=DELTA, seed=SEED, progress=False)  # fmt: skip
    result = train_dp_sgd(model.linear, nn.BCEWithLogitsLoss(), data.train.inputs, data.train.y, config)
    model = model.cpu()
    with torch.no_grad():
        p_valid = torch.sigmoid(model(*data.valid.inputs)).numpy()
        p_test = torch.sigmoid(model(*data.test.inputs)).numpy()
    name = "non-private" if sigma == 0 else f"sigma = {sigma:g}"
    dp_models[name] = model
    dp_rows.append({"model": name, "sigma": sigma, "epsilon": result.epsilon,
                    "valid AUC": metrics.roc_auc(data.valid.y.numpy(), p_valid),
                    "test AUC": metrics.roc_auc(data.test.y.numpy(), p_test),
                    "clipped share": result.history["clipped_fraction"].iloc[-1],
                    "seconds": result.history["seconds"].sum()})  # fmt: skip
dp_table = pd.DataFrame(dp_rows).set_index("model")
dp_table.round(4)

# %%
private = dp_table[dp_table["sigma"] > 0]
fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.plot(private["epsilon"], private["test AUC"], marker="o", label="DP-SGD")
for name, row in private.iterrows():
    ax.annotate(name, (row["epsilon"], row["test AUC"]), textcoords="offset points", xytext=(4, -10), fontsize=8)
ax.axhline(dp_table.loc["non-private", "test AUC"], color="tab:green", ls="--", label="non-private")
ax.axhline(0.5, color="grey", ls=":", label="chance")
ax.set_xscale("log")
ax.set_xlabel(f"epsilon (delta = {DELTA:g}), log scale")
ax.set_ylabel("test ROC-AUC")
ax.set_title("Privacy-utility trade-off, CTR logistic regression")
ax.legend(fontsize=8);

# %%
glue("priv_ratings_per_user", len(ml.ratings) / len(users))
glue("priv_np_auc", dp_table.loc["non-private", "test AUC"])
glue("priv_s1_auc", dp_table.loc["sigma = 1", "test AUC"])
glue("priv_s1_eps", dp_table.loc["sigma = 1", "epsilon"])
glue("priv_s4_auc", dp_table.loc["sigma = 4", "test AUC"])
glue("priv_s4_eps", dp_table.loc["sigma = 4", "epsilon"])
glue("priv_s06_eps", dp_table.loc["sigma = 0.6", "epsilon"])
glue("priv_s06_auc", dp_table.loc["sigma = 0.6", "test AUC"])
assert private["epsilon"].is_monotonic_decreasing, "more noise, less epsilon"
assert (private["test AUC"] < dp_table.loc["non-private", "test AUC"]).all(), "privacy is not free"
assert (private["test AUC"] > 0.6).all(), "even the noisiest model must learn something"
assert dp_table.loc["sigma = 1", "epsilon"] < 2 and dp_table.loc["sigma = 1", "test AUC"] > 0.72

# %% [markdown]
# The non-private model reaches a test AUC of {glue:text}`priv_np_auc:.4f`. At
# $\sigma = 1$ DP-SGD spends $\varepsilon$ = {glue:text}`priv_s1_eps:.2f` and reaches
# {glue:text}`priv_s1_auc:.4f`; at $\sigma = 4$, $\varepsilon$ =
# {glue:text}`priv_s4_eps:.2f` (a strong guarantee) and {glue:text}`priv_s4_auc:.4f`;
# at $\sigma = 0.6$, $\varepsilon$ = {glue:text}`priv_s06_eps:.1f` buys
# {glue:text}`priv_s06_auc:.4f`. The cost falls on the rare values: a user with 20
# ratings contributes at most 20 clipped gradients to their weight, and the noise added
# to it every step is the same for everyone, so the weights of light users and rare
# films drown first. More data per parameter (more users, fewer rare ids, hashing rare
# ids into shared buckets) is the usual way to make DP cheaper. A private step costs
# nothing extra in this loop, which computes per-example gradients in every run; against
# an ordinary mini-batch trainer, per-example gradients are the real price of DP-SGD.
#
# ## 5. Membership inference: measuring what a model leaks
#
# Does the non-private model actually leak? A **membership-inference attack**
# {cite}`shokri2017membership` guesses whether a row was in the training set. The
# simplest one {cite}`yeom2018privacy` uses the model's loss: training rows tend to
# have lower loss, so the attacker scores a row by $-\ell(f(x), y)$ and says "member"
# below a threshold (the mean training loss). We report the ROC-AUC of that score on
# 10,000 training rows (members) against the 10,000 test rows (non-members): 0.5 means
# the attacker does no better than a coin, and the *advantage*, true-positive rate minus
# false-positive rate at that threshold.
#
# DP bounds every attack, not just this one. Deciding "member or not" from the model is
# a hypothesis test, and $(\varepsilon, \delta)$-DP forces every test to satisfy
# $\mathrm{TPR} \le e^\varepsilon \mathrm{FPR} + \delta$ (and the same with the roles
# swapped) {cite}`kairouz2015composition`. The largest ROC curve this allows gives an
# attack AUC of at most about $e^\varepsilon / (1 + e^\varepsilon)$ and an advantage of at most
# $(e^\varepsilon - 1 + 2\delta)/(e^\varepsilon + 1)$ (`dp_membership_bounds`; Yeom et al.
# give the looser $e^\varepsilon - 1$).
#
# To see what leakage looks like we add a model built to memorise: a factorisation
# machine with 64-dimensional embeddings per value, trained for 8 epochs without
# regularisation or early stopping.

# %%
seed_everything(SEED)
overfit = FM(FMConfig(feat.field_dims_, feat.multi_dims_, embed_dim=64))
overfit_trainer = Trainer(overfit, nn.BCEWithLogitsLoss(),
                          TrainConfig(num_epochs=8, lr=1e-2, patience=None, seed=SEED, progress=False))  # fmt: skip
overfit_trainer.fit(data.train.pair)  # no validation: keeps the last epoch
overfit = overfit.cpu()

members = np.random.default_rng(SEED).choice(len(data.train), size=len(data.test), replace=False)
member_inputs = [x[members] for x in data.train.inputs]
attack_rows = []
for name, model in {"FM, 64 dims, no regularisation": overfit, **dp_models}.items():
    loss_in = per_example_losses(model, member_inputs, data.train.y[members])
    loss_out = per_example_losses(model, data.test.inputs, data.test.y)
    attack = loss_threshold_attack(loss_in, loss_out)
    eps = dp_table.loc[name, "epsilon"] if name in dp_table.index else math.inf
    bound = dp_membership_bounds(eps, DELTA)
    attack_rows.append({"model": name, "epsilon": eps, "train loss": loss_in.mean(), "test loss": loss_out.mean(),
                        "attack AUC": attack["auc"], "AUC bound": bound["auc"],
                        "attack advantage": attack["advantage"], "advantage bound": bound["advantage"]})  # fmt: skip
attack_table = pd.DataFrame(attack_rows).set_index("model")
attack_table.round(4)

# %%
fig, ax = plt.subplots(figsize=(6.5, 3))
ax.barh(attack_table.index, attack_table["attack AUC"] - 0.5, left=0.5, color="tab:red", label="attack AUC")
bounded = attack_table[attack_table["epsilon"] < math.inf]
ax.scatter(bounded["AUC bound"], bounded.index, marker="|", s=200, color="black", label="DP bound")
ax.axvline(0.5, color="grey", ls=":")
ax.legend(fontsize=8, loc="lower right")
ax.set_xlabel("membership-inference attack AUC (0.5 = no leakage)")
ax.invert_yaxis()
ax.set_title("Loss-threshold attack (Yeom et al.)");

# %%
glue("priv_mia_overfit", attack_table.loc["FM, 64 dims, no regularisation", "attack AUC"])
glue("priv_mia_np", attack_table.loc["non-private", "attack AUC"])
glue("priv_mia_s1", attack_table.loc["sigma = 1", "attack AUC"])
glue("priv_mia_private_max", attack_table.loc[private.index, "attack AUC"].max())
glue("priv_mia_s4", attack_table.loc["sigma = 4", "attack AUC"])
glue("priv_bound_s4", attack_table.loc["sigma = 4", "AUC bound"])
glue("priv_bound_s1", attack_table.loc["sigma = 1", "AUC bound"])
glue("priv_gap_overfit", attack_table.loc["FM, 64 dims, no regularisation", "test loss"]
     - attack_table.loc["FM, 64 dims, no regularisation", "train loss"])  # fmt: skip
assert attack_table.loc["FM, 64 dims, no regularisation", "attack AUC"] > 0.6, "the memorising model leaks"
assert attack_table.loc["non-private", "attack AUC"] < 0.55, "the small linear model leaks little"
assert (attack_table.loc[private.index, "attack AUC"] < 0.53).all()
assert (attack_table["attack AUC"] <= attack_table["AUC bound"]).all(), "no attack can beat the DP bound"
assert (attack_table["attack advantage"] <= attack_table["advantage bound"]).all()

# %% [markdown]
# The memorising FM is easy prey: its test loss exceeds its training loss by
# {glue:text}`priv_gap_overfit:.2f`, and the attack separates members from non-members
# with AUC {glue:text}`priv_mia_overfit:.3f`. The non-private logistic regression, one
# weight per value trained for four epochs, generalises well and leaks little (AUC
# {glue:text}`priv_mia_np:.3f`), and this attack finds about as much in the private ones
# (at most {glue:text}`priv_mia_private_max:.3f`): what it sees is the small, ordinary
# gap between training and test loss that any fitted model has, not memorisation.
#
# So what does DP add, if the measured leakage is the same? A *guarantee*. The measured
# AUC is what one weak attack found; the bound holds against every attack, including
# stronger ones (shadow models {cite}`shokri2017membership`, per-example thresholds,
# attacks aimed at the rare users whose weights rest on a few ratings). At $\sigma = 4$
# no attack can exceed AUC {glue:text}`priv_bound_s4:.3f` (this one reaches
# {glue:text}`priv_mia_s4:.3f`); at $\sigma = 1$ the bound is already loose
# ({glue:text}`priv_bound_s1:.3f`), and at $\sigma = 0.6$ it says nothing. The
# non-private model has no bound at all. As Yeom et al. show, a loss attack's success
# tracks overfitting {cite}`yeom2018privacy`: regularisation and early stopping remove
# most of what it finds, and DP is what makes the protection provable rather than
# measured.
#
# ## Summary
#
# * **Hashing is not anonymising.** Unkeyed hashes of ids from a small space are reversed
#   by enumeration in milliseconds; a keyed HMAC stops outsiders, but the data stays
#   pseudonymous (personal data) for the key holder.
# * **Quasi-identifiers identify.** {glue:text}`priv_unique_share:.0f`% of ML-100K's users
#   are unique on (age, gender, occupation, zip). Generalisation and a little suppression
#   reach k = 5, at the cost of the AUC the model gained by using the quasi-identifiers
#   *as* an identifier; and a user's three least-watched films single out most users,
#   which no user-table generalisation fixes.
# * **Encryption** protects data in transit and at rest, and (at high cost) during
#   computation; it does not limit what the trained model reveals.
# * **Differential privacy** does. DP-SGD (clip per example, add Gaussian noise) with an
#   RDP accountant that matches Opacus gives a measured privacy-utility curve; its
#   guarantee here is per rating, not per user.
# * **Membership inference** turns leakage into a number: clear for a memorising model,
#   small for a well-regularised linear one, private or not; only DP bounds what any
#   attack can find.
#
# ## Exercises
#
# 1. Run `generalise_users` with k = 10 and k = 20. Which columns does the search give
#    up first, and how many users does it suppress?
# 2. With the accountant, find the noise multiplier $\sigma$ that gives $\varepsilon = 1$
#    at $\delta = 10^{-5}$ for the chapter's DP-SGD schedule (q = 0.0128, 312 steps).
#    How does it change if you train twice as long?
# 3. Group privacy: an $(\varepsilon, \delta)$-DP guarantee for one row gives about
#    $(m\varepsilon, m e^{(m-1)\varepsilon}\delta)$ for a group of $m$ rows
#    {cite}`dwork2014algorithmic`. What does the $\sigma = 1$ model guarantee for a user
#    with 20 ratings? Why is that nearly meaningless, and what would user-level DP-SGD
#    change in the sampling and clipping?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below answers (1) and (2). (1) At k = 10 the search keeps 5-year age bands
# and gives up occupation (and zip code) instead, suppressing a few more users; at
# k = 20 only gender is left. Compare the printed levels. (2) The bisection prints $\sigma$ for $\varepsilon = 1$; twice the steps need
# a larger $\sigma$, though less than twice as large, because RDP composes linearly and
# the conversion to $\varepsilon$ is sub-linear. (3) For m = 20 and
# $\varepsilon \approx 1.8$: $m\varepsilon = 36$, and the $\delta$ term explodes
# ($e^{19 \cdot 1.8} \approx 10^{15}$ times $\delta$): no guarantee left. User-level
# DP-SGD samples *users* with probability q, clips the sum of each user's per-example
# gradients to C, and adds the same noise, so one user moves the sum by at most C and
# the accountant applies unchanged with N = number of users (943 here: q and the noise
# per user are much larger for the same utility).
# :::

# %%
for k in (10, 20):
    g = generalise_users(users, k=k, max_suppression=MAX_SUPPRESSION)
    print(f"k = {k}: levels {g.levels}, suppressed {g.suppressed}, loss {g.loss:.3f}")


def sigma_for_epsilon(target, q, steps, delta=DELTA, lo=0.3, hi=20.0):
    """Bisection on sigma: epsilon decreases as sigma grows."""
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if dp_sgd_epsilon(q, mid, steps, delta) > target else (lo, mid)
    return hi


for steps in (312, 624):
    print(f"{steps} steps: sigma = {sigma_for_epsilon(1.0, 0.0128, steps):.3f} for epsilon = 1")
