"""One process against torchrun's 2 on this machine: whole training runs and single steps (a script, not a test).

    python benchmarks/ddp_bench.py                       # autoencoder, classifier, seq2seq_attention
    python benchmarks/ddp_bench.py --models autoencoder --epochs 3 --steps 30

Part 1, whole runs through the CLI (`python -m core.train MODEL --epochs E` against
`torchrun --standalone --nproc-per-node 2 -m core.train MODEL --epochs E`), each into scratch folders: wall time of
the run, of its training (the history's elapsed_s at the last epoch: training plus rank 0's per-epoch validation),
and CPU seconds of every process of the run (the launcher and both ranks). One process runs with 1 thread and with
2 (as many as the two ranks together; 1 thread = pinned to one core, since the MNIST trainers use every core they
may run on); each rank has 1 thread (torchrun's default).

Part 2, the step itself: the trainers' step functions at the real batch sizes, timed for --steps steps after 3 of
warm-up: wall per step, and CPU per step summed over the ranks (what the machine spends on one global batch).

Prints the load average before and after: on a shared machine every figure is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EPOCHS = {"autoencoder": 3, "classifier": 2, "conv_autoencoder": 2, "seq2seq_attention": 1, "transformer": 1}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cli_run(model: str, epochs: int, nproc: int, threads: int, work: Path) -> dict:
    out, runs = work / f"{model}-{nproc}-{threads}" / "out", work / f"{model}-{nproc}-{threads}" / "runs"
    args = ["-m", "core.train", model, "--epochs", str(epochs), "--out", str(out), "--runs", str(runs), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if nproc == 1:
        cmd = [sys.executable, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # the MNIST trainers take every core they may run on (not $OMP_NUM_THREADS): one thread = one core allowed
    pin = (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if nproc == 1 and threads == 1 else None
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, preexec_fn=pin)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{model} x{nproc} failed:\n{r.stderr[-3000:]}")
    hist = json.loads((runs / model / "history.json").read_text())
    return {"wall_s": wall, "train_s": hist["epochs"][-1]["elapsed_s"], "world_size": hist["world_size"],
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


# ------------------------------------------------------------------------------------------------- steps


def _step_setup(model: str):
    """(step(), what it trains on) for one of the trainers at its real batch size, with this rank's rows."""
    import math

    import torch

    from core.training import distributed as dd

    g = torch.Generator().manual_seed(0)
    if model in ("autoencoder", "classifier", "conv_autoencoder"):
        from core.training import mnist

        if model == "classifier":
            from core.models.classifier import Classifier, ClassifierConfig

            net_model, tc, n = Classifier(ClassifierConfig()), mnist.ClassifierTrain(), mnist.ClassifierTrain.batch_size
        else:
            cls, config, tc = mnist.AE_SPECS[model]
            net_model, n = cls(config), tc.batch_size
        model_ = dd.prepare(net_model)
        net = dd.ddp(model_)
        dd.fork_rng(0)
        opt = torch.optim.AdamW(model_.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        x = torch.rand(n, 1, 28, 28, generator=g) * (torch.rand(n, 1, 28, 28, generator=g) < 0.2)
        y = torch.randint(0, 10, (n,), generator=g)
        net.train()
        if model == "classifier":
            return lambda: mnist.classifier_step(net, opt, sched, dd.local(x), dd.local(y), tc, n)
        return lambda: mnist.ae_step(net, opt, sched, dd.local(x), n)
    from core.data import dates
    from core.training import sequence as seq

    tc = seq.TRAIN_CONFIGS[model]
    m, _ = seq.build_model(model)
    m = dd.prepare(m)
    net = dd.ddp(m)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    chunk = seq.length_buckets(dates.train_examples(tc.batch_size * 4, 0, 0), tc.batch_size, g)[0]
    part = dd.local(chunk)
    src, tgt_in, tgt_out = seq.make_batch(part)
    n_local, n_global = seq.target_tokens(part), seq.target_tokens(chunk)
    net.train()
    assert math.isfinite(n_local)
    return lambda: seq.seq_step(net, opt, sched, src, tgt_in, tgt_out, tc, n_local, n_global)


def time_steps(models: list[str], steps: int) -> dict:
    import torch
    import torch.distributed as dist

    from core.training import distributed as dd

    res = {}
    for model in models:
        step = _step_setup(model)
        for _ in range(3):
            step()
        if dd.world().active:
            dist.barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        if dd.world().active:
            dist.barrier()
        wall, cpu = (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps
        cpu_all = dd.reduce_sums({"cpu": cpu})["cpu"]  # summed over the ranks
        res[model] = {"wall_ms": wall * 1e3, "cpu_ms": cpu_all * 1e3, "threads": torch.get_num_threads()}
    return res


def _rank(rank: int, size: int, port: int, models: list[str], steps: int, out: str) -> None:
    import torch

    from core.training import distributed as dd

    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(rank),
                       "LOCAL_WORLD_SIZE": str(size), "MASTER_PORT": str(port)})
    os.environ.pop("MASTER_ADDR", None)
    torch.set_num_threads(1)
    dd.init(torch.device("cpu"))
    res = time_steps(models, steps)
    if rank == 0:
        Path(out).write_text(json.dumps(res))
    dd.shutdown()


def step_bench(models: list[str], steps: int) -> dict:
    import torch
    import torch.multiprocessing as mp

    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out[f"1 process, {threads} thread{'s' if threads > 1 else ''}"] = time_steps(models, steps)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        mp.start_processes(_rank, args=(2, port, models, steps, f.name), nprocs=2, join=True, start_method="spawn")
        out["2 processes, 1 thread each"] = json.loads(Path(f.name).read_text())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["autoencoder", "classifier", "seq2seq_attention"])
    p.add_argument("--epochs", type=int, default=None, help="epochs per CLI run (default: per model, 1-3)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per model in part 2")
    p.add_argument("--skip-cli", action="store_true", help="part 2 only")
    a = p.parse_args()
    print(f"load average before: {load()}  ({os.cpu_count()} cores)")
    if not a.skip_cli:
        print("\npart 1: whole runs (python -m core.train vs torchrun --nproc-per-node 2)")
        print(f"{'model':<20}{'epochs':>7}{'procs x threads':>16}{'wall s':>9}{'train s':>9}{'cpu s':>9}"
              f"{'load':>17}")
        with tempfile.TemporaryDirectory(prefix="ddp-bench-") as tmp:
            for model in a.models:
                epochs = a.epochs or EPOCHS.get(model, 1)
                for nproc, threads in ((1, 1), (1, 2), (2, 1)):
                    r = cli_run(model, epochs, nproc, threads, Path(tmp))
                    assert r["world_size"] == nproc
                    print(f"{model:<20}{epochs:>7}{f'{nproc} x {threads}':>16}{r['wall_s']:>9.1f}{r['train_s']:>9.1f}"
                          f"{r['cpu_s']:>9.1f}{load():>17}", flush=True)
    print(f"\npart 2: one step at the trainer's batch size ({a.steps} steps after 3 of warm-up)")
    print(f"{'model':<20}{'setup':<28}{'wall ms/step':>13}{'cpu ms/step (all ranks)':>25}")
    for setup, res in step_bench(a.models, a.steps).items():
        for model, r in res.items():
            print(f"{model:<20}{setup:<28}{r['wall_ms']:>13.1f}{r['cpu_ms']:>25.1f}")
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
