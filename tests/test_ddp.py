"""Data-parallel training (core/training/distributed.py): 2 processes on loopback gloo against one process.

The step tests run the real trainers' step functions for a few steps in 2 processes (torch.multiprocessing, joined
as torchrun's workers join) and in this process on the same global batches; the torchrun tests run the CLI itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.training import distributed as dd
from tests.support import ddp_steps

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_ranks(tmp: Path, world_size: int = 2, device: str = "cpu") -> list[dict]:
    import torch.multiprocessing as mp

    mp.start_processes(ddp_steps.run_rank, args=(world_size, free_port(), str(tmp), device), nprocs=world_size,
                       join=True, start_method="spawn")
    return [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in range(world_size)]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    return spawn_ranks(tmp_path_factory.mktemp("ddp"))


@pytest.fixture(scope="module")
def one_process() -> dict:
    assert not dd.world().active
    torch.set_num_threads(1)
    return {name: fn() for name, fn in ddp_steps.SCENARIOS.items()}


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in a)


def bit_identical(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ranks_joined_over_loopback_gloo(ranks):
    for r in ranks:
        assert r["backend"] == "gloo"
        assert r["env"] == {"MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo"}


@pytest.mark.parametrize("name", list(ddp_steps.SCENARIOS))
def test_both_ranks_hold_identical_weights_and_buffers(ranks, name):
    """Parameters, BatchNorm statistics, spectral norm's u/v, the EMA copy, the GAN's class shares: bit-identical."""
    assert bit_identical(ranks[0][name], ranks[1][name]), name


@pytest.mark.parametrize("name", ["autoencoder", "autoencoder_sgd"])
def test_two_ranks_equal_one_process_on_the_combined_batch(ranks, one_process, name):
    """The MLP autoencoder (no BatchNorm, no dropout), 4 steps, one of them on 7 rows split 4 + 3: with the
    trainer's AdamW, and with SGD (AdamW would hide a gradient average off by a constant factor)."""
    diff = max_diff(ranks[0][name], one_process[name])
    assert diff <= 1e-6, diff
    assert max_diff(ranks[0][name], _untrained_autoencoder()) > 1e-3  # the steps did move the weights


def _untrained_autoencoder() -> dict:
    from core.models.autoencoder import Autoencoder, AutoencoderConfig

    torch.manual_seed(0)
    return ddp_steps._state(model=Autoencoder(AutoencoderConfig()))


def test_synced_batchnorm_follows_one_process(ranks, one_process):
    """The classifier in training mode, SGD: SyncBatchNorm normalises with the global batch's statistics and keeps
    its running buffers, so 2 ranks follow one process up to float rounding (sums split in two round differently)."""
    two, one = ranks[0]["classifier_sgd"], one_process["classifier_sgd"]
    assert max_diff(two, one) <= 1e-5
    bn = [k for k in one if "running_" in k]
    assert len(bn) == 10 and max_diff({k: two[k] for k in bn}, {k: one[k] for k in bn}) <= 1e-5


ADAM_BOUND = 2 * 3 * 3e-3  # 3 steps; an Adam step moves a weight by up to ~lr (3e-3 here at most) whatever |grad|


@pytest.mark.parametrize("name", ["classifier", "gan", "dcgan", "seq2seq_attention", "transformer"])
def test_adam_steps_follow_one_process(ranks, one_process, name):
    """The trainers' Adam/AdamW steps. Adam's first steps move each weight by about lr * sign(grad), so where the
    true gradient is zero and only float noise is left (the Transformer's key biases: softmax ignores them) the two
    runs may step apart by up to 2 lr. So: 99 % of all values within 1e-5, and none beyond the Adam bound."""
    two, one = ranks[0][name], one_process[name]
    diffs = torch.cat([(two[k].double() - one[k].double()).abs().reshape(-1) for k in one])
    assert float(np.percentile(diffs.numpy(), 99)) <= 1e-5
    assert float(diffs.max()) <= ADAM_BOUND


def test_ranks_that_disagree_on_the_arguments_refuse_to_train(ranks):
    for r in ranks:  # every rank raises, so none waits on the others
        assert r["agree"].startswith("the seed differs between ranks 1 and rank 0"), r["agree"]


