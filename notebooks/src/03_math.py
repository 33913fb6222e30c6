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
# (ch03-article-layer)=
# ### What the article prints for a layer
#
# Section 4.1 of the article writes the last layer of its network as
#
# ```{code-block} latex
# :name: article-4-1-layer
# :caption: The article's §4.1 layer, verbatim
# y = \sigma(\boldsymbol{W}_{L} \cdot \boldsymbol{a}_{L-1} + \boldsymbol{b}_{L})
# ```
#
# and says of $\sigma$ that it is the activation, 通常采用 Sigmoid 或 ReLU 函数 ("usually
# the Sigmoid or ReLU function"). Two things need correcting.
#
# * **The output's nonlinearity is fixed by the label, not chosen freely.** The network
#   is 用于特征提取和分类 ("for feature extraction and classification"), so its output is
#   a probability, and only the sigmoid (or, for $C$ classes, the softmax) maps a logit
#   into $(0, 1)$. ReLU belongs in the hidden layers, as the article's own code uses it. A
#   ReLU output is not a probability: it exceeds 1 for every logit above 1 (and the
#   "cross-entropy" of such an output is negative, which no probability allows), it is
#   exactly 0 for every logit at or below 0, where binary cross-entropy is infinite, and
#   its gradient there is 0, so those examples stop learning. The cell below shows all
#   three.
# * **The shapes.** Section 4.2 writes the binary prediction as
#   $\hat p = \sigma(\boldsymbol{W} \cdot \boldsymbol{x} + \boldsymbol{b})$, with a bold
#   weight *matrix* and bias *vector*. A single probability needs one output unit
#   ($h = 1$ in {eq}`eq-math-linear`): a weight vector and a scalar bias,
#   $\hat p = \sigma(w^\top x + b)$. With a matrix, $\hat p$ would be a vector of $h$
#   probabilities.

# %%
z_demo = np.linspace(-3.0, 3.0, 7)  # (7,) logits of the output unit
y_demo = np.ones_like(z_demo)  # every example is a positive
z_demo_t = torch.tensor(z_demo, requires_grad=True)
out_relu = torch.relu(z_demo_t)
out_relu.sum().backward()
with np.errstate(divide="ignore"):
    bce_relu = -np.log(out_relu.detach().numpy())  # BCE of a positive, -log(output)
pd.DataFrame(
    {
        "logit z": z_demo,
        "sigmoid output": losses.sigmoid(z_demo),
        "ReLU output": out_relu.detach().numpy(),
        "BCE with ReLU output (y = 1)": bce_relu,
        "d ReLU output / dz": z_demo_t.grad.numpy(),
    }
).round(3)

# %%
assert np.all((losses.sigmoid(z_demo) > 0) & (losses.sigmoid(z_demo) < 1))
assert (out_relu.detach().numpy() > 1).any(), "a ReLU output exceeds 1"
assert np.isinf(bce_relu[z_demo < 0]).all(), "BCE is infinite at a ReLU output of 0"
assert (z_demo_t.grad.numpy()[z_demo < 0] == 0).all(), "and its gradient is 0 there"

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
# (ch03-article-mse)=
# ### The article's "MSE" is a half sum
#
# Section 4.1 prints its mean squared error as
#
# ```{code-block} latex
# :name: article-4-1-mse
# :caption: The article's §4.1 "MSE", verbatim
# L = \frac{1}{2} \sum_{i=1}^{n} (\hat{y}_i - y_i)^2 \quad \text{（MSE）}
# ```
#
# That is half the *sum* of squared errors, $\tfrac{n}{2}\,\mathrm{MSE}$, not the mean
# {eq}`eq-math-mse`. The factor $\tfrac12$ is harmless (it only cancels the 2 of the
# derivative); the missing $\tfrac1n$ is not: the loss, and with it every gradient, grows
# in proportion to the batch size, so a learning rate tuned at one batch size is $k$
# times too large at $k$ times the batch. (The article also calls $\hat y_i$
# 模型预测的概率分布, "the probability distribution the model predicts", for both of its
# losses; in a squared error $\hat y_i$ is a real-valued prediction, such as a rating.)
# The cell below fits a constant prediction $\hat y_i = b$ to labels that all lie 0.5
# below it, at two batch sizes, and compares the gradient with respect to $b$.

