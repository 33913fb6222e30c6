# %% [markdown]
# # The mathematics of a layer and its losses
#
# Section 4 of the source article gives the formulas behind its network: the forward pass
# of a fully connected layer, mean squared error, and binary cross-entropy. This chapter
# derives each one, computes it with the smallest NumPy function in `recfeat_ref.losses`,
# checks that function against PyTorch, and then runs it. Two questions get an experiment
# on MovieLens-100K: what happens if you minimise the article's cross-entropy formula as
# printed (its sign is wrong), and whether mean squared error or binary cross-entropy is
# the better loss for a yes/no target.
#
# **You will learn** how a linear layer maps shapes; why MSE and cross-entropy are
# negative log-likelihoods; how binary cross-entropy follows from the Bernoulli
# distribution, step by step, and why its gradient with respect to the logit is simply
# $\sigma(z) - y$; why the article's formula trains a model to be wrong; and what MSE's
# flat gradient does, and does not, cost on real data.

# %%
# Set-up on Google Colab only: install recfeat_ref from the book's repository.
import sys

if "google.colab" in sys.modules:
    import subprocess

    REPO_URL = "https://github.com/recfeat/recfeat"  # synced from _config.yml
    pip_install = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip_install, f"recfeat-ref @ git+{REPO_URL}"], check=True)

# %% [markdown]
# ## Overview and notation
#
# The chapter moves from one layer (its forward pass), through the losses that turn the
# layer's output into a number to minimise, to the gradient that training follows. The
# same letters are used throughout, and in `recfeat_ref.losses`:
#
# | Symbol | Meaning | Shape |
# |---|---|---|
# | $n$ | number of examples in a batch | |
# | $d$ | number of input features | |
# | $h$ | number of output units of a layer | |
# | $X$ | inputs, one row $x_i$ per example | $(n, d)$ |
# | $W$ | weights, one row per output unit (PyTorch's `nn.Linear` layout) | $(h, d)$ |
# | $b$ | bias, one entry per output unit | $(h,)$ |
# | $Z$, $z$ | logits: the layer's outputs before any squashing; $z_i$ when $h = 1$ | $(n, h)$, $(n,)$ |
# | $\sigma$ | the logistic sigmoid, $\sigma(z) = 1 / (1 + e^{-z})$ | elementwise |
# | $p$ | predicted probability that the label is 1, $p = \sigma(z)$ | $(n,)$ |
# | $y$ | labels: 0 or 1 for binary tasks, a class index for $C$ classes, a real number for regression | $(n,)$ |
# | $\hat y$ | a real-valued prediction (regression) | $(n,)$ |
#
# In code the same objects are called `X`, `W`, `b`, `z`, `p`, `y` and `y_hat`.

# %% [markdown]
# ## Parameters
#
# Every size and setting of the chapter's experiments is in this one cell.

# %%
SEED = 0
HIDDEN_DIM = 100  # the article's hidden layer width
NUM_EPOCHS = 8  # the validation AUC of both models peaks before this
BATCH_SIZE = 256  # about 280 updates per epoch on the training split
LR = 1e-3  # the article's Adam learning rate
PATIENCE = 3  # early stopping: epochs without a better validation AUC
GD_STEPS = 200  # full-batch gradient-descent steps of the small logistic model
GD_LR = (
    1.0  # its step size; the loss is smooth and the model has three parameters
)

# %% [markdown]
# The imports: the NumPy formulas come from `recfeat_ref.losses`, and PyTorch serves as
# the independent reference they are checked against.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from recfeat_ref import losses, metrics
from recfeat_ref.book import glue
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.models import MLPConfig, OneHotMLP
from recfeat_ref.preprocessing import IdEncoder
from recfeat_ref.splits import random_split
from recfeat_ref.training import (
    TrainConfig,
    Trainer,
    plot_history,
    seed_everything,
)

rng = np.random.default_rng(SEED)  # the random inputs of the checks below

# %% [markdown]
# ## The forward pass of a fully connected layer
#
# A fully connected (linear) layer computes, for every example and every output unit, a
# weighted sum of the inputs plus a bias. Writing all examples as the rows of $X$ turns
# the $n \times h$ sums into one matrix product:
#
# $$
# Z = X W^\top + \mathbf{1}_n b^\top, \qquad
# z_{ij} = \sum_{k=1}^{d} x_{ik}\, w_{jk} + b_j, \qquad
# \underbrace{(n, d)}_{X} \cdot \underbrace{(d, h)}_{W^\top} + \underbrace{(h,)}_{b} \to \underbrace{(n, h)}_{Z}
# $$ (eq-math-linear)
#
# $W$ is stored as $(h, d)$, one row per output unit, because that is how PyTorch's
# `nn.Linear` stores it; hence the transpose. The bias is added to every row
# (broadcasting). The article's network applies {eq}`eq-math-linear` twice, with a ReLU,
# $\max(0, z)$, in between; its last layer has $h = 1$ and outputs one logit $z_i$ per
# example.
#
# We draw a small batch to watch the shapes: $n = 4$ examples, $d = 3$ features,
# $h = 2$ output units.

# %%
n, d, h = 4, 3, 2
X = rng.normal(size=(n, d))  # (n, d)
W = rng.normal(size=(h, d))  # (h, d), nn.Linear's layout
b = rng.normal(size=h)  # (h,)
Z = losses.linear_forward(X, W, b)  # (n, h)
print("X", X.shape, "W", W.shape, "b", b.shape, "-> Z", Z.shape)

# %% [markdown]
# `torch.nn.functional.linear` computes the same layer; the two must agree to rounding
# error.

# %%
Z_torch = F.linear(torch.tensor(X), torch.tensor(W), torch.tensor(b)).numpy()
assert np.allclose(Z, Z_torch, rtol=1e-12, atol=1e-12), (
    "linear_forward disagrees with F.linear"
)
print("max |difference|:", np.abs(Z - Z_torch).max())

