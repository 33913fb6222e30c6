"""Data-parallel training with 2 CPU processes (gloo) equals single-process training."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref._validation import DataValidationError
from recfeat_ref.distributed import DDPConfig, global_batches, shard, train_mf


def _ratings(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user_id": rng.integers(1, 40, n), "item_id": rng.integers(1, 60, n),
                         "rating": rng.integers(1, 6, n).astype(float)})


def test_shards_partition_every_global_batch():
    batches = global_batches(103, 20, seed=1, epoch=0)
    assert sorted(torch.cat(batches).tolist()) == list(range(103))
    for batch in batches:
        parts = [shard(batch, r, 3) for r in range(3)]
        assert torch.equal(torch.cat(parts), batch)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert not torch.equal(torch.cat(batches), torch.cat(global_batches(103, 20, seed=1, epoch=1)))


def test_single_process_training_learns_and_is_deterministic():
    config = DDPConfig(num_epochs=5, batch_size=64)
    model, losses = train_mf(_ratings(), config)
    again, losses_again = train_mf(_ratings(), config)
    assert losses[-1] < losses[0]
    assert losses == losses_again
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(DataValidationError, match="rating"):
        train_mf(_ratings().drop(columns="rating"), config)


def test_two_gloo_processes_match_single_process_training(tmp_path):
    data, out = tmp_path / "ratings.csv", tmp_path / "ddp.pt"
    _ratings().to_csv(data, index=False)
    # Global batches of 64 rows: 9 full ones (shards 32/32) and a last one of 24 (12/12);
    # the loss scaling makes every step the single-process step.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "recfeat_ref.distributed", "--ratings", str(data), "--epochs", "3", "--batch-size", "64",
           "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    ddp = torch.load(out, weights_only=True)
    assert ddp["world_size"] == 2
    model, losses = train_mf(_ratings(), DDPConfig(num_epochs=3, batch_size=64))
    # Tolerance: the same sums in another order (float32), over 30 Adam steps.
    np.testing.assert_allclose(ddp["losses"], losses, rtol=1e-5)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(ddp["state_dict"][name], value, rtol=1e-4, atol=1e-5)