# %%
grads = {}
for n_batch in (10, 1000):
    y_batch = torch.full((n_batch,), -0.5, dtype=torch.float64)  # (n,) labels
    b_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # y_hat_i = b
    half_sum = 0.5 * ((b_t - y_batch) ** 2).sum()  # the article's L
    (half_sum_grad,) = torch.autograd.grad(half_sum, b_t)
    mean_sq = ((b_t - y_batch) ** 2).mean()  # eq-math-mse
    (mean_grad,) = torch.autograd.grad(mean_sq, b_t)
    grads[n_batch] = (half_sum_grad.item(), mean_grad.item())
    assert np.isclose(half_sum.item(), n_batch / 2 * mean_sq.item())
pd.DataFrame(grads, index=["dL/db, article's half sum", "dL/db, MSE (mean)"]).rename(
    columns=lambda n: f"n = {n}"
)

# %%
assert np.isclose(grads[1000][0] / grads[10][0], 100), "the half sum's gradient grows with n"
assert np.isclose(grads[1000][1], grads[10][1]), "the mean's does not"

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
# (ch03-article-ce)=
# #### The article's cross-entropy
#
# The article prints its cross-entropy as
#
# ```{code-block} latex
# :name: article-4-1-ce
# :caption: The article's §4.1 cross-entropy, verbatim
# L = -\sum_{i=1}^{n} y_i \log(\hat{y}_i) \quad \text{（交叉熵损失）}
# ```
#
# It is {eq}`eq-math-ce` only if $y_i$ is read as the one-hot *vector* of example $i$'s
# class and $y_i \log \hat y_i$ as a sum over the $C$ classes (and without the mean, it
# again grows with the batch). Read with a scalar 0/1 label, as the binary task of
# section 4.2 has, every negative example contributes 0, so predicting $\hat y_i = 1$ for
# everyone scores the best possible value, 0:

# %%
y_binary = np.array([1.0, 0.0, 0.0, 1.0])  # (n,) scalar labels
always_liked = np.ones_like(y_binary)  # predict 1 for everyone
with np.errstate(divide="ignore", invalid="ignore"):
    literal = -np.sum(y_binary * np.log(always_liked)) + 0.0  # the printed formula, read literally
one_hot_y = np.column_stack([1 - y_binary, y_binary])  # (n, 2) one-hot classes
probs = np.column_stack([1 - always_liked, always_liked])  # (n, 2) predicted distributions
with np.errstate(divide="ignore", invalid="ignore"):
    per_class = -np.sum(np.where(one_hot_y > 0, one_hot_y * np.log(probs), 0.0))
print(f"read with scalar labels: L = {literal}; summed over both classes: L = {per_class}")
assert literal == 0 and np.isinf(per_class)

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
# (ch03-article-bce)=
# ## The source article's sign error
#
# Section 4.2 of the article sets up the binary task (预测用户是否喜欢某件商品, "predict
# whether a user likes an item"), writes $\hat p = \sigma(W \cdot x + b)$, and then prints
# the loss to minimise:
#
# ```{code-block} latex
# :name: article-4-2-bce
# :caption: The article's §4.2 loss, verbatim
# L = -y \log(\hat{p}) + (1 - y) \log(1 - \hat{p})
# ```
#
# The minus sign stands on the first term only. The correct loss {eq}`eq-math-bce`
# negates *both* terms, $-[y \log p + (1 - y)\log(1 - p)]$; in the printed formula the
# second term has the wrong sign. (It also prints no sum over examples; below we average
# it over the batch, as {eq}`eq-math-bce` does.) Written as the book writes losses,
#
# $$
# L_{\text{article}} = \frac{1}{n}\sum_{i=1}^{n} \left[ -y_i \log p_i + (1 - y_i) \log(1 - p_i) \right].
# $$ (eq-math-article)
#
# For a positive example ($y_i = 1$) this is the BCE term, $-\log p_i$: correct. For a
# negative example ($y_i = 0$) it is $+\log(1 - p_i)$, *minus* the BCE term, and that term
# is lowest when $p_i \to 1$. So the formula scores a negative predicted "liked" with
# certainty as the best possible prediction, and because $\log(1 - p_i) \to -\infty$ it
# has no lower bound at all. A small table for one positive and one negative example:

# %%
p_grid = np.array([0.01, 0.1, 0.5, 0.9, 0.99])
pd.DataFrame(
    {
        "p": p_grid,
        "article's L, y = 1": [losses.article_bce([1.0], [q]) for q in p_grid],
        "BCE, y = 1": [losses.binary_cross_entropy([1.0], [q]) for q in p_grid],
        "article's L, y = 0": [losses.article_bce([0.0], [q]) for q in p_grid],
        "BCE, y = 0": [losses.binary_cross_entropy([0.0], [q]) for q in p_grid],
    }
).round(4)

# %% [markdown]
# ### Its gradient with respect to the logit
#
# Training follows the gradient, so derive it as we did for {eq}`eq-math-bce-grad`. With
# $p = \sigma(z)$, $\partial \log \sigma(z) / \partial z = 1 - \sigma(z)$ and
# $\partial \log(1 - \sigma(z)) / \partial z = -\sigma(z)$, so for one example
#
# $$
# \frac{\partial \ell_{\text{article}}}{\partial z}
# = -y\,(1 - p) - (1 - y)\,p
# = \begin{cases} p - 1 & \text{if } y = 1, \\ -p & \text{if } y = 0. \end{cases}
# $$ (eq-math-article-grad)
#
# Compare {eq}`eq-math-bce-grad`, $p - y$: the positives get the same gradient, the
# negatives the opposite one. Both cases are $\le 0$, so **every gradient-descent step
# raises every logit**, positives and negatives alike, and the predictions run to
# $p = 1$: the model learns to say "liked" to everyone. The positives' push fades as
# their $p \to 1$; the negatives' push grows towards 1 and never stops.
# `losses.article_bce_grad_logit` computes {eq}`eq-math-article-grad` for the mean loss;
# autograd on the printed formula must agree, and the gradient must never be positive.

# %%
z = rng.normal(scale=2.0, size=8)
y = rng.integers(0, 2, size=8).astype(float)
z_t, y_t = torch.tensor(z, requires_grad=True), torch.tensor(y)
article_t = (
    -y_t * F.logsigmoid(z_t) + (1 - y_t) * F.logsigmoid(-z_t)
).mean()  # eq-math-article, with log(1 - sigma(z)) = logsigmoid(-z)
article_t.backward()
assert np.isclose(article_t.item(), losses.article_bce(y, losses.sigmoid(z))), (
    "article_bce disagrees with the printed formula"
)
grad_article = losses.article_bce_grad_logit(y, z)
assert np.allclose(z_t.grad.numpy(), grad_article, rtol=1e-10, atol=1e-15), (
    "eq-math-article-grad disagrees with autograd"
)
assert np.all(grad_article <= 0), "the article's gradient is never positive"
pd.DataFrame(
    {
        "y": y,
        "autograd": z_t.grad.numpy(),
        "eq-math-article-grad / n": grad_article,
        "BCE's (p - y) / n": losses.bce_grad_logit(y, z),
    }
).round(5)

# %% [markdown]
# (ch03-article-bce-run)=
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
# chapter. Before each step it records, on the test rows, the accuracy at the 0.5
# threshold, the share of ratings predicted "liked", the mean predicted probability and
# the AUC (computed on the logits, which keep their order after $\sigma$ has rounded them
# to 1), and, on the rows it is fitted on, the value of the article's formula
# {eq}`eq-math-article`, computed from the logits so that no clipping hides how low it
# goes ($\log \sigma(z) = -\log(1 + e^{-z})$, $\log(1 - \sigma(z)) = -\log(1 + e^{z})$).


# %%
def article_loss_from_logits(y, z):
    """eq-math-article from logits, without clipping: mean of y softplus(-z) - (1-y) softplus(z)."""
    return float(np.mean(y * np.logaddexp(0, -z) - (1 - y) * np.logaddexp(0, z)))