# %% [markdown]
# ## Losses as negative log-likelihoods
#
# A loss turns the layer's outputs and the labels into one number to minimise. The two
# classic losses are not arbitrary: each is the negative log-likelihood of the labels
# under a probability model of the output {cite}`goodfellow2016deep` (section 5.5). Which
# model fits the label decides which loss to use.
#
# ### Mean squared error: a Gaussian likelihood
#
# Suppose a real-valued label is the prediction plus Gaussian noise of fixed variance
# $\sigma_\varepsilon^2$, so that $y_i \sim \mathcal{N}(\hat y_i, \sigma_\varepsilon^2)$. The density
# of one label is
#
# $$
# P(y_i \mid \hat y_i) = \frac{1}{\sqrt{2\pi\sigma_\varepsilon^2}}
# \exp\!\left(-\frac{(y_i - \hat y_i)^2}{2\sigma_\varepsilon^2}\right).
# $$ (eq-math-gauss)
#
# Taking minus the log and averaging over the batch gives
# $\frac{1}{2\sigma_\varepsilon^2} \cdot \frac{1}{n}\sum_i (y_i - \hat y_i)^2 + \frac{1}{2}\log(2\pi\sigma_\varepsilon^2)$.
# The constant and the positive factor do not move the minimum, so minimising the
# negative log-likelihood is minimising the mean squared error
#
# $$
# \mathrm{MSE} = \frac{1}{n}\sum_{i=1}^{n} (y_i - \hat y_i)^2 .
# $$ (eq-math-mse)
#
# `losses.mse` computes {eq}`eq-math-mse`. We check it against PyTorch, and check the
# likelihood view too: with $\sigma_\varepsilon = 1$ the mean Gaussian negative
# log-likelihood must equal $\mathrm{MSE}/2 + \frac{1}{2}\log 2\pi$.

# %%
y = rng.normal(size=6)
y_hat = rng.normal(size=6)
mse_ours = losses.mse(y, y_hat)
mse_torch = F.mse_loss(torch.tensor(y_hat), torch.tensor(y)).item()
gauss_nll = (
    -torch.distributions.Normal(torch.tensor(y_hat), 1.0)
    .log_prob(torch.tensor(y))
    .mean()
    .item()
)
assert np.isclose(mse_ours, mse_torch), "mse disagrees with F.mse_loss"
assert np.isclose(gauss_nll, mse_ours / 2 + 0.5 * np.log(2 * np.pi)), (
    "MSE is not the Gaussian NLL"
)
print(
    f"MSE {mse_ours:.6f} (torch {mse_torch:.6f}); Gaussian NLL {gauss_nll:.6f}"
)

# %% [markdown]
# ### Multi-class cross-entropy: a categorical likelihood
#
# With $C$ classes, the last layer outputs $C$ logits per example and the softmax turns
# them into probabilities that are positive and sum to one:
#
# $$
# \mathrm{softmax}(z)_k = \frac{e^{z_k}}{\sum_{j=1}^{C} e^{z_j}} .
# $$ (eq-math-softmax)
#
# The negative log-likelihood of the observed classes $y_i$ is the cross-entropy. Taking
# the log of {eq}`eq-math-softmax` splits it into a log-sum-exp and the logit of the true
# class:
#
# $$
# \mathrm{CE} = -\frac{1}{n}\sum_{i=1}^{n} \log \mathrm{softmax}(z_i)_{y_i}
# = \frac{1}{n}\sum_{i=1}^{n} \left[\log \sum_{j=1}^{C} e^{z_{ij}} - z_{i y_i}\right].
# $$ (eq-math-ce)
#
# The right-hand form is how it should be computed. A probability is never formed and
# then logged (a tiny one would round to 0 and give $\log 0$), and the log-sum-exp is
# evaluated as $m + \log\sum_j e^{z_j - m}$ with $m = \max_j z_j$, so that no exponent is
# positive. We check `losses.cross_entropy` and `losses.softmax` against PyTorch on
# logits shifted by 800: the shift cancels in {eq}`eq-math-softmax`, but $e^{800}$
# overflows float64, which breaks the naive formula.

# %%
C = 4
logits = (
    10 * rng.normal(size=(5, C)) + 800.0
)  # (n, C); softmax ignores the shift, exp(800) overflows
labels = rng.integers(0, C, size=5)  # (n,)
ce_ours = losses.cross_entropy(labels, logits)
ce_torch = F.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
assert np.isclose(ce_ours, ce_torch, rtol=1e-10), (
    "cross_entropy disagrees with F.cross_entropy"
)
assert np.allclose(
    losses.softmax(logits), torch.softmax(torch.tensor(logits), dim=1).numpy()
)
with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
    naive = -np.mean(
        np.log(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))[
            np.arange(5), labels
        ]
    )
print(
    f"cross-entropy {ce_ours:.4f} (torch {ce_torch:.4f}); naive softmax-then-log gives {naive}"
)

# %% [markdown]
# ## Binary cross-entropy, derived
#
# A recommender's click, purchase or "liked" is a yes/no label, $y_i \in \{0, 1\}$, and
# the network outputs one number per example. This section derives the right loss for
# that case from the probability model of the label, following
# {cite}`goodfellow2016deep` (section 6.2.2) and {cite}`bishop2006pattern` (section 4.3.2).
#
# **Step 1: the Bernoulli model.** The model predicts the probability $p_i$ that
# $y_i = 1$. A single formula gives the probability of either outcome:
#
# $$
# P(y_i \mid p_i) = p_i^{\,y_i} (1 - p_i)^{1 - y_i}
# = \begin{cases} p_i & \text{if } y_i = 1, \\ 1 - p_i & \text{if } y_i = 0. \end{cases}
# $$ (eq-math-bernoulli)
#
# **Step 2: the likelihood.** Treating the labels as independent given the predictions,
# the probability of all of them is the product
# $\prod_{i=1}^{n} p_i^{\,y_i} (1 - p_i)^{1 - y_i}$. Training by maximum likelihood
# means choosing the parameters that make this product large.
#
# **Step 3: the log-likelihood.** A product of $n$ numbers below 1 underflows quickly, and
# the log is increasing, so we maximise its log instead; the log turns the product into a
# sum and the powers into factors:
#
# $$
# \log \prod_{i=1}^{n} P(y_i \mid p_i)
# = \sum_{i=1}^{n} \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right] \;\le\; 0 .
# $$ (eq-math-loglik)
#
# Every term is the log of a probability, so the sum is never positive; it reaches 0 only
# when every label is predicted with certainty.
#
# **Step 4: negate and average.** Optimisers minimise, and a mean does not grow with the
# batch size, so the loss is minus the mean log-likelihood, the binary cross-entropy:
#
# $$
# \mathrm{BCE} = -\frac{1}{n}\sum_{i=1}^{n} \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right] \;\ge\; 0 .
# $$ (eq-math-bce)
#
# `losses.binary_cross_entropy` computes {eq}`eq-math-bce`; PyTorch's
# `F.binary_cross_entropy` must agree.

