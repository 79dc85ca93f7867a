"""Data-parallel training across processes started by torchrun (gloo on CPU, NCCL on CUDA).

    torchrun --standalone --nproc-per-node 2 -m core.train autoencoder

One process (plain ``python -m core.train``) is world size 1 and every helper here is then the identity: the same
arithmetic, the same random draws, the same files as before this module existed.

How a trainer uses it (the few lines each trainer changes):

    w = world()                                   # rank, size; World() (size 1) when torchrun did not start us
    model = prepare(model)                        # BatchNorm -> SyncBatchNorm, rank 0's weights on every rank
    net = ddp(model)                              # DistributedDataParallel (or `average_gradients` after backward)
    for idx in batches(n, batch_size, gen):       # the SAME seeded global batch on every rank ...
        if not takes_part(len(idx)): continue
        xb = local(augment(x[idx], gen))          # ... every rank draws what one process would, keeps its rows
        loss = scaled(loss_fn(net(xb)), len(xb), len(idx))
    sums = reduce_sums(sums)                      # epoch figures over the whole global batch
    if w.main: evaluate, checkpoint, history, export   # rank 0 alone writes; the others wait in core.train

The batch size in every training config is the GLOBAL batch: each rank gets ``batch_size / world_size`` rows of it
(rank r takes rows r, r + W, r + 2W, ... of the seeded permutation, which over an epoch is exactly
DistributedSampler's split), so the number of optimiser steps, the learning-rate schedules and the random streams
are those of one process, and W processes compute one process's update up to float rounding. Every rank's loss is
scaled by W * n_rank / n_global, so averaging the ranks' gradients gives the mean over the global batch even when a
batch does not split evenly (the factor is exactly 1 when it does). BatchNorm layers become SyncBatchNorm (torch's
own is GPU-only; this one is plain all_gather/all_reduce, so it runs on gloo too): the statistics and running
buffers are those of the whole global batch, on every rank.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
import torch.nn as nn

from core.errors import UserError

TIMEOUT_ENV = "BML_DIST_TIMEOUT_S"  # any one collective while training (a rank that hangs or vanishes)
WAIT_ENV = "BML_DIST_WAIT_S"  # the other ranks waiting while rank 0 evaluates and exports
DEFAULT_TIMEOUT_S = 900  # rank 0's per-epoch evaluation runs while the others wait in the next collective
DEFAULT_WAIT_S = 6 * 3600
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "ip6-localhost")


# what a collective raises when a peer died, hung past the timeout or closed its sockets: torch's DistError, or
# gloo's plain RuntimeError ("Connection closed by peer", "Timed out waiting ...")
_PEER_WORDS = ("connection closed by peer", "connection reset", "timed out", "timeout", "gloo", "nccl",
               "socket", "broken pipe")


def peer_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective failing because another rank died, hung or left (not a bug of ours)."""
    if hasattr(dist, "DistError") and isinstance(exc, dist.DistError):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _PEER_WORDS)


class DistError(UserError):
    """A distributed run that cannot start (bad environment, more ranks than GPUs, a peer that never came)."""


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    backend: str | None = None

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, histories, exports and the manifest."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


_WORLD = World()
_WAIT_GROUP = None  # gloo, long timeout: the barrier while rank 0 exports
_BN_GROUP = None  # SyncBatchNorm's own group: its collectives never interleave with DDP's bucketed all_reduce


def world() -> World:
    return _WORLD


def is_main() -> bool:
    return _WORLD.main


def env_world(environ=os.environ) -> World:
    """What torchrun's variables say (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE); World() without them."""
    try:
        size = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local_rank = int(environ.get("LOCAL_RANK", str(rank)))
        local_size = int(environ.get("LOCAL_WORLD_SIZE", str(size)))
    except ValueError as exc:
        raise DistError(f"torchrun's environment is not numbers ({exc}); start through torchrun") from None
    if size < 1 or not 0 <= rank < size or not 0 <= local_rank < local_size:
        raise DistError(f"inconsistent distributed environment: RANK={rank} WORLD_SIZE={size} "
                        f"LOCAL_RANK={local_rank} LOCAL_WORLD_SIZE={local_size}")
    return World(rank, size, local_rank, local_size)