def test_each_rank_draws_its_own_dropout_masks(ranks):
    assert not torch.equal(ranks[0]["rng_after_fork"], ranks[1]["rng_after_fork"])


# --------------------------------------------------------------------------------------------- no processes


def test_loopback_defaults_only_for_one_machine():
    env = {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "localhost"}  # torchrun --standalone
    assert dd.loopback_defaults(env) == {"MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo"}
    env = {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "GLOO_SOCKET_IFNAME": "eth1"}  # set by the user: kept
    assert dd.loopback_defaults(env) == {"MASTER_ADDR": "127.0.0.1"} and env["GLOO_SOCKET_IFNAME"] == "eth1"
    env = {"WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "10.0.0.5"}  # two machines: untouched
    assert dd.loopback_defaults(env) == {} and env["MASTER_ADDR"] == "10.0.0.5"
    env = {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "node1.example"}
    assert dd.loopback_defaults(env) == {}


def test_env_world_refuses_nonsense():
    assert dd.env_world({}) == dd.World()
    assert dd.env_world({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}).rank == 1
    for bad in ({"RANK": "2", "WORLD_SIZE": "2"}, {"RANK": "x", "WORLD_SIZE": "2"}, {"WORLD_SIZE": "0"}):
        with pytest.raises(dd.DistError):
            dd.env_world(bad)


def test_the_batch_split_is_distributed_samplers(monkeypatch):
    """Rank r keeps rows r, r + W, ...: over an epoch exactly DistributedSampler's indices (seeded permutation,
    split by rank), and the loss factor W * n_r / N makes the ranks' average the global mean."""
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(0))
    batches = [perm[i:i + 8] for i in range(0, 20, 8)]  # 8, 8, 4
    seen = {}
    for r in range(2):
        monkeypatch.setattr(dd, "_WORLD", dd.World(rank=r, size=2))
        seen[r] = torch.cat([dd.local(b) for b in batches]).tolist()
        assert dd.scaled(torch.tensor(1.0), 4, 8).item() == 1.0
        assert dd.scaled(torch.tensor(1.0), 4 if r == 0 else 3, 7).item() == pytest.approx(2 * (4 if r == 0 else 3) / 7)
        assert dd.takes_part(2) and not dd.takes_part(1)
    sampler = torch.utils.data.DistributedSampler(range(20), num_replicas=2, rank=0, shuffle=False)
    assert seen[0] == perm[list(sampler)].tolist()
    assert sorted(seen[0] + seen[1]) == list(range(20))
    monkeypatch.setattr(dd, "_WORLD", dd.World())
    x = torch.arange(6)
    assert dd.local(x) is x and dd.takes_part(1) and dd.share(3, 6) == 1.0


def test_sync_batchnorm_is_batchnorm_in_one_process():
    """Converted in place: the same Parameter objects and state_dict keys; with one process (and in eval mode) it
    is BatchNorm, so checkpoints load into the plain models the export builds."""
    from core.models.classifier import Classifier, ClassifierConfig

    torch.manual_seed(0)
    plain = Classifier(ClassifierConfig(dropout=0.0))
    synced = dd.convert_sync_batchnorm(Classifier(ClassifierConfig(dropout=0.0)))
    synced.load_state_dict(plain.state_dict())
    params = list(synced.parameters())
    assert sum(isinstance(m, dd.SyncBatchNorm) for m in synced.modules()) == 5
    assert list(synced.state_dict()) == list(plain.state_dict())
    x = torch.rand(6, 1, 28, 28)
    for mode in (True, False):
        plain.train(mode), synced.train(mode)
        torch.testing.assert_close(synced(x)[0], plain(x)[0], rtol=0, atol=0)
    assert all(a is b for a, b in zip(params, synced.parameters()))
    Classifier(ClassifierConfig()).load_state_dict(synced.state_dict())


# --------------------------------------------------------------------------------------------- the CLI under torchrun