# %%
y = rng.integers(0, 2, size=8).astype(float)  # (n,) labels
p = rng.uniform(0.01, 0.99, size=8)  # (n,) predicted probabilities
bce_ours = losses.binary_cross_entropy(y, p)
bce_torch = F.binary_cross_entropy(torch.tensor(p), torch.tensor(y)).item()
assert np.isclose(bce_ours, bce_torch, rtol=1e-10), (
    "binary_cross_entropy disagrees with torch"
)
print(f"BCE {bce_ours:.6f} (torch {bce_torch:.6f})")

# %% [markdown]
# ### From probabilities to logits
#
# The network outputs a logit $z_i$, and $p_i = \sigma(z_i)$. Substituting, with
# $\log \sigma(z) = -\log(1 + e^{-z})$ and $\log(1 - \sigma(z)) = \log \sigma(-z) = -\log(1 + e^{z})$,
# the loss of one example is
#
# $$
# \ell(z, y) = y \log(1 + e^{-z}) + (1 - y) \log(1 + e^{z}) .
# $$
#
# Since $\log(1 + e^{-z}) = \log(1 + e^{z}) - z$, the two logs combine into one:
#
# $$
# \ell(z, y) = \log(1 + e^{z}) - y z .
# $$ (eq-math-bce-logit)
#
# For a large positive $z$ the term $e^{z}$ overflows (float64 overflows past
# $z \approx 710$). Splitting $\log(1 + e^{z}) = \max(z, 0) + \log(1 + e^{-|z|})$ gives a
# form that never exponentiates a positive number:
#
# $$
# \ell(z, y) = \max(z, 0) - y z + \log\left(1 + e^{-|z|}\right) .
# $$ (eq-math-bce-stable)
#
# This is what `losses.binary_cross_entropy_with_logits` and PyTorch's
# `BCEWithLogitsLoss` compute. We compare the naive {eq}`eq-math-bce-logit` and the
# stable {eq}`eq-math-bce-stable` on logits from $-1000$ to $1000$.

# %%
z = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
with np.errstate(over="ignore"):
    naive = np.log(1 + np.exp(z)) - y * z  # eq-math-bce-logit, per example
stable = (
    np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))
)  # eq-math-bce-stable
torch_per_example = F.binary_cross_entropy_with_logits(
    torch.tensor(z), torch.tensor(y), reduction="none"
).numpy()
assert np.allclose(stable, torch_per_example), (
    "the stable form disagrees with torch"
)
assert np.isclose(losses.binary_cross_entropy_with_logits(y, z), stable.mean())
pd.DataFrame(
    {
        "z": z,
        "y": y,
        "naive": naive,
        "stable": stable,
        "torch": torch_per_example,
    }
)

# %% [markdown]
# The naive form returns `inf` at $z = 1000$, where the true loss is 1000 (a confident
# wrong prediction); the stable form and PyTorch agree. At $z = \pm 30$ the columns differ
# from the second digit on, in a number near $10^{-13}$: the naive form (and, at
# $z = -30$, PyTorch's) loses digits by rounding $1 + e^{-30}$ to float64 or by
# subtracting two nearly equal numbers, which `log1p` in the stable form avoids. Training
# never notices differences that small.
#
# ### The gradient with respect to the logit
#
# Training needs $\partial \ell / \partial z$, the signal every weight's gradient is built
# from by the chain rule. Differentiate {eq}`eq-math-bce-logit` term by term:
#
# 1. $\dfrac{\partial}{\partial z} \log(1 + e^{z}) = \dfrac{e^{z}}{1 + e^{z}} = \dfrac{1}{1 + e^{-z}} = \sigma(z)$;
# 2. $\dfrac{\partial}{\partial z} (y z) = y$;
# 3. so
#
# $$
# \frac{\partial \ell}{\partial z} = \sigma(z) - y = p - y,
# \qquad
# \frac{\partial\, \mathrm{BCE}}{\partial z_i} = \frac{\sigma(z_i) - y_i}{n} .
# $$ (eq-math-bce-grad)
#
# The same result comes through $p$, which shows why it is so simple. From
# {eq}`eq-math-bce`, $\partial \ell / \partial p = -y/p + (1 - y)/(1 - p) = (p - y) / (p(1 - p))$,
# and the sigmoid's derivative is $\partial p / \partial z = \sigma(z)(1 - \sigma(z)) = p(1 - p)$.
# Multiplying, the factor $p(1 - p)$ cancels. The gradient is the prediction error itself:
# it is bounded by 1, it is large exactly when the prediction is confidently wrong, and it
# never vanishes while the prediction is wrong. (The sigmoid is the Bernoulli
# distribution's *canonical link*, which is what makes the cancellation happen
# {cite}`bishop2006pattern`.)
#
# `losses.bce_grad_logit` computes {eq}`eq-math-bce-grad` for the mean loss. Autograd
# differentiates PyTorch's loss independently; on a random batch with some confident
# logits the two must agree.