def gradient_descent(grad_logit, b0=0.0, steps=GD_STEPS, lr=GD_LR):
    """Fit z = X_fit w + b by full-batch gradient descent; return the metrics per step."""
    w, b = np.zeros(X_fit.shape[1]), b0
    rows = []
    for step in range(steps + 1):
        z_fit, z_eval = X_fit @ w + b, X_eval @ w + b  # (n_fit,), (n_eval,)
        p_eval = losses.sigmoid(z_eval)
        rows.append(
            {
                "step": step,
                "article's L (fit rows)": article_loss_from_logits(y_fit, z_fit),
                "share predicted liked": float(np.mean(p_eval >= 0.5)),
                "mean p": float(p_eval.mean()),
                "accuracy": metrics.accuracy(
                    y_eval, (p_eval >= 0.5).astype(float)
                ),
                "auc": metrics.roc_auc(y_eval, z_eval),
                "log_loss": metrics.log_loss(y_eval, p_eval),
            }
        )
        g = grad_logit(y_fit, z_fit)  # (n_fit,) dL/dz
        w = w - lr * (X_fit.T @ g)  # dL/dw = X^T dL/dz
        b = b - lr * g.sum()  # dL/db = sum_i dL/dz_i
    return pd.DataFrame(rows)


# %% [markdown]
# We run it twice from the same start, once with the BCE gradient {eq}`eq-math-bce-grad`
# and once with the gradient of the article's formula {eq}`eq-math-article-grad`.

# %%
runs = {
    "BCE (correct)": gradient_descent(losses.bce_grad_logit),
    "article's formula": gradient_descent(losses.article_bce_grad_logit),
}
pd.concat(
    {
        name: run.set_index("step").loc[[0, 1, 10, GD_STEPS]]
        for name, run in runs.items()
    }
).round(3)

# %% [markdown]
# The curves over the steps: the value of the article's formula, the mean predicted
# probability, and the test AUC.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for name, run in runs.items():
    axes[0].plot(run["step"], run["article's L (fit rows)"], label=name)
    axes[1].plot(run["step"], run["mean p"], label=name)
    axes[2].plot(run["step"], run["auc"], label=name)
axes[0].set(
    xlabel="gradient-descent step",
    ylabel="article's L on the fit rows",
    title="The printed loss falls without bound",
)
axes[1].axhline(positive_rate, color="grey", ls=":", label="positive rate")
axes[1].set(
    xlabel="gradient-descent step",
    ylabel="mean predicted p (test)",
    title="Every prediction goes to 1",
)
axes[2].axhline(0.5, color="grey", ls=":", label="chance")
axes[2].set(xlabel="gradient-descent step", ylabel="test AUC", title="Ranking")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()

# %%
correct, article = runs["BCE (correct)"], runs["article's formula"]
loss_article = article["article's L (fit rows)"]
glue("gd_acc_start", float(correct["accuracy"].iloc[0]))
glue("gd_acc_correct", float(correct["accuracy"].iloc[-1]))
glue("gd_auc_correct", float(correct["auc"].iloc[-1]))
glue("gd_acc_article", float(article["accuracy"].iloc[-1]))
glue("gd_acc_article_max", float(article["accuracy"].max()))
glue("gd_auc_article", float(article["auc"].iloc[-1]))
glue("gd_meanp_article", float(article["mean p"].iloc[-1]))
glue("gd_liked_article", float(article["share predicted liked"].min()))
glue("gd_loss_article_end", float(loss_article.iloc[-1]))
glue("gd_loss_article_slope", float(loss_article.iloc[-1] - loss_article.iloc[-2]))
glue("gd_steps", GD_STEPS)

