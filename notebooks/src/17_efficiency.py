# %% [markdown]
# # Efficiency: compression, GPU training and distributed training
#
# The article's answer to the compute cost of large models (§9.3, 大模型在推荐系统中的计算资源需求如何？,
# "What are the computing-resource needs of large models in recommender systems?") is
# twofold: make the model smaller, 通过模型压缩技术，减少模型参数和计算量，降低计算资源需求
# ("through model-compression techniques, reduce the model's parameters and computation
# and lower its resource needs"), and spread the work: 采用分布式计算框架，如 TensorFlow 和 PyTorch，将模型训练和推理任务分配到多台服务器上进行，提高计算效率
# ("adopt distributed computing frameworks, such as TensorFlow and PyTorch, to spread
# model training and inference over several servers and raise computational
# efficiency"). TensorFlow and PyTorch are not distributed computing frameworks: they
# are deep-learning frameworks, each with a module for distributed training (in PyTorch,
# `torch.distributed` and DistributedDataParallel, used below). The article does not
# mention GPUs there; its §5.1 only recommends an NVIDIA 显卡 ("graphics card") for the
# development machine. This chapter measures compression, GPU training and data-parallel
# training on the click-through model of chapter 5, DeepFM {cite}`guo2017deepfm`:
#
# 1. four compression techniques, each with its cost in accuracy and its saving in size
#    and time, in one table;
# 2. what the book's trainer does on a GPU, and the measured runtime of every chapter;
# 3. data-parallel training with PyTorch's DistributedDataParallel, checked against
#    single-process training, and what changes on many machines.
#
# **You will learn** how int8 quantisation, pruning, distillation and the hashing trick
# work and what each one buys; why pruning saves nothing unless the storage is sparse;
# and why data parallelism gives the same model as one process.

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

FULL = torch.cuda.is_available()  # the GPU path trains the teacher to convergence
SEED = 0
MAX_EPOCHS = 30 if FULL else 12  # DeepFM teacher and the retrained variants
DDP_EPOCHS = 5 if FULL else 3  # data-parallel demonstration

# %%
import json
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recfeat_ref import metrics
from recfeat_ref.book import glue
from recfeat_ref.compression import (
    build_variants,
    compare_variants,
    hash_codes,
    magnitude_prune,
    quantize_per_channel,
)
from recfeat_ref.ctr import build_ctr_features, fit_ctr
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.distributed import DDPConfig, train_mf
from recfeat_ref.neural import DeepFM, DeepFMConfig

ml = load_movielens_100k(verbose=False)
data = build_ctr_features(ml, seed=SEED)

# %% [markdown]
# ## The model to compress
#
# Chapter 5's DeepFM, trained the same way (`recfeat_ref.ctr.fit_ctr`: Adam, early
# stopping on validation AUC).

# %%
teacher = fit_ctr(lambda: DeepFM(DeepFMConfig(data.featurizer.field_dims_, data.featurizer.multi_dims_)),
                  data.train, data.valid, num_epochs=MAX_EPOCHS, patience=3, seed=SEED).model
teacher = teacher.cpu().eval()
n_embedding = sum(t.weight.numel() for t in teacher.embedding.tables) + sum(
    w.weight.numel() for w in teacher.linear.weights)
n_total = sum(p.numel() for p in teacher.parameters())
glue("eff_embedding_share", n_embedding / n_total)
print(f"{n_total:,} parameters, {n_embedding / n_total:.0%} of them in embedding tables")

# %% [markdown]
# Most of the parameters of a recommender sit in its embedding tables, one row per
# user, film and category, not in its dense layers: here
# {glue:text}`eff_embedding_share:.0%`. That shapes which technique helps.
#
# ## Quantisation: 8 bits instead of 32
#
# Dynamic int8 quantisation {cite}`jacob2018quantization` stores each weight matrix $W$
# of a linear layer as 8-bit integers with one scale per output channel $o$,
#
# $$
# s_o = \frac{\max_i |W_{oi}|}{127}, \qquad Q_{oi} = \operatorname{round}(W_{oi} / s_o) \in [-127, 127],
# \qquad W_{oi} \approx s_o\, Q_{oi},
# $$ (eq-eff-quant)
#
# so each weight is off by at most $s_o / 2$. At run time each row of activations is
# quantised the same way, the product is computed in integers, and the result is scaled
# back. The rule, written out, on DeepFM's first hidden layer:

# %%
w = teacher.mlp[0].weight.detach()
q, scale = quantize_per_channel(w)
error = (q.float() * scale[:, None] - w).abs()
glue("eff_quant_max_error", float((error / scale[:, None]).max()))
print(f"largest error: {float((error / scale[:, None]).max()):.3f} of a step (bound: 0.5); "
      f"bytes: {w.numel() * 4:,} as float32, {q.numel() + scale.numel() * 4:,} as int8 + scales")

# %% [markdown]
# ## Pruning: remove the smallest weights
#
# Magnitude pruning {cite}`han2015learning` sets the fraction of weights with the
# smallest $|w|$ to zero, over all layers and tables at once. Without retraining, how
# much can go before the AUC suffers?

# %%
amounts = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9]
y_test = data.test.y.numpy()
prune_auc = []
for amount in amounts:
    pruned = magnitude_prune(teacher, amount).eval()
    with torch.no_grad():
        p = torch.sigmoid(pruned(*data.test.inputs)).numpy().astype(float)
    prune_auc.append(metrics.roc_auc(y_test, p))
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot([a * 100 for a in amounts], prune_auc, marker="o")
ax.set_xlabel("weights pruned (%)")
ax.set_ylabel("test AUC")
ax.set_title("Magnitude pruning of DeepFM, no retraining")
fig.tight_layout();

# %% [markdown]
# ## Distillation and the hashing trick
#
# *Knowledge distillation* {cite}`hinton2015distilling` trains a small student on a mix
# of the labels and the teacher's softened predictions, with temperature $T$:
#
# $$
# L = (1-\alpha)\,\mathrm{BCE}(\sigma(z_s), y) + \alpha\,T^2\,
# \mathrm{BCE}\big(\sigma(z_s/T), \sigma(z_t/T)\big).
# $$ (eq-eff-distill)
#
# The teacher's probabilities carry more information per example than a 0/1 label (how
# sure it is), which helps a student with little capacity.
#
# *The hashing trick* {cite}`weinberger2009feature` shrinks the largest tables instead:
# ids are hashed into fewer rows than there are ids, and colliding ids share a row. With
# a quarter of the rows, how many users share theirs?