# %%
z = rng.normal(scale=4.0, size=8)  # (n,) logits, several of them confident
y = rng.integers(0, 2, size=8).astype(float)  # (n,) labels
z_t = torch.tensor(z, requires_grad=True)
F.binary_cross_entropy_with_logits(
    z_t, torch.tensor(y)
).backward()  # mean over the batch
grad_autograd = z_t.grad.numpy()
grad_formula = losses.bce_grad_logit(y, z)
assert np.allclose(grad_autograd, grad_formula, rtol=1e-10, atol=1e-15), (
    "gradient check failed"
)
print("gradient check passed: autograd equals (sigma(z) - y) / n")
pd.DataFrame(
    {
        "z": z,
        "y": y,
        "autograd": grad_autograd,
        "(sigma(z) - y) / n": grad_formula,
    }
)

# %% [markdown]
# ## The data for the experiments
#
# The remaining questions are empirical, so they run on MovieLens-100K
# {cite}`harper2015movielens`. The binary target is the book's usual one: a rating is
# *liked* when it is 4 or 5 stars.

# %%
ml = load_movielens_100k(verbose=False)
ratings = ml.ratings.assign(
    label=(ml.ratings["rating"] >= 4).astype(np.float32)
)
ratings.head()

# %% [markdown]
# The positive rate tells us what "no skill" looks like: a model that predicts the rate
# for everyone gets an AUC of 0.5 and a log loss equal to the label's entropy.

# %%
# NBVAL_CHECK_OUTPUT
positive_rate = float(ratings["label"].mean())
print(
    f"{int(ratings['label'].sum())} liked of {len(ratings)} ratings; positive rate {positive_rate:.4f}"
)

# %% [markdown]
# Chapter 1 found that a little over half the ratings are 4 or 5 stars; the check below
# holds the data to that.

# %%
assert 0.5 < positive_rate < 0.6, (
    f"positive rate {positive_rate:.4f} is outside (0.5, 0.6)"
)
glue("positive_rate", positive_rate)

# %% [markdown]
# We hold out 20% of the ratings for the test, at random and seeded. From the remaining
# 80%, one tenth is set aside for validation (early stopping and model selection), so the
# test split is used only once, at the end.

# %%
train_full, test = random_split(ratings, ratios=(0.8, 0.2), seed=SEED)
train, valid = random_split(train_full, ratios=(0.9, 0.1), seed=SEED)
print(f"train {len(train)}, valid {len(valid)}, test {len(test)}")

# %% [markdown]
# The network's features are the user and item ids. Each field gets its own `IdEncoder`,
# fitted on the training rows only; ids never seen in training map to index 0.

# %%
user_enc = IdEncoder().fit(train["user_id"])
item_enc = IdEncoder().fit(train["item_id"])


def to_tensors(df):
    """(inputs, target): field indices of shape (n, 2) and float labels of shape (n,)."""
    x = np.column_stack(
        [user_enc.transform(df["user_id"]), item_enc.transform(df["item_id"])]
    )  # (n, 2)
    y = df["label"].to_numpy(
        np.float32, copy=True
    )  # (n,), a writable copy for torch
    return torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y)


data = {
    "train": to_tensors(train),
    "valid": to_tensors(valid),
    "test": to_tensors(test),
}
print(
    {name: tuple(x.shape) for name, (x, _) in data.items()},
    "users",
    user_enc.n_classes_,
    "items",
    item_enc.n_classes_,
)

# %% [markdown]
# ## The source article's sign error
#
# The article prints its loss as
#
# $$
# L_{\text{article}} = \frac{1}{n}\sum_{i=1}^{n} \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right],
# $$ (eq-math-article)
#
# without the leading minus of {eq}`eq-math-bce`. That is the mean *log-likelihood*
# {eq}`eq-math-loglik`: a quantity that is always $\le 0$ and is to be *maximised*.
# Minimising it, which is what every optimiser does with a loss, has three consequences:
#
# * its gradient with respect to the logit is $-(\sigma(z_i) - y_i)/n$, the exact opposite
#   of {eq}`eq-math-bce-grad`, so each gradient-descent step moves $p_i$ *away* from $y_i$;
# * it is pushed lower and lower by predicting labels wrongly with ever more certainty;
# * it is unbounded below ($\log p_i \to -\infty$ as $p_i \to 0$ for a positive), so descent
#   never stops: the weights grow without limit.
#
# Numbers for a single positive example ($y = 1$) make the first point concrete. The
# article's value is lowest, so "best", for the prediction that is most wrong.

# %%
p_grid = np.array([0.99, 0.9, 0.5, 0.1, 0.01])
pd.DataFrame(
    {
        "p (y = 1)": p_grid,
        "article's L (eq-math-article)": [
            losses.article_bce([1.0], [q]) for q in p_grid
        ],
        "BCE (eq-math-bce)": [
            losses.binary_cross_entropy([1.0], [q]) for q in p_grid
        ],
    }
).round(4)

# %% [markdown]
# Autograd confirms the sign of the gradient: differentiating the article's formula gives
# minus `bce_grad_logit`.

# %%
z = rng.normal(scale=2.0, size=8)
y = rng.integers(0, 2, size=8).astype(float)
z_t, y_t = torch.tensor(z, requires_grad=True), torch.tensor(y)
article_t = (
    y_t * F.logsigmoid(z_t) + (1 - y_t) * F.logsigmoid(-z_t)
).mean()  # eq-math-article
article_t.backward()
assert np.isclose(article_t.item(), losses.article_bce(y, losses.sigmoid(z))), (
    "article_bce disagrees"
)
assert article_t.item() <= 0, "a log-likelihood is never positive"
assert np.allclose(z_t.grad.numpy(), -losses.bce_grad_logit(y, z)), (
    "gradient is not minus the BCE gradient"
)
print(
    f"article's L = {article_t.item():.4f} <= 0; its gradient is -(sigma(z) - y) / n"
)

# %% [markdown]
# ### Gradient descent with both formulas, on MovieLens-100K
#
# To see the consequence on real data we train the smallest model that shows it: a
# logistic regression $z = w_1 u + w_2 v + b$, where $u$ is the user's mean training
# rating and $v$ the item's, both centred on the global mean. Its weights are fitted on
# the *validation* rows, whose ratings do not enter those means (fitting on the training
# rows would let each row's own label leak into its features
# {cite}`kaufman2012leakage`), and it is scored on the test rows.