def loopback_defaults(environ=os.environ) -> dict[str, str]:
    """On one machine (every rank local: ``--standalone``, or no MASTER_ADDR at all) bind gloo to loopback.

    This machine's network interface is not loopback, and gloo otherwise picks the interface its hostname resolves
    to. Only variables that are unset (MASTER_ADDR also when torchrun's standalone rendezvous set it to a
    loopback name) are filled in; a multi-machine run (its MASTER_ADDR another host) is left alone. Returns what
    was set."""
    size = int(environ.get("WORLD_SIZE", "1"))
    one_machine = int(environ.get("LOCAL_WORLD_SIZE", str(size))) == size
    addr = environ.get("MASTER_ADDR")
    if not one_machine or (addr and addr not in LOOPBACK_NAMES):
        return {}
    set_now = {}
    if addr != "127.0.0.1":
        set_now["MASTER_ADDR"] = "127.0.0.1"
    if not environ.get("GLOO_SOCKET_IFNAME"):
        set_now["GLOO_SOCKET_IFNAME"] = "lo"
    environ.update(set_now)
    return set_now


def _seconds(name: str, default: int) -> datetime.timedelta:
    raw = os.environ.get(name, "")
    try:
        s = float(raw) if raw else default
    except ValueError:
        raise DistError(f"{name}={raw!r} is not a number of seconds") from None
    if s <= 0:
        raise DistError(f"{name} must be positive, not {raw}")
    return datetime.timedelta(seconds=s)


def init(device: torch.device) -> World:
    """Join the process group torchrun describes (nothing when WORLD_SIZE is 1). CUDA: one GPU per local rank."""
    global _WORLD, _WAIT_GROUP, _BN_GROUP
    w = env_world()
    if not w.active or dist.is_initialized():
        return _WORLD
    loopback_defaults()
    if "MASTER_PORT" not in os.environ:
        raise DistError("WORLD_SIZE > 1 but no MASTER_PORT: start the run through torchrun")
    cuda = device.type == "cuda"
    if cuda:
        if w.local_rank >= torch.cuda.device_count():
            raise DistError(f"local rank {w.local_rank} has no GPU: this machine has {torch.cuda.device_count()}; "
                            f"use --nproc-per-node {torch.cuda.device_count()} or fewer")
        torch.cuda.set_device(w.local_rank)
    backend = "cpu:gloo,cuda:nccl" if cuda else "gloo"  # CPU tensors (epoch sums) still go over gloo
    timeout = _seconds(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)
    try:
        dist.init_process_group(backend, timeout=timeout, rank=w.rank, world_size=w.size)
        _WAIT_GROUP = dist.new_group(backend="gloo", timeout=_seconds(WAIT_ENV, DEFAULT_WAIT_S))
        _BN_GROUP = dist.new_group(backend="nccl" if cuda else "gloo", timeout=timeout)
    except (RuntimeError, ValueError) as exc:
        raise DistError(f"rank {w.rank} could not join the process group: {str(exc).splitlines()[0]}") from exc
    _WORLD = World(w.rank, w.size, w.local_rank, w.local_size, "nccl" if cuda else "gloo")
    return _WORLD


def shutdown(clean: bool = True) -> None:
    """Leave the process group; ``clean``: first wait for every rank (rank 0's export) on the long-timeout group."""
    global _WORLD, _WAIT_GROUP, _BN_GROUP
    if not dist.is_initialized():
        return
    try:
        if clean:
            wait_for_main()
    finally:
        dist.destroy_process_group()
        _WORLD, _WAIT_GROUP, _BN_GROUP = World(), None, None


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[World]:
    """init() ... shutdown(): on an exception the barrier is skipped (the launcher ends the other ranks)."""
    w = init(device)
    try:
        yield w
    except BaseException:
        shutdown(clean=False)
        raise
    shutdown(clean=True)


def wait_for_main() -> None:
    """Every rank meets here: the others wait (up to BML_DIST_WAIT_S) while rank 0 evaluates and exports."""
    if dist.is_initialized():
        dist.barrier(group=_WAIT_GROUP)


def agree(what: str, value) -> None:
    """Every rank must hold the same ``value`` (the command line, the data files' sha256): the batch split assumes
    every rank draws the same permutation from the same data. Raises DistError on every rank otherwise."""
    if not dist.is_initialized():
        return
    values = [None] * _WORLD.size
    dist.all_gather_object(values, repr(value), group=_WAIT_GROUP)
    odd = [r for r, v in enumerate(values) if v != values[0]]
    if odd:
        raise DistError(f"{what} differs between ranks {', '.join(map(str, odd))} and rank 0; every machine needs "
                        "the same arguments and the same files")