# %%
n_users = data.featurizer.field_dims_[0] - 1
buckets = hash_codes(torch.arange(1, n_users + 1), n_buckets=n_users // 4)
shared = int((np.bincount(buckets.numpy())[buckets.numpy()] > 1).sum())
glue("eff_users_sharing", shared / n_users)
print(f"{shared} of {n_users} users share their row with another user")

# %% [markdown]
# (ch17-trade-off)=
# ## The trade-off table
#
# All variants side by side on the test rows: parameters, bytes of the saved weights
# (dense, and with a bitmask for tensors that are mostly zeros), AUC and log loss.
# The CPU latency per 1,000 predictions is measured by `benchmarks/bench_compression.py`
# (one thread, median of 30 runs) and read from its results file.

# %%
variants = build_variants(teacher, data, seed=SEED, num_epochs=MAX_EPOCHS)
table = compare_variants(variants, data.test)
results_file = Path("../benchmarks/results/compression_ml100k.json")
if results_file.exists():
    bench = json.loads(results_file.read_text())
    table["ms_per_1000 (benchmark)"] = pd.Series({k: v["ms_per_1000"] for k, v in bench["results"].items()})
    print("latency measured on:", bench["machine"]["cpu"])
table["kB"] = table.bytes / 1000
table["kB sparse"] = table.bytes_sparse / 1000
table.drop(columns=["bytes", "bytes_sparse"]).round(4)

# %%
base = table.loc["DeepFM, float32"]
glue("eff_int8_auc_change", table.loc["DeepFM, int8 linear layers", "auc"] - base.auc)
glue("eff_int8_size", table.loc["DeepFM, int8 linear layers", "bytes"] / base.bytes)
glue("eff_p80_auc_change", table.loc["DeepFM, 80% pruned", "auc"] - base.auc)
glue("eff_p80_sparse_size", table.loc["DeepFM, 80% pruned", "bytes_sparse"] / base.bytes)
glue("eff_student_params", table.loc["student, distilled", "parameters"] / base.parameters)
glue("eff_distill_gain", table.loc["student, distilled", "auc"] - table.loc["student, labels only", "auc"])
glue("eff_student_auc_change", table.loc["student, distilled", "auc"] - base.auc)
glue("eff_hash_auc_change", table.loc["DeepFM, hashed ids (25% rows)", "auc"] - base.auc)
assert abs(table.loc["DeepFM, int8 linear layers", "auc"] - base.auc) < 0.005, "int8 is nearly lossless"
assert table.loc["DeepFM, 80% pruned", "bytes_sparse"] < 0.5 * base.bytes

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, row in table.iterrows():
    size = min(row.bytes, row.bytes_sparse) / 1000
    ax.scatter(size, row.auc)
    ax.annotate(name, (size, row.auc), fontsize=7, xytext=(4, 2), textcoords="offset points")
ax.set_xlabel("size on disk (kB, the smaller of dense and sparse)")
ax.set_ylabel("test AUC")
ax.set_title("Compression: size against accuracy")
fig.tight_layout();

# %% [markdown]
# **Reading the table.**
#
# * *int8 quantisation* changes the AUC by {glue:text}`eff_int8_auc_change:.4f` and
#   shrinks the file to {glue:text}`eff_int8_size:.0%` of its size: only the dense
#   layers are quantised, and they hold a minority of the weights. It is the cheapest
#   win: no retraining, and the integer kernels are faster on a CPU (benchmark column).
# * *Pruning* 80 % of the weights costs {glue:text}`eff_p80_auc_change:.4f` AUC without
#   retraining. The dense file does not shrink at all; stored with a bitmask it takes
#   {glue:text}`eff_p80_sparse_size:.0%` of the original. Dense kernels do the same
#   work on zeros, so pruning is no way to a faster model here (the benchmark column
#   moves by less than the int8 kernels move it): it pays with sparse storage, and for
#   speed only with sparse kernels or structured pruning (whole rows or channels).
# * *The distilled student* has {glue:text}`eff_student_params:.0%` of the parameters
#   and changes the AUC by {glue:text}`eff_student_auc_change:.4f`; distillation
#   changed it by {glue:text}`eff_distill_gain:.4f` compared with the same student
#   trained on labels only (one split; the spread between splits in chapter 5 was a
#   few thousandths, so treat a gain of that size as noise).
# * *Hashed id tables* with a quarter of the rows halve the model, but
#   {glue:text}`eff_users_sharing:.0%` of the users now share their row, and the AUC
#   changes by {glue:text}`eff_hash_auc_change:.4f`: ids are the most informative
#   fields (the interpretability chapter), so collisions among them hurt most. In
#   production the trick is used for the long tail of huge vocabularies, not for a
#   few thousand ids.
#
# (ch17-gpu)=
# ## Training on a GPU
#
# Every model in the book trains through `recfeat_ref.training.Trainer` (or the
# top-N loop built on it), which on a CUDA device
#
# * moves each batch from *pinned* (page-locked) host memory with `non_blocking=True`,
#   so the copy overlaps computation;
# * runs the forward pass under automatic mixed precision, bfloat16 where the GPU
#   supports it, otherwise float16 with a gradient scaler against underflow
#   {cite}`micikevicius2018mixed`;
# * optionally compiles the model with `torch.compile` (`TrainConfig(compile=True)`),
#   worth it only for long runs.
#
# Each chapter's Parameters cell switches to a larger configuration when a GPU is
# present (`FULL = torch.cuda.is_available()`). `benchmarks/gpu_check.py` runs every
# notebook on the machine it finds and records the wall time, the peak GPU memory and
# the chapter's key numbers; the results found in the repository:

# %%
runs = sorted(Path("../benchmarks/results").glob("gpu_check_*.json"))
if runs:
    frames = []
    for path in runs:
        run = json.loads(path.read_text())
        frames.append(pd.Series({k: v["seconds"] for k, v in run["notebooks"].items()}, name=f"{run['device']} (s)"))
    display(pd.concat(frames, axis=1).round(1))
else:
    print("no gpu_check results in this copy of the repository")
glue("eff_gpu_runs", sum("cpu" not in p.stem for p in runs))

# %% [markdown]
# Number of GPU runs recorded so far: {glue:text}`eff_gpu_runs`. When a GPU machine is
# available, `python benchmarks/gpu_check.py` adds its column.
#
# (ch17-ddp)=
# ## Data-parallel training
#
# With DistributedDataParallel {cite}`li2020pytorch` every process (*rank*) holds a full
# copy of the model and trains on its share of each mini-batch; after the backward pass
# the gradients are averaged across ranks (an all-reduce), so every copy takes the same
# step. If rank $r$ minimises $L_r = \frac{W}{B}\sum_{n \in \mathcal B_r} \ell_n$ on its
# shard $\mathcal B_r$ of a global batch $\mathcal B$ of size $B$, the average of the
# $W$ gradients is exactly the gradient of the mean loss over $\mathcal B$: the same
# step a single process would take on the whole batch. `recfeat_ref.distributed` does
# this for biased MF; we launch 2 processes on this machine with `torchrun` (the gloo
# backend on CPUs; NCCL on GPUs) and compare with one process.

# %%
config = DDPConfig(num_epochs=DDP_EPOCHS)
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "ddp.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "recfeat_ref.distributed", "--epochs", str(DDP_EPOCHS), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    ddp = torch.load(out, weights_only=True)
single, single_losses = train_mf(ml.ratings, config)
max_diff = max(float((ddp["state_dict"][k] - v).abs().max()) for k, v in single.state_dict().items())
glue("eff_ddp_max_diff", max_diff)
pd.DataFrame({"2 processes (DDP)": ddp["losses"], "1 process": single_losses},
             index=pd.Index(range(1, DDP_EPOCHS + 1), name="epoch")).round(6)

# %%
assert max_diff < 1e-3, "DDP follows the single-process trajectory up to rounding"
print(f"largest difference between the two models' weights: {max_diff:.2e}")

# %% [markdown]
# The two runs agree to {glue:text}`eff_ddp_max_diff:.1e` in every weight: the
# differences are floating-point rounding, because the same sums are taken in another
# order.
#
# **On many machines** the recipe is the same and three things change:
#
# * *Rendezvous*: the processes must find each other. `torchrun --nnodes=N
#   --rdzv-backend=c10d --rdzv-endpoint=HOST:PORT` on every machine replaces
#   `--standalone`.
# * *Data sharding*: each rank must read its own part of the data, not all of it;
#   `torch.utils.data.DistributedSampler` (or pre-split files per rank) does this, with
#   a seed shared by all ranks so that each epoch's order agrees.
# * *Embedding tables larger than one GPU*: data parallelism copies the whole model to
#   every rank, which fails when a table has hundreds of millions of rows. Industrial
#   recommenders shard the tables across devices (model parallelism for the embeddings,
#   data parallelism for the dense layers), with engines built for it: TorchRec
#   {cite}`ivchenko2022torchrec`, NVIDIA HugeCTR, or parameter servers.
#
# ## Summary
#
# * int8 quantisation of the dense layers is nearly free in accuracy; pruning needs
#   sparse storage to save space; distillation trades a teacher's training for a cheap
#   student; hashing shrinks tables at the price of collisions, which hurt most on the
#   most informative fields.
# * In a recommender most parameters are embeddings, so the techniques that touch the
#   tables (hashing, pruning with sparse storage) move the size most.
# * Data-parallel training with gradient averaging reproduces single-process training;
#   scaling out changes the launcher, the data loading and, for huge tables, the
#   parallelism of the embeddings.
#
# ## Exercises
#
# 1. Retrain the 80 %-pruned model for two epochs with its zeros kept at zero (multiply
#    the gradients by the mask). How much AUC comes back?
# 2. Hash only the user ids (not the films) into a quarter of the rows. Which of the two
#    fields suffers more from collisions, and why?
# 3. Launch the data-parallel run with 3 processes instead of 2. Do the losses change?
#
# :::{admonition} Solutions
# :class: dropdown
# The code below runs (3): the losses agree with the single-process run again, because
# the loss scaling makes the averaged gradient independent of the number of ranks.
# (1) Most of the lost AUC returns within an epoch or two: the remaining weights adapt.
# (2) Left to the reader: pass `hashed_fields=(0,)` to `build_variants`.
# :::

# %%
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "ddp3.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3",
           "-m", "recfeat_ref.distributed", "--epochs", "1", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    three = torch.load(out, weights_only=True)
_, one_epoch = train_mf(ml.ratings, DDPConfig(num_epochs=1))
print(f"3 processes: {three['losses'][0]:.6f}, 1 process: {one_epoch[0]:.6f}")
assert abs(three["losses"][0] - one_epoch[0]) < 1e-4