# %%
global_mean = train["rating"].mean()
user_mean = train.groupby("user_id")["rating"].mean()
item_mean = train.groupby("item_id")["rating"].mean()


def mean_rating_features(df):
    """(n, 2): the user's and the item's mean training rating, centred; unseen ids get 0."""
    u = (
        df["user_id"].map(user_mean).fillna(global_mean).to_numpy()
        - global_mean
    )
    v = (
        df["item_id"].map(item_mean).fillna(global_mean).to_numpy()
        - global_mean
    )
    return np.column_stack([u, v])


X_fit, y_fit = mean_rating_features(valid), valid["label"].to_numpy(np.float64)
X_eval, y_eval = mean_rating_features(test), test["label"].to_numpy(np.float64)
print("fit", X_fit.shape, "eval", X_eval.shape)

# %% [markdown]
# Full-batch gradient descent needs only the gradient with respect to the logits: by the
# chain rule through {eq}`eq-math-linear`, $\partial L / \partial w = X^\top \, \partial L / \partial z$
# and $\partial L / \partial b = \sum_i \partial L / \partial z_i$. The function below
# takes that logit gradient as an argument, so the same loop runs every loss of this
# chapter, and it records test accuracy, AUC and log loss before each step.


# %%
def gradient_descent(grad_logit, b0=0.0, steps=GD_STEPS, lr=GD_LR):
    """Fit z = X_fit w + b by full-batch gradient descent; return the test metrics per step."""
    w, b = np.zeros(X_fit.shape[1]), b0
    rows = []
    for step in range(steps + 1):
        p_eval = losses.sigmoid(X_eval @ w + b)  # (n_eval,)
        rows.append(
            {
                "step": step,
                "accuracy": metrics.accuracy(
                    y_eval, (p_eval >= 0.5).astype(float)
                ),
                "auc": metrics.roc_auc(y_eval, p_eval),
                "log_loss": metrics.log_loss(y_eval, p_eval),
            }
        )
        g = grad_logit(y_fit, X_fit @ w + b)  # (n_fit,) dL/dz
        w = w - lr * (X_fit.T @ g)  # dL/dw = X^T dL/dz
        b = b - lr * g.sum()  # dL/db = sum_i dL/dz_i
    return pd.DataFrame(rows)


# %% [markdown]
# We run it twice from the same start, once with the BCE gradient and once with the
# gradient of the article's formula.

# %%
runs = {
    "BCE (correct)": gradient_descent(losses.bce_grad_logit),
    "article's formula": gradient_descent(
        lambda y, z: -losses.bce_grad_logit(y, z)
    ),
}
pd.concat(
    {
        name: run.set_index("step").loc[[0, GD_STEPS]]
        for name, run in runs.items()
    }
).round(3)

# %% [markdown]
# The curves over the steps, for test accuracy and test AUC:

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, run in runs.items():
    axes[0].plot(run["step"], run["accuracy"], label=name)
    axes[1].plot(run["step"], run["auc"], label=name)
axes[0].axhline(positive_rate, color="grey", ls=":", label="always 'liked'")
axes[0].set(
    xlabel="gradient-descent step", ylabel="test accuracy", title="Accuracy"
)
axes[1].axhline(0.5, color="grey", ls=":", label="chance")
axes[1].set(xlabel="gradient-descent step", ylabel="test AUC", title="AUC")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()

# %%
correct, article = runs["BCE (correct)"], runs["article's formula"]
glue("gd_acc_start", float(correct["accuracy"].iloc[0]))
glue("gd_acc_correct", float(correct["accuracy"].iloc[-1]))
glue("gd_acc_article", float(article["accuracy"].iloc[-1]))
glue("gd_acc_article_min", float(article["accuracy"].min()))
glue("gd_auc_correct", float(correct["auc"].iloc[-1]))
glue("gd_auc_article", float(article["auc"].iloc[-1]))

# %% [markdown]
# Both runs start from the same model ($w = 0$, $b = 0$: every $p = 0.5$, so every rating
# is predicted "liked" and the test accuracy is the positive rate,
# {glue:text}`gd_acc_start:.3f`). With the correct loss the accuracy rises to
# {glue:text}`gd_acc_correct:.3f` and the AUC to {glue:text}`gd_auc_correct:.3f`. With the
# article's formula the accuracy falls, to {glue:text}`gd_acc_article_min:.3f` at its
# lowest, and ends at {glue:text}`gd_acc_article:.3f`, *below* the trivial "always liked"
# rule; the AUC ends at {glue:text}`gd_auc_article:.3f`, far below chance: the model has
# learned to rank disliked films above liked ones. (The late rise of its accuracy is not
# recovery: the bias runs off towards $-\infty$, so in the end it predicts "not liked" for
# everyone, which is right only for the negative ratings.) The checks below
# hold each curve to its direction.

# %%
assert correct["accuracy"].iloc[-1] > correct["accuracy"].iloc[0] + 0.1, (
    "BCE must raise the accuracy"
)
assert article["accuracy"].iloc[-1] < article["accuracy"].iloc[0] - 0.05, (
    "the article's loss must lower it"
)
assert correct["auc"].iloc[-1] > 0.7 and article["auc"].iloc[-1] < 0.3, (
    "AUC must move up / down"
)
assert np.isclose(article["accuracy"].iloc[-1], 1 - y_eval.mean()), (
    "the article's run should end predicting all 0"
)