# %% [markdown]
# Both runs start from the same model ($w = 0$, $b = 0$: every $p = 0.5$, so every rating
# is predicted "liked" and the test accuracy is the positive rate,
# {glue:text}`gd_acc_start:.3f`). With the correct loss the accuracy rises to
# {glue:text}`gd_acc_correct:.3f` and the AUC to {glue:text}`gd_auc_correct:.3f`.
#
# With the article's formula the model does exactly what {eq}`eq-math-article-grad`
# predicts:
#
# * **every prediction goes to 1.** At every step, {glue:text}`gd_liked_article:.3f` of the
#   test ratings (all of them) are predicted "liked", and the mean predicted probability
#   ends at {glue:text}`gd_meanp_article:.4f`. The accuracy never leaves the positive
#   rate: at most {glue:text}`gd_acc_article_max:.3f`, the score of the trivial "always
#   liked" rule;
# * **the loss has no bottom.** Its value on the fit rows falls to
#   {glue:text}`gd_loss_article_end:.1f` after {glue:text}`gd_steps` steps, and it is still
#   falling by {glue:text}`gd_loss_article_slope:.3f` per step, a straight line: once
#   $p \approx 1$, each step adds the same amount to the bias and the negatives' term
#   $\log(1 - p)$ drops by that amount;
# * **the ranking is inverted.** The test AUC ends at {glue:text}`gd_auc_article:.3f`,
#   far below chance. The positives' gradient $p - 1$ vanishes as their $p \to 1$, while
#   the negatives keep pushing their own logits up, so the weights come to favour the
#   features of the films and users that are *not* liked.
#
# The checks below hold each of these to its direction.

# %%
assert correct["accuracy"].iloc[-1] > correct["accuracy"].iloc[0] + 0.1, (
    "BCE must raise the accuracy"
)
assert correct["auc"].iloc[-1] > 0.7, "BCE must learn to rank"
assert (article["share predicted liked"] == 1.0).all(), (
    "the article's formula must predict 'liked' for every test rating"
)
assert article["mean p"].iloc[-1] > 0.999, "its predictions must run to 1"
assert np.isclose(article["accuracy"], y_eval.mean()).all(), (
    "its accuracy must stay at the positive rate"
)
assert (np.diff(loss_article) < 0).all() and loss_article.iloc[-1] < -10, (
    "the printed loss must keep falling"
)
assert article["auc"].iloc[-1] < 0.3, "its ranking must be inverted"

# %% [markdown]
# The fix is to let the minus sign cover both terms, as in {eq}`eq-math-bce`. In
# PyTorch, use `nn.BCEWithLogitsLoss` on the logits, which has it built in; the article's
# own code in section 5 does exactly that (chapter {doc}`4 <04_article_project>`), so its
# code is right where its formula is wrong.
#
# (ch03-mse-or-bce)=
# ## MSE or BCE for a binary target?
#
# The article's text and code disagree about the loss. Section 4.3 says
# 我们使用均方误差（MSE）作为损失函数 ("we use mean squared error (MSE) as the loss
# function"), while its code in section 5.2 uses `nn.BCEWithLogitsLoss()`, binary
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
# * The article's formula puts the minus sign on the first term only
#   {eq}`eq-math-article`. Its gradient {eq}`eq-math-article-grad` is never positive, so
#   gradient descent raised every logit: on MovieLens-100K the logistic model predicted
#   "liked" for every test rating (accuracy {glue:text}`gd_acc_article:.3f`, the positive
#   rate), its loss fell without bound and its AUC ended at
#   {glue:text}`gd_auc_article:.3f`, while the correct loss raised the accuracy from
#   {glue:text}`gd_acc_start:.3f` to {glue:text}`gd_acc_correct:.3f`.
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
# test features `X_eval` and a model that predicts "liked" ever more confidently, $w = 0$
# and a bias $b = c$, and evaluate the article's $L$ for $c = 1, 10, 100$.
#
# :::{admonition} Solution
# :class: dropdown
# For a negative example the article's term is $+\log(1 - \sigma(z))$, which tends to
# $-\infty$ as $z \to +\infty$; for a positive example it is $-\log \sigma(z)$, which
# tends to 0 from above. Raising every logit therefore lowers $L$ without limit, at the
# rate $\log(1 - \sigma(c)) \approx -c$ times the share of negatives: the infimum is
# $-\infty$, no minimum exists, and each step keeps growing the bias. BCE is bounded
# below by 0, so descent on it settles.
# :::
#
# Solution code:

# %%
negative_share = 1 - y_eval.mean()
for c in (1, 10, 100):
    z_liked = X_eval @ np.zeros(2) + c  # (n_eval,): every logit equal to c
    value = article_loss_from_logits(y_eval, z_liked)
    print(
        f"c = {c:>3}: article's L = {value:9.3f}"
        f"  (-c x share of negatives = {-c * negative_share:8.3f})"
    )
assert article_loss_from_logits(y_eval, X_eval @ np.zeros(2) + 100) < -40

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
