r"""Data-parallel training with :class:`torch.nn.parallel.DistributedDataParallel` (DDP).

Data parallelism keeps a full copy of the model in every process (a *rank*) and splits
each mini-batch between them. Every rank computes the gradient of its shard; DDP then
averages the gradients over the ranks with an all-reduce before the optimiser step, so
all copies take the same step and stay identical (Li et al., 2020).

Why the result equals single-process training. Let a global batch :math:`\mathcal B`
of size :math:`B` be split into shards :math:`\mathcal B_1, \dots, \mathcal B_W`. If rank
:math:`r` minimises :math:`L_r = \frac{W}{B} \sum_{n \in \mathcal B_r} \ell_n`, the
averaged gradient is

.. math:: \frac{1}{W} \sum_{r=1}^{W} \nabla L_r = \frac{1}{B} \sum_{n \in \mathcal B} \nabla \ell_n,

the gradient of the mean loss over the whole batch, whatever the shard sizes. With
the same initial weights (DDP broadcasts rank 0's) and the same global batches (one
seeded permutation, shared by all ranks), :math:`W` processes therefore follow the
single-process trajectory up to floating-point rounding (the sums are taken in another
order). ``tests/test_distributed.py`` checks this with 2 CPU processes.

Launch: ``torchrun --nproc_per_node=2 -m recfeat_ref.distributed --out weights.pt``
(gloo on CPU; NCCL when every rank has a GPU). The model here is the book's biased
matrix factorisation (:class:`~recfeat_ref.models.BiasedMF`) with an MSE loss and Adam,
small enough to check exactly; the recipe is the same for any model.

References
----------
.. [1] S. Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
   Training", VLDB 13(12), 2020.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ._validation import (
    DataValidationError,
    _check_positive,
    _check_positive_int,
    _check_seed,
    check_columns,
)
from .models import BiasedMF, MFConfig
from .preprocessing import IdEncoder
from .training import seed_everything

__all__ = ["DDPConfig", "global_batches", "shard", "train_mf", "main"]


@dataclass(frozen=True)
class DDPConfig:
    """Settings of :func:`train_mf`.

    Attributes
    ----------
    n_factors : int
        32: small, the point is the parallelism, not the accuracy.
    lr : float
        1e-2, Adam.
    num_epochs : int
        3.
    batch_size : int
        4096: the *global* batch, split between the ranks.
    seed : int
        0: initial weights and the batch order.

    Examples
    --------
    >>> cfg = DDPConfig(num_epochs=1)
    >>> cfg.num_epochs, cfg.n_factors
    (1, 32)
    >>> DDPConfig(lr=0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number > 0, got 0
    """

    n_factors: int = 32
    lr: float = 1e-2
    num_epochs: int = 3
    batch_size: int = 4096
    seed: int = 0

    def __post_init__(self):
        for name in ("n_factors", "num_epochs", "batch_size"):
            _check_positive_int(name, getattr(self, name))
        _check_positive("lr", self.lr)
        _check_seed(self.seed)


def global_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """Row indices of each global batch of an epoch; identical on every rank.

    One permutation per (seed, epoch), cut into batches of ``batch_size`` (the last may be
    shorter).

    Examples
    --------
    >>> batches = global_batches(5, batch_size=2, seed=0, epoch=0)
    >>> [len(b) for b in batches], sorted(torch.cat(batches).tolist())
    ([2, 2, 1], [0, 1, 2, 3, 4])
    """
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(n, generator=gen)
    return list(perm.split(batch_size))


def shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous part of a global batch (sizes differ by at most one).

    Examples
    --------
    >>> [shard(torch.arange(5), r, 2).tolist() for r in range(2)]
    [[0, 1, 2], [3, 4]]
    """
    return batch.tensor_split(world_size)[rank]


def _encode(ratings: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, IdEncoder, IdEncoder]:
    check_columns(ratings, ["user_id", "item_id", "rating"], "ratings")
    if len(ratings) == 0:
        raise DataValidationError("ratings: the frame is empty")
    users, items = IdEncoder().fit(ratings["user_id"]), IdEncoder().fit(ratings["item_id"])
    u = torch.as_tensor(users.transform(ratings["user_id"]), dtype=torch.int64)
    i = torch.as_tensor(items.transform(ratings["item_id"]), dtype=torch.int64)
    y = torch.as_tensor(ratings["rating"].to_numpy(dtype=np.float32).copy())
    return u, i, y, users, items


def train_mf(ratings: pd.DataFrame, config: DDPConfig | None = None, rank: int = 0, world_size: int = 1,
             device: str = "cpu") -> tuple[BiasedMF, list[float]]:
    """Train biased MF on ``ratings``; data-parallel when a process group is initialised.

    With ``world_size == 1`` this is plain single-process training. Inside a process group
    every rank calls it with its own ``rank``: the model is wrapped in DDP and each rank
    trains on its shard of every global batch, with the loss scaled as in the module notes.

    Returns the trained model (the DDP wrapper removed) and the mean training loss of
    each epoch (over the whole global batch, all-reduced, so equal on every rank).
    """
    cfg = config or DDPConfig()
    u, i, y, users, items = _encode(ratings)
    seed_everything(cfg.seed)
    model = BiasedMF(MFConfig(users.n_classes_, items.n_classes_, cfg.n_factors,
                              float(y.mean()), 0.1)).to(device)
    net = DistributedDataParallel(model) if world_size > 1 else model
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    losses = []
    for epoch in range(cfg.num_epochs):
        total = torch.zeros((), device=device)
        for batch in global_batches(len(y), cfg.batch_size, cfg.seed, epoch):
            part = shard(batch, rank, world_size).to(device)
            pred = net(u.to(device)[part], i.to(device)[part])
            sq_sum = (pred - y.to(device)[part]).pow(2).sum()
            loss = sq_sum * world_size / len(batch)  # averaged over ranks by DDP: the batch mean
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += sq_sum.detach()
        if world_size > 1:
            dist.all_reduce(total)
        losses.append(float(total) / len(y))
    return model, losses


def main(argv=None) -> None:
    """Entry point for ``torchrun``: train on ML-100K (or a CSV) and save rank 0's weights."""
    parser = argparse.ArgumentParser(description="Data-parallel biased MF (launch with torchrun).")
    parser.add_argument("--ratings", default=None, help="CSV with user_id,item_id,rating; default ML-100K")
    parser.add_argument("--epochs", type=int, default=DDPConfig.num_epochs)
    parser.add_argument("--batch-size", type=int, default=DDPConfig.batch_size)
    parser.add_argument("--out", required=True, help="where rank 0 saves the weights and the losses")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= world_size
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = f"cuda:{local_rank}" if use_cuda else "cpu"
    if world_size > 1:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        if args.ratings:
            ratings = pd.read_csv(args.ratings)
        else:
            from .datasets import load_movielens_100k

            ratings = load_movielens_100k(verbose=False).ratings
        config = DDPConfig(num_epochs=args.epochs, batch_size=args.batch_size)
        model, losses = train_mf(ratings, config, rank, world_size, device)
        if rank == 0:
            tmp = f"{args.out}.tmp"
            torch.save({"state_dict": model.cpu().state_dict(), "losses": losses, "world_size": world_size}, tmp)
            os.replace(tmp, args.out)
    finally:
        if world_size > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