# %% [markdown]
# The fix is one character: put the minus sign back, as in {eq}`eq-math-bce`. In
# PyTorch, use `nn.BCEWithLogitsLoss` on the logits, which has it built in.
#
# ## MSE or BCE for a binary target?
#
# The article's text calls its loss mean squared error, while its code uses binary
# cross-entropy. Both can be applied to a 0/1 label: MSE on the probability is
# $(\sigma(z) - y)^2$, also known as the Brier score {cite}`brier1950verification`. They
# differ in their gradients. By the chain rule, the MSE gradient with respect to the logit
# carries the sigmoid's derivative, which {eq}`eq-math-bce-grad` cancelled:
#
# $$
# \frac{\partial}{\partial z} \left(\sigma(z) - y\right)^2 = 2\left(\sigma(z) - y\right)\sigma(z)\left(1 - \sigma(z)\right).
# $$ (eq-math-mse-grad)
#
# When the model is confidently wrong, say $y = 1$ and $z \ll 0$, the factor
# $\sigma(z)(1 - \sigma(z))$ is nearly 0, so the gradient vanishes exactly when the error is
# largest {cite}`goodfellow2016deep` (section 6.2.2). We write {eq}`eq-math-mse-grad` for
# the mean loss and check it with autograd.


# %%
def mse_grad_logit(y, z):
    """Gradient of the mean of (sigma(z) - y)^2 with respect to each logit, eq-math-mse-grad / n."""
    p = losses.sigmoid(z)
    return 2 * (p - y) * p * (1 - p) / y.size


z = rng.normal(scale=4.0, size=8)
y = rng.integers(0, 2, size=8).astype(float)
z_t = torch.tensor(z, requires_grad=True)
F.mse_loss(torch.sigmoid(z_t), torch.tensor(y)).backward()
assert np.allclose(
    z_t.grad.numpy(), mse_grad_logit(y, z), rtol=1e-10, atol=1e-15
), "MSE gradient check failed"
print("MSE gradient check passed")

# %% [markdown]
# The two gradient magnitudes for a positive example, as functions of the logit:

# %%
z_grid = np.linspace(-10, 10, 401)
ones = np.ones_like(z_grid)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(
    z_grid,
    np.abs(losses.bce_grad_logit(ones, z_grid)) * z_grid.size,
    label=r"BCE: $|\sigma(z) - 1|$",
)
ax.plot(
    z_grid,
    np.abs(mse_grad_logit(ones, z_grid)) * z_grid.size,
    label=r"MSE: $|2(\sigma(z) - 1)\sigma(z)(1 - \sigma(z))|$",
)
ax.axvspan(-10, -2, color="red", alpha=0.08, label="confidently wrong")
ax.set(
    xlabel="logit z (label y = 1)",
    ylabel="|dloss / dz|",
    yscale="log",
    ylim=(1e-5, 2),
)
ax.grid(alpha=0.3)
ax.legend(fontsize=8);

# %% [markdown]
# At $z = -10$ (a positive predicted with $p \approx 4.5 \times 10^{-5}$) BCE still pushes
# with a gradient close to 1, while MSE's is about $10^{-4}$; MSE's gradient is at most
# 0.3 anywhere. Whether that matters in practice is an empirical question, so we train the
# article's network both ways.
#
# ### The article's network, trained with each loss
#
# The model is `OneHotMLP`: one-hot user and item ids, 100 ReLU units, one logit. Both
# runs start from the same weights (the same seed), see the same mini-batches, use Adam
# {cite}`kingma2015adam` with the article's learning rate, and differ only in the loss:
# `nn.BCEWithLogitsLoss` on the logit, or MSE on $\sigma(z)$. The validation losses of the
# two are in different units, so both runs select their best epoch by the same criterion,
# the validation AUC, and both report AUC and log loss on the probabilities.


# %%
def mse_on_probabilities(logits, target):
    """Mean of (sigma(z) - y)^2: the Brier score, the loss the article's text names."""
    return F.mse_loss(torch.sigmoid(logits), target)


loss_functions = {"BCE": nn.BCEWithLogitsLoss(), "MSE": mse_on_probabilities}
config = TrainConfig(
    num_epochs=NUM_EPOCHS,
    batch_size=BATCH_SIZE,
    lr=LR,
    patience=PATIENCE,
    monitor="valid_auc",
    mode="max",
    seed=SEED,
    progress=True,
)
trainers, histories = {}, {}
for name, loss_fn in loss_functions.items():
    seed_everything(SEED)  # identical initial weights for both runs
    model = OneHotMLP(
        MLPConfig(
            field_dims=(user_enc.n_classes_, item_enc.n_classes_),
            hidden_dim=HIDDEN_DIM,
        )
    )
    trainers[name] = Trainer(
        model,
        loss_fn,
        config,
        metrics={"auc": metrics.roc_auc, "logloss": metrics.log_loss},
        output_transform=torch.sigmoid,
    )
    histories[name] = trainers[name].fit(data["train"], data["valid"])

# %% [markdown]
# The validation curves of the two runs, side by side:

# %%
curves = pd.concat(
    {
        name: hist.set_index("epoch")[["valid_auc", "valid_logloss"]]
        for name, hist in histories.items()
    },
    axis=1,
)
curves.columns = [f"{name} {column}" for name, column in curves.columns]
curves = curves.reset_index()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
plot_history(
    curves,
    [c for c in curves.columns if c.endswith("auc")],
    ax=axes[0],
    title="validation AUC",
)
plot_history(
    curves,
    [c for c in curves.columns if c.endswith("logloss")],
    ax=axes[1],
    title="validation log loss",
)
fig.tight_layout()

# %% [markdown]
# Each trainer has restored its best epoch; we score both once on the test split, next to
# the no-skill baseline that predicts the training positive rate for everyone.

# %%
y_test = data["test"][1].numpy()
train_rate = float(data["train"][1].mean())
results = {
    "base rate (no skill)": {
        "test AUC": 0.5,
        "test log loss": metrics.log_loss(
            y_test, np.full_like(y_test, train_rate)
        ),
        "best epoch": np.nan,
    }
}
for name, trainer in trainers.items():
    p_test = trainer.predict(data["test"][0]).numpy()
    results[name] = {
        "test AUC": metrics.roc_auc(y_test, p_test),
        "test log loss": metrics.log_loss(y_test, p_test),
        "best epoch": trainer.best_epoch_,
    }
results = pd.DataFrame(results).T
results.round(4)

