"""The DCGAN and the FID feature extractor: built from their configs alone, shapes, sizes, losses that move on a
tiny batch, spectral-norm folding, the timeline's epochs. Fast (no data)."""

from dataclasses import FrozenInstanceError

import pytest
import torch
import torch.nn.functional as F

from core.models.dcgan import DcganConfig, Discriminator, DiscriminatorUnit, Generator, GeneratorUnit
from core.models.fid_features import FidFeatures, FidFeaturesConfig
from core.training.dcgan import timeline_epochs


def digits(n=16, seed=0):
    """Blobby stroke-like images in [0, 1] (B, 1, 28, 28): enough structure for a loss to fall."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 7, 7, generator=g) > 0.6).float()
    return F.interpolate(x, size=28, mode="bilinear", align_corners=False).clamp(0, 1)


def fit(params, loss_fn, steps=20, lr=1e-3):
    opt = torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_generator_is_all_convolutional_and_small():
    cfg = DcganConfig()
    G = Generator(cfg)
    kinds = {type(m) for m in G.modules()}
    assert torch.nn.Linear not in kinds and torch.nn.ConvTranspose2d in kinds and torch.nn.BatchNorm2d in kinds
    ups = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in ups] == [4 * cfg.ngf, 2 * cfg.ngf, cfg.ngf, 1]
    n = sum(p.numel() for p in G.parameters())
    assert n * 4 < 2e6, n  # the exported G stays under ~2 MB of float32 weights
    with pytest.raises(FrozenInstanceError):
        cfg.ngf = 64


def test_shapes_ranges_and_exported_wrappers():
    torch.manual_seed(0)
    cfg = DcganConfig()
    G, D = Generator(cfg), Discriminator(cfg)
    z = torch.randn(8, cfg.z_dim)
    # every stage of G: 1 -> 4 -> 7 -> 14 -> 28 pixels
    h, sizes = z.view(8, -1, 1, 1), []
    for m in G.net:
        h = m(h)
        if isinstance(m, torch.nn.ConvTranspose2d):
            sizes.append(h.shape[-1])
    assert sizes == [4, 7, 14, 28]
    img = G(z)
    assert img.shape == (8, 1, 28, 28) and img.min() >= -1 and img.max() <= 1
    assert D(img).shape == (8, 1)
    G.eval(), D.eval()
    out = GeneratorUnit(G)(z)
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out, (G(z) + 1) / 2)
    torch.testing.assert_close(DiscriminatorUnit(D)(out), D(G(z)), atol=1e-5, rtol=1e-4)
    # D judges each image alone: its verdict does not depend on the rest of the batch
    torch.testing.assert_close(D(img[:3]), D(img)[:3], atol=1e-6, rtol=1e-5)


def test_spectral_norm_folds_without_changing_d():
    torch.manual_seed(0)
    D = Discriminator(DcganConfig())
    D.train()
    for _ in range(3):
        D(torch.rand(4, 1, 28, 28) * 2 - 1)
    D.eval()
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        before = D(x)
        after = D.fold_spectral_norm()(x)
    torch.testing.assert_close(after, before)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in D.modules())


def test_losses_move_on_a_tiny_batch():
    torch.manual_seed(0)
    cfg = DcganConfig(ngf=16, ndf=16)
    G, D = Generator(cfg), Discriminator(cfg)
    real = digits(32) * 2 - 1
    z = torch.randn(32, cfg.z_dim)
    d_losses = fit(D.parameters(), lambda: F.binary_cross_entropy_with_logits(D(real), torch.ones(32, 1))
                   + F.binary_cross_entropy_with_logits(D(G(z).detach()), torch.zeros(32, 1)), steps=30, lr=2e-3)
    assert d_losses[-1] < 0.5 * d_losses[0], d_losses[::5]
    D.eval()
    g_losses = fit(G.parameters(), lambda: F.binary_cross_entropy_with_logits(D(G(z)), torch.ones(32, 1)), lr=2e-3)
    assert g_losses[-1] < 0.5 * g_losses[0], g_losses[::5]


def test_fid_features_outputs_and_calibration():
    torch.manual_seed(0)
    cfg = FidFeaturesConfig()
    net = FidFeatures(cfg)
    x = digits(40)
    net.calibrate(x)
    logits, feats, strokes = net.eval()(x)
    assert logits.shape == (40, 10) and feats.shape == (40, cfg.n_features) and strokes.shape == (40, cfg.channels[0])
    # calibrated on these images: each stroke statistic has mean 0 and unit spread over them
    torch.testing.assert_close(strokes.mean(0), torch.zeros(cfg.channels[0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(strokes.std(0), torch.ones(cfg.channels[0]), atol=1e-3, rtol=0)
    net.train()
    y = torch.arange(40) % 10
    losses = fit(net.parameters(), lambda: F.cross_entropy(net(x)[0], y), steps=30, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]


def test_timeline_epochs():
    assert timeline_epochs(5, 12) == [1, 2, 3, 4, 5]
    e = timeline_epochs(30, 12)
    assert e[0] == 1 and e[-1] == 30 and len(e) <= 12 and e == sorted(set(e))
    assert e[1] - e[0] <= e[-1] - e[-2]  # denser early