def write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def tiny_mnist(folder: Path, n_train: int = 600, n_test: int = 200) -> Path:
    """Digit-like blobs in the four IDX files: enough for the trainers' mechanics (real MNIST is not needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = np.tile(np.arange(10), n // 10)
        imgs = np.zeros((n, 28, 28), np.uint8)
        for i, y in enumerate(labels):
            r0, c0 = rng.integers(4, 10, 2)
            imgs[i, r0:r0 + 10 + y % 5, c0 + y // 2:c0 + y // 2 + 4] = 255  # a stroke whose place encodes y
        write_idx(folder / f"{stem}-images-idx3-ubyte", imgs)
        write_idx(folder / f"{stem}-labels-idx1-ubyte", labels)
    return folder


def torchrun(*args: str, env: dict | None = None, module: str = "core.train", timeout: int = 300):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", module,
           *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    full_env.pop("MASTER_ADDR", None)
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_torchrun_trains_the_autoencoder_and_only_rank_0_writes(tmp_path):
    data, out, runs, audit = tiny_mnist(tmp_path / "mnist"), tmp_path / "out", tmp_path / "runs", tmp_path / "audit"
    r = torchrun("autoencoder", "--epochs", "1", "--data-dir", str(data), "--out", str(out), "--runs", str(runs),
                 "--quiet", module="tests.support.rank_audit",
                 env={"BML_AUDIT_ROOT": str(tmp_path), "BML_AUDIT_DIR": str(audit)})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert r.stdout.count("autoencoder: done") == 1, r.stdout  # one report: rank 0's
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"autoencoder.encoder.onnx", "autoencoder.decoder.onnx", "history/autoencoder.json"} <= set(manifest["files"])
    for hist in (out / "history" / "autoencoder.json", runs / "autoencoder" / "history.json"):
        h = json.loads(hist.read_text())
        assert h["world_size"] == 2 and len(h["epochs"]) == 1
    assert not list(tmp_path.glob(".out.staging-*")) and not list(tmp_path.glob(".out.retired-*"))
    rank0, rank1 = (json.loads((audit / f"rank{i}.json").read_text()) for i in (0, 1))
    assert rank1 == [], rank1  # rank 1 wrote, made, renamed and removed nothing under tmp_path
    assert any(p.endswith("manifest.json") for _, p in rank0) and any("best.pt" in p for _, p in rank0)
    from core.runtime.session import load_model

    m = load_model("autoencoder.encoder.onnx", "cpu", out)
    assert m.card["metrics"]["n_test"] == 200


def test_a_rank_that_fails_makes_torchrun_fail_without_hanging(tmp_path):
    """Rank 0 alone needs the GAN's judge (classifier.onnx): it stops with `error:` while rank 1 has begun
    training; the launcher ends rank 1 and fails, well before any timeout."""
    data = tiny_mnist(tmp_path / "mnist")
    r = torchrun("gan", "--epochs", "1", "--data-dir", str(data), "--out", str(tmp_path / "out"), "--runs",
                 str(tmp_path / "runs"), "--quiet", env={"BML_DIST_TIMEOUT_S": "120"}, timeout=120)
    assert r.returncode != 0
    assert "error: rank 0: the GAN is judged by the classifier" in r.stderr, r.stderr[-3000:]
    assert "exitcode  : 1" in r.stderr  # torchrun's summary names the failing rank's exit status
    assert "[rank0]: Traceback" not in r.stderr and "[rank1]: Traceback" not in r.stderr  # only `error:` lines


def test_torchrun_usage_error_is_one_clean_line(tmp_path):
    r = torchrun("autoencoder", "--epochs", "0", "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"),
                 timeout=120)
    assert r.returncode != 0
    assert r.stderr.count("error: --epochs must be from 1") == 1, r.stderr  # local rank 0 says it, once
    assert "exitcode  : 2" in r.stderr


# --------------------------------------------------------------------------------------------- CUDA / NCCL


def test_nccl_ranks_hold_identical_weights(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip(f"torch {torch.__version__} sees no CUDA device: the NCCL path runs only on a GPU machine")
    if torch.cuda.device_count() < 2:
        pytest.skip(f"NCCL needs one GPU per rank and this machine has {torch.cuda.device_count()}")
    r = spawn_ranks(tmp_path, 2, "cuda")
    assert r[0]["backend"] == "nccl"
    for name in ("autoencoder", "classifier"):
        assert bit_identical(r[0][name], r[1][name]), name
