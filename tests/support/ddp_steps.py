"""A few steps of the real trainers' step functions, the same in one process and in each rank of a process group.

Every scenario draws the same GLOBAL batches from its own seeded generator, keeps this rank's rows
(core.training.distributed.local: all of them with one process) and returns every tensor of its state. tests/test_ddp.py
runs the scenarios once here (world size 1) and once in each of 2 processes (`run_rank`, started by
torch.multiprocessing on loopback gloo) and compares.
"""

from __future__ import annotations

import copy
import os
from dataclasses import replace

import torch

from core.training import distributed as dd


def _state(**modules) -> dict[str, torch.Tensor]:
    out = {}
    for name, m in modules.items():
        items = m.state_dict().items() if isinstance(m, torch.nn.Module) else [("", m)]
        for k, v in items:
            out[f"{name}.{k}" if k else name] = v.detach().cpu().clone()
    return out


def autoencoder(device: str = "cpu", optimizer: str = "adamw") -> dict:
    """The text's MLP autoencoder with the trainer's AdamW + OneCycle: no BatchNorm, no dropout, so W ranks compute
    one process's update up to float rounding; one batch of 7 splits 4 + 3 (the loss weighting keeps it exact)."""
    from core.models.autoencoder import Autoencoder, AutoencoderConfig
    from core.training.mnist import ae_step

    torch.manual_seed(0)
    model = dd.prepare(Autoencoder(AutoencoderConfig()).to(device))
    net = dd.ddp(model)
    # AdamW (the trainer's) is blind to a gradient's scale; SGD is not, so a wrongly scaled average would show
    opt = (torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0) if optimizer == "adamw"
           else torch.optim.SGD(model.parameters(), lr=2.0, momentum=0.9))
    lr = opt.param_groups[0]["lr"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=10, pct_start=0.05)
    g = torch.Generator().manual_seed(1)
    for n in (8, 8, 7, 6):
        x = torch.rand(n, 1, 28, 28, generator=g) * (torch.rand(n, 1, 28, 28, generator=g) < 0.3)
        ae_step(net, opt, sched, dd.local(x).to(device), n)
    return _state(model=model)


def classifier(dropout: float = 0.0, device: str = "cpu", optimizer: str = "adamw") -> dict:
    """The classifier in training mode: its five BatchNorm layers become SyncBatchNorm (global batch statistics)."""
    from core.models.classifier import Classifier, ClassifierConfig
    from core.training.mnist import ClassifierTrain, classifier_step

    torch.manual_seed(0)
    model = dd.prepare(Classifier(ClassifierConfig(dropout=dropout)).to(device))
    net = dd.ddp(model)
    dd.fork_rng(0)
    tc = ClassifierTrain()
    if optimizer == "adamw":  # the trainer's
        opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr if optimizer == "adamw" else 0.1, total_steps=10,
                                                pct_start=0.2)
    g = torch.Generator().manual_seed(2)
    net.train()
    for n in (8, 8, 6):
        x, y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
        classifier_step(net, opt, sched, dd.local(x).to(device), dd.local(y).to(device), tc, n)
    return _state(model=model)


def gan(d_dropout: float = 0.0) -> dict:
    """The text's GAN: G (BatchNorm -> SyncBatchNorm), D (spectral norm, dropout), the EMA copy, a coach and its
    running class shares, through the trainer's gan_step, then the EMA copy's BatchNorm recalibration."""
    from core.models.classifier import Classifier
    from core.models.gan import Discriminator, GanConfig, Generator
    from core.training.mnist import COACH_CONFIG, GanTrain, gan_step, recalibrate_bn

    config, tc = GanConfig(d_dropout=d_dropout), GanTrain()
    torch.manual_seed(0)
    G, D = Generator(config), Discriminator(config)
    G_ema = copy.deepcopy(G).eval()
    G, D = dd.prepare(G, D)
    dd.broadcast_state(G_ema)
    coach = dd.prepare(Classifier(COACH_CONFIG)).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=tc.lr_g, betas=tc.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=tc.lr_d, betas=tc.betas)
    shares = torch.full((10,), 0.1)
    dd.fork_rng(0)
    gen = torch.Generator().manual_seed(3)
    G.train(), D.train()
    for step, n in enumerate((8, 8, 6)):
        z = dd.local(torch.randn(n, config.z_dim, generator=gen))
        real = dd.local(torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1)
        gan_step(G, D, G_ema, opt_g, opt_d, coach, shares, real, z, tc, step, n)
    recalibrate_bn(G_ema, config.z_dim, gen, "cpu", batches=2, n=16)
    return _state(G=G, D=D, G_ema=G_ema, shares=shares)