def threads(n_cores: int) -> int:
    """Threads for this rank: $OMP_NUM_THREADS when set (torchrun sets 1 for several ranks), else this machine's
    cores shared among its local ranks. One process: ``n_cores`` as before."""
    if not _WORLD.active:
        return n_cores
    raw = os.environ.get("OMP_NUM_THREADS", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, n_cores // max(1, _WORLD.local_size))


def fork_rng(seed: int) -> None:
    """Give each rank its own global torch stream (dropout masks) once the models are built and identical.

    Everything the trainers draw from their seeded ``torch.Generator`` (permutations, augmentation, z) stays the
    same on every rank, as one process draws it; dropout draws from the global stream, and ranks sharing it would
    drop the same units in their row k. One process: untouched."""
    if _WORLD.active:
        torch.manual_seed((seed * 1_000_003 + 7_368_787 * (_WORLD.rank + 1)) % (2**63 - 1))


# ----------------------------------------------------------------------------------------------- the batch split


def takes_part(n_global: int) -> bool:
    """A global batch too small to give every rank a row is skipped by all ranks alike (never with one process)."""
    return n_global >= _WORLD.size


def local(batch):
    """This rank's rows of a global batch (a tensor or a list): rows rank, rank + W, ... One process: ``batch``."""
    if not _WORLD.active:
        return batch
    return batch[_WORLD.rank::_WORLD.size]


def share(n_local: float, n_global: float) -> float:
    """This rank's share of the global batch, n_local / n_global (1.0 with one process)."""
    return 1.0 if not _WORLD.active else n_local / n_global


def scaled(loss: torch.Tensor, n_local: float, n_global: float) -> torch.Tensor:
    """A mean over this rank's rows, scaled so the AVERAGE over ranks is the mean over the global batch:
    loss * W * n_local / n_global. Returned as is with one process or an even split (the factor is then 1)."""
    if not _WORLD.active:
        return loss
    factor = _WORLD.size * n_local / n_global
    return loss if factor == 1.0 else loss * factor


def batch_mean(x: torch.Tensor, n_global: int) -> torch.Tensor:
    """The mean over the GLOBAL batch of per-row values ``x`` (B_local, ...) -- e.g. the GAN's class shares, which
    every rank must update alike. One process: ``x.mean(0)``."""
    if not _WORLD.active:
        return x.mean(0)
    total = x.sum(0)
    dist.all_reduce(total)
    return total / n_global


def reduce_sums(sums: dict[str, float]) -> dict[str, float]:
    """Sum each figure over the ranks (epoch totals of per-rank parts); one process: ``sums`` unchanged."""
    if not _WORLD.active:
        return sums
    t = torch.tensor([float(v) for v in sums.values()], dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(sums, t.tolist()))


def reduce_list(values: list[float]) -> list[float]:
    """Element-wise sum over the ranks of a list every rank has the same length of (per-step loss parts)."""
    if not _WORLD.active:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


# ----------------------------------------------------------------------------------------------- models


def prepare(*modules: nn.Module):
    """For training on every rank: BatchNorm -> SyncBatchNorm (in place; the same parameters and state_dict keys),
    then rank 0's parameters and buffers copied to every rank. One process: the modules untouched."""
    if _WORLD.active:
        for m in modules:
            convert_sync_batchnorm(m)
        broadcast_state(*modules)
    return modules[0] if len(modules) == 1 else modules


def ddp(module: nn.Module) -> nn.Module:
    """The module wrapped in DistributedDataParallel (its gradients averaged during backward); with one process
    the module itself. Buffers are not re-broadcast at each forward: SyncBatchNorm keeps them identical."""
    if not _WORLD.active:
        return module
    from torch.nn.parallel import DistributedDataParallel

    import inspect

    dev = next(module.parameters()).device
    # rank 0's buffers at wrap time, none re-broadcast at each forward (torch >= 2.13 renamed the switch)
    no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in
               inspect.signature(DistributedDataParallel.__init__).parameters else {"broadcast_buffers": False})
    return DistributedDataParallel(module, device_ids=[dev.index] if dev.type == "cuda" else None, **no_sync)


def average_gradients(*modules: nn.Module) -> None:
    """All-reduce the modules' gradients (one flat buffer per dtype/device) and divide by W: what DDP does, for
    loops DDP does not fit (the GANs: two optimisers, several forwards of D per step, R1's double backward)."""
    if not _WORLD.active:
        return
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(_WORLD.size)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_state(*modules: nn.Module) -> None:
    """Rank 0's parameters and buffers on every rank."""
    if not _WORLD.active:
        return
    with torch.no_grad():
        for m in modules:
            for t in [*m.parameters(), *m.buffers()]:
                dist.broadcast(t.data, src=0)