# %%
glue("bce_auc", float(results.loc["BCE", "test AUC"]))
glue("mse_auc", float(results.loc["MSE", "test AUC"]))
glue("bce_logloss", float(results.loc["BCE", "test log loss"]))
glue("mse_logloss", float(results.loc["MSE", "test log loss"]))
glue(
    "base_logloss", float(results.loc["base rate (no skill)", "test log loss"])
)
glue(
    "auc_gap",
    float(abs(results.loc["BCE", "test AUC"] - results.loc["MSE", "test AUC"])),
)
glue("logistic_auc", float(correct["auc"].iloc[-1]))

# %% [markdown]
# The BCE model reaches a test AUC of {glue:text}`bce_auc:.4f` and a test log loss of
# {glue:text}`bce_logloss:.4f`; the MSE model {glue:text}`mse_auc:.4f` and
# {glue:text}`mse_logloss:.4f`; predicting the base rate gives a log loss of
# {glue:text}`base_logloss:.3f`. The AUCs differ by {glue:text}`auc_gap:.4f`. **On this
# task the two losses tie.**
#
# The ranges the checks below enforce follow from what the model can know. Ids alone carry
# a user's leniency and a film's appeal, which the three-parameter logistic model of the
# previous section already turns into a test AUC of {glue:text}`logistic_auc:.3f`; the
# network sees the same information (and can learn a little more, but without
# regularisation it soon overfits), so its AUC should be near that, and a value below 0.70
# would mean training failed. Nothing in the ids can predict one person's
# star rating on one film very well, so an AUC above 0.85 would suggest a leak from the
# test split. The two losses are held to within 0.02 of each other, the claim made above.

# %%
for name in ("BCE", "MSE"):
    auc = results.loc[name, "test AUC"]
    assert 0.70 <= auc <= 0.85, (
        f"{name}: test AUC {auc:.3f} is outside [0.70, 0.85]"
    )
    assert (
        results.loc[name, "test log loss"]
        < results.loc["base rate (no skill)", "test log loss"]
    ), name
assert (
    abs(results.loc["BCE", "test AUC"] - results.loc["MSE", "test AUC"]) < 0.02
), "the two losses no longer tie"

# %% [markdown]
# ### Where MSE's flat gradient does bite
#
# The tie does not contradict the gradient plot: the network never entered the flat
# region. Its weights start small, so every logit starts near 0, where
# $\sigma(z)(1 - \sigma(z)) \approx 1/4$ and MSE's gradient is about half of BCE's; Adam
# divides each parameter's step by the running size of its own gradient, which cancels a
# constant factor like that one. And both losses are *proper scoring rules*: each is
# minimised, in expectation, by the true probability {cite}`gneiting2007strictly`, so with
# enough data both are pulled towards the same predictions.
#
# The flat region matters when training starts there, or gets there. We rerun the
# logistic model of the previous section with plain gradient descent, but starting from a
# confidently wrong model: bias $b = -8$, so $p \approx 0.0003$ for every rating, while
# most ratings are positive.

# %%
cold_start = {
    "BCE": gradient_descent(losses.bce_grad_logit, b0=-8.0),
    "MSE": gradient_descent(mse_grad_logit, b0=-8.0),
}
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, run in cold_start.items():
    ax.plot(run["step"], run["log_loss"], label=name)
ax.set(
    xlabel="gradient-descent step",
    ylabel="test log loss",
    yscale="log",
    title="Starting confidently wrong (b = -8)",
)
ax.grid(alpha=0.3)
ax.legend();

# %%
glue("cold_start_logloss", float(cold_start["BCE"]["log_loss"].iloc[0]))
glue("cold_bce_logloss", float(cold_start["BCE"]["log_loss"].iloc[-1]))
glue("cold_mse_logloss", float(cold_start["MSE"]["log_loss"].iloc[-1]))
glue("cold_bce_acc", float(cold_start["BCE"]["accuracy"].iloc[-1]))
glue("cold_mse_acc", float(cold_start["MSE"]["accuracy"].iloc[-1]))
glue("gd_steps", GD_STEPS)
assert cold_start["BCE"]["log_loss"].iloc[-1] < 0.7, (
    "BCE must escape the confidently wrong start"
)
assert (
    cold_start["MSE"]["log_loss"].iloc[-1]
    > 0.9 * cold_start["MSE"]["log_loss"].iloc[0]
), "MSE should barely move"

# %% [markdown]
# From the same start (test log loss {glue:text}`cold_start_logloss:.2f`), BCE reaches a
# log loss of {glue:text}`cold_bce_logloss:.3f` and an accuracy of
# {glue:text}`cold_bce_acc:.3f` within the {glue:text}`gd_steps` steps, while MSE has moved
# only to {glue:text}`cold_mse_logloss:.2f` and still predicts "not liked" for everyone
# (accuracy {glue:text}`cold_mse_acc:.3f`). The same effect, on deep networks from random
# initialisation, is reported by {cite}`golik2013cross`.
#
# **Which loss to use, then.** On the article's task, with Adam and a standard
# initialisation, the measured difference is negligible. BCE remains the right default:
# it is the negative log-likelihood of the labels {eq}`eq-math-bce`, so it is the quantity
# we report as log loss; its gradient {eq}`eq-math-bce-grad` cannot vanish while a
# prediction is wrong, which protects training from bad starts, large learning rates and
# saturated units; and `BCEWithLogitsLoss` computes it stably from the logit.