def dcgan(d_steps: tuple[int, ...] = (8, 8, 6)) -> dict:
    """The DCGAN: G's BatchNorm -> SyncBatchNorm, D spectrally normalised, the R1 penalty's double backward through
    the trainer's dcgan_step (gradients all-reduced by hand), the EMA copy and its recalibration."""
    from core.models.dcgan import DcganConfig, Discriminator, Generator
    from core.training.dcgan import DcganTrain, dcgan_step
    from core.training.mnist import recalibrate_bn

    config, tc = DcganConfig(), DcganTrain()
    torch.manual_seed(0)
    G, D = Generator(config), Discriminator(config)
    G_ema = copy.deepcopy(G).eval()
    G, D = dd.prepare(G, D)
    dd.broadcast_state(G_ema)
    opt_g = torch.optim.Adam(G.parameters(), lr=tc.lr_g, betas=tc.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=tc.lr_d, betas=tc.betas)
    dd.fork_rng(0)
    gen = torch.Generator().manual_seed(4)
    G.train(), D.train()
    for step, n in enumerate(d_steps):
        z = dd.local(torch.randn(n, config.z_dim, generator=gen))
        real = dd.local(torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1).requires_grad_(True)
        dcgan_step(G, D, G_ema, opt_g, opt_d, real, z, tc, step, n)
    recalibrate_bn(G_ema, config.z_dim, gen, "cpu", batches=2, n=16)
    return _state(G=G, D=D, G_ema=G_ema)


def sequence(kind: str) -> dict:
    """A date model through the trainer's seq_step (DDP, gradients clipped after averaging); each rank pads its own
    rows, and the loss's mean is over the global batch's target tokens."""
    from core.data import dates
    from core.training import sequence as seq

    torch.manual_seed(0)
    model, _ = seq.build_model(kind)
    model = dd.prepare(model)
    net = dd.ddp(model)
    tc = replace(seq.TRAIN_CONFIGS[kind], warmup_steps=2)
    optim = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: min(1.0, (s + 1) / tc.warmup_steps))
    examples = dates.train_examples(22, seed=0, epoch=0)
    net.train()
    for chunk in (examples[:8], examples[8:16], examples[16:]):
        part = dd.local(chunk)
        src, tgt_in, tgt_out = seq.make_batch(part)
        seq.seq_step(net, optim, sched, src, tgt_in, tgt_out, tc, seq.target_tokens(part), seq.target_tokens(chunk))
    return _state(model=model)


SCENARIOS = {
    "autoencoder": autoencoder,
    "classifier": classifier,
    "autoencoder_sgd": lambda: autoencoder(optimizer="sgd"),
    "classifier_sgd": lambda: classifier(optimizer="sgd"),
    "classifier_dropout": lambda: classifier(dropout=0.3),
    "gan": gan,
    "gan_dropout": lambda: gan(d_dropout=0.3),
    "dcgan": dcgan,
    "seq2seq_attention": lambda: sequence("seq2seq_attention"),
    "transformer": lambda: sequence("transformer"),
}


def run_rank(rank: int, world_size: int, port: int, out_dir: str, device: str = "cpu") -> None:
    """One rank (torch.multiprocessing.spawn): join the group as torchrun's workers do, run every scenario, save."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(rank),
                       "LOCAL_WORLD_SIZE": str(world_size), "MASTER_PORT": str(port), "BML_DIST_TIMEOUT_S": "120"})
    os.environ.pop("MASTER_ADDR", None)  # loopback_defaults: 127.0.0.1 and GLOO_SOCKET_IFNAME=lo
    torch.set_num_threads(1)
    dev = torch.device(device)
    w = dd.init(dev)
    results = {"env": {k: os.environ.get(k) for k in ("MASTER_ADDR", "GLOO_SOCKET_IFNAME")}, "backend": w.backend}
    if device == "cpu":
        for name, fn in SCENARIOS.items():
            results[name] = fn()
    else:  # NCCL: DDP's all-reduce and SyncBatchNorm's collectives on the GPU
        results["autoencoder"] = autoencoder(str(dev))
        results["classifier"] = classifier(device=str(dev))
    dd.fork_rng(0)
    results["rng_after_fork"] = torch.rand(4)
    dd.agree("a value every rank shares", {"seed": 0})
    try:
        dd.agree("the seed", {"seed": rank})
        results["agree"] = None
    except dd.DistError as exc:
        results["agree"] = str(exc)
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dd.shutdown()