def sync_buffers(*modules: nn.Module) -> None:
    """Rank 0's buffers on every rank (BatchNorm statistics, spectral norm's u and v, a recalibrated EMA copy).
    They are identical by construction; this makes it hold on machines whose float arithmetic differs."""
    if not _WORLD.active:
        return
    with torch.no_grad():
        for m in modules:
            for b in m.buffers():
                dist.broadcast(b.data, src=0)


def cpu_copy(module: nn.Module) -> nn.Module:
    """The module on the CPU for rank 0's evaluation, without moving the training copy (DDP's parameters must not
    change device under it); on the CPU the module itself."""
    dev = next(module.parameters(), torch.empty(0)).device
    return module if dev.type == "cpu" else copy.deepcopy(module).cpu()


# ----------------------------------------------------------------------------------------------- SyncBatchNorm


class _SyncBatchNormFn(torch.autograd.Function):
    """Batch normalisation over the global batch: per-rank (count, mean, M2) all-gathered and combined (Chan et al.),
    and in backward the two per-channel sums all-reduced (Ioffe & Szegedy's gradient with the global sums)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps, factor, group):
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        shape = [1, c] + [1] * (x.dim() - 2)
        n = x.numel() // c
        mean = x.mean(dims) if n else x.new_zeros(c)
        m2 = (x - mean.view(shape)).pow(2).sum(dims)
        stats = torch.cat([x.new_tensor([float(n)]), mean, m2])  # (1 + 2C,)
        size = dist.get_world_size(group)
        parts = [torch.empty_like(stats) for _ in range(size)]
        dist.all_gather(parts, stats, group=group)
        g = torch.stack(parts)  # (W, 1 + 2C)
        counts, means, m2s = g[:, :1], g[:, 1:c + 1], g[:, c + 1:]
        total = counts.sum()
        if total < 2:
            raise ValueError("SyncBatchNorm needs at least 2 values per channel over the global batch")
        gmean = (counts * means).sum(0) / total
        var = (m2s.sum(0) + (counts * (means - gmean).pow(2)).sum(0)) / total  # biased, for normalising
        invstd = torch.rsqrt(var + eps)
        if running_mean is not None:
            running_mean.mul_(1 - factor).add_(gmean, alpha=factor)
            running_var.mul_(1 - factor).add_(var * (total / (total - 1)), alpha=factor)  # unbiased, as BatchNorm
        xhat = (x - gmean.view(shape)) * invstd.view(shape)
        y = xhat if weight is None else xhat * weight.view(shape) + bias.view(shape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.total, ctx.group, ctx.has_bias = total, group, bias is not None
        return y

    @staticmethod
    def backward(ctx, gy):
        xhat, invstd, weight = ctx.saved_tensors
        dims = [0, *range(2, gy.dim())]
        shape = [1, gy.shape[1]] + [1] * (gy.dim() - 2)
        sum_g, sum_gx = gy.sum(dims), (gy * xhat).sum(dims)  # this rank's part
        grad_w = sum_gx if weight is not None and ctx.needs_input_grad[1] else None
        grad_b = sum_g if ctx.has_bias and ctx.needs_input_grad[2] else None
        both = torch.cat([sum_g, sum_gx])
        dist.all_reduce(both, group=ctx.group)
        g_all, gx_all = both.chunk(2)
        scale = invstd if weight is None else invstd * weight
        gx = (gy - (g_all / ctx.total).view(shape) - xhat * (gx_all / ctx.total).view(shape)) * scale.view(shape)
        return gx, grad_w, grad_b, None, None, None, None, None


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training-mode statistics cover every rank's rows; eval mode and one process: BatchNorm."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {x.dim()}-D)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and _WORLD.active):
            return super().forward(x)
        factor = 0.0
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        return _SyncBatchNormFn.apply(x, self.weight, self.bias,
                                      self.running_mean if self.track_running_stats else None,
                                      self.running_var if self.track_running_stats else None,
                                      self.eps, factor, _BN_GROUP)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm{1,2,3}d under ``module`` with SyncBatchNorm, keeping its Parameter objects (an
    optimiser built before still holds them), buffers and state_dict keys. Returns the (possibly new) root."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, SyncBatchNorm):
        new = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        if module.track_running_stats:
            new.running_mean, new.running_var = module.running_mean, module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        new = convert_sync_batchnorm(child)
        if new is not child:
            setattr(module, name, new)
    return module