# %% [markdown]
# ## Summary
#
# * A fully connected layer is $Z = X W^\top + b$, mapping $(n, d)$ to $(n, h)$
#   {eq}`eq-math-linear`; `linear_forward` equals `F.linear`.
# * Losses are negative log-likelihoods: MSE for Gaussian noise {eq}`eq-math-mse`,
#   cross-entropy for a categorical label {eq}`eq-math-ce` (computed with log-sum-exp),
#   binary cross-entropy for a Bernoulli label {eq}`eq-math-bce`.
# * From logits, BCE is $\log(1 + e^{z}) - y z$, computed stably as
#   $\max(z, 0) - y z + \log(1 + e^{-|z|})$; its gradient is $\sigma(z) - y$, checked against
#   autograd.
# * The article's formula lacks the minus sign: it is the log-likelihood. Minimising it
#   drove the test accuracy of a logistic model on MovieLens-100K from
#   {glue:text}`gd_acc_start:.3f` to {glue:text}`gd_acc_article:.3f` and its AUC to
#   {glue:text}`gd_auc_article:.3f`, while the correct loss raised them.
# * MSE on $\sigma(z)$ has a gradient that vanishes when the model is confidently wrong. On
#   the article's network trained with Adam it tied with BCE (test AUC
#   {glue:text}`mse_auc:.4f` against {glue:text}`bce_auc:.4f`), but from a confidently
#   wrong start it barely moved where BCE recovered. Use BCE, on logits.
#
# ## Exercises
#
# **1. The multi-class gradient.** Show that the gradient of {eq}`eq-math-ce` with respect
# to the logits of example $i$ is $(\mathrm{softmax}(z_i) - e_{y_i}) / n$, where $e_{y_i}$
# is the one-hot vector of the true class, and check it with autograd.
#
# :::{admonition} Solution
# :class: dropdown
# For one example, $\ell = \log\sum_j e^{z_j} - z_y$. The derivative of the log-sum-exp
# with respect to $z_k$ is $e^{z_k} / \sum_j e^{z_j} = \mathrm{softmax}(z)_k$, and the
# derivative of $z_y$ is 1 if $k = y$, else 0. So
# $\partial \ell / \partial z_k = \mathrm{softmax}(z)_k - [k = y]$, and the mean over $n$
# examples divides by $n$. This is {eq}`eq-math-bce-grad` again: prediction minus target.
# :::
#
# Solution code:

# %%
logits = rng.normal(size=(5, 3))  # (n, C)
labels = rng.integers(0, 3, size=5)  # (n,)
logits_t = torch.tensor(logits, requires_grad=True)
F.cross_entropy(logits_t, torch.tensor(labels)).backward()
one_hot = np.eye(3)[labels]  # (n, C)
assert np.allclose(
    logits_t.grad.numpy(), (losses.softmax(logits) - one_hot) / len(labels)
)
print("softmax(z) - onehot(y), divided by n, equals autograd")

# %% [markdown]
# **2. Binary is two-class.** Show that binary cross-entropy on a logit $z$ equals the
# two-class cross-entropy {eq}`eq-math-ce` on the logits $(0, z)$, and check it with
# `losses.binary_cross_entropy_with_logits` and `losses.cross_entropy`.
#
# :::{admonition} Solution
# :class: dropdown
# With logits $(0, z)$, $\mathrm{softmax}(0, z)_1 = e^{z} / (1 + e^{z}) = \sigma(z)$, so the
# two-class model predicts class 1 with probability $\sigma(z)$, the same Bernoulli model.
# Its loss is $\log(e^0 + e^{z}) - z_y = \log(1 + e^{z}) - y z$, which is
# {eq}`eq-math-bce-logit`. A sigmoid output is a softmax output with one logit fixed at 0.
# :::
#
# Solution code:

# %%
z = rng.normal(scale=3.0, size=10)
y = rng.integers(0, 2, size=10)
two_class_logits = np.column_stack([np.zeros_like(z), z])  # (n, 2)
assert np.isclose(
    losses.binary_cross_entropy_with_logits(y.astype(float), z),
    losses.cross_entropy(y, two_class_logits),
)
print("BCE on z equals two-class cross-entropy on (0, z)")

# %% [markdown]
# **3. No bottom.** Explain why gradient descent on the article's formula
# {eq}`eq-math-article` never converges, and demonstrate it: take the logistic model's
# test features `X_eval`, a weight vector pointing the wrong way, $w = -c\,(1, 1)$, and
# evaluate the article's $L$ for $c = 1, 10, 100$.
#
# :::{admonition} Solution
# :class: dropdown
# For a positive example the article's term is $\log \sigma(z)$, which tends to $-\infty$
# as $z \to -\infty$; for a negative example it is $\log(1 - \sigma(z))$, which tends to
# $-\infty$ as $z \to +\infty$. Any weight vector that puts most examples on the wrong side
# can be scaled up to make $L$ as negative as we like, so the infimum is $-\infty$ and no
# minimum exists: each step keeps growing the weights. BCE is bounded below by 0, so
# descent on it settles.
# :::
#
# Solution code:

# %%
for c in (1, 10, 100):
    p_wrong = losses.sigmoid(X_eval @ (-c * np.ones(2)))
    print(
        f"c = {c:>3}: article's L = {losses.article_bce(y_eval, p_wrong):9.3f}"
    )

# %% [markdown]
# **4. Where the gradients cross.** For $y = 1$, find the logit at which MSE's gradient
# magnitude {eq}`eq-math-mse-grad` is largest, and the ratio of BCE's gradient to MSE's at
# $z = -5$.
#
# :::{admonition} Solution
# :class: dropdown
# With $p = \sigma(z)$, the magnitude is $2(1 - p)^2 p$. Its derivative in $p$ is
# $2(1 - p)(1 - 3p)$, zero at $p = 1/3$, i.e. $z = \log(1/2) \approx -0.69$, where it equals
# $8/27 \approx 0.296$. The ratio of the gradients is
# $(1 - p) / (2(1 - p)^2 p) = 1 / (2p(1 - p))$, about 75 at $z = -5$: MSE learns from that
# example 75 times more slowly.
# :::
#
# Solution code:

# %%
z_grid = np.linspace(-10, 10, 200_001)
mse_mag = np.abs(mse_grad_logit(np.ones_like(z_grid), z_grid)) * z_grid.size
z_peak = z_grid[np.argmax(mse_mag)]
ratio = (
    losses.bce_grad_logit(np.ones(1), np.array([-5.0]))[0]
    / mse_grad_logit(np.ones(1), np.array([-5.0]))[0]
)
assert abs(z_peak - np.log(0.5)) < 1e-3 and abs(mse_mag.max() - 8 / 27) < 1e-6
print(
    f"MSE gradient peaks at z = {z_peak:.3f} with {mse_mag.max():.4f}; BCE / MSE at z = -5: {ratio:.1f}"
)
