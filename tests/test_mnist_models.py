"""Each MNIST model: built from its config alone, output shapes, a loss that falls on a tiny batch; the runtime
helpers (numpy only) that training, tests and the dashboard share."""

import subprocess
import sys
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.models.autoencoder import Autoencoder, AutoencoderConfig
from core.models.autoencoder_2d import Autoencoder2D, Autoencoder2DConfig
from core.models.classifier import Classifier, ClassifierConfig
from core.models.conv_autoencoder import ConvAutoencoder, ConvAutoencoderConfig
from core.models.gan import Discriminator, DiscriminatorUnit, GanConfig, Generator, GeneratorUnit
from core.runtime import mnist as rt


def digits(n=16, seed=0):
    """Blobby stroke-like images in [0, 1] (B, 1, 28, 28): enough structure for a loss to fall."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 7, 7, generator=g) > 0.6).float()
    return F.interpolate(x, size=28, mode="bilinear", align_corners=False).clamp(0, 1)


def fit(model, loss_fn, steps=30, lr=3e-3):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("cls, config, k", [
    (Autoencoder, AutoencoderConfig(), 32),
    (Autoencoder, AutoencoderConfig(latent_relu=False), 32),
    (Autoencoder2D, Autoencoder2DConfig(), 2),
    (ConvAutoencoder, ConvAutoencoderConfig(), 32),
])
def test_autoencoders_shapes_range_and_falling_loss(cls, config, k):
    torch.manual_seed(0)
    model = cls(config)
    x = digits()
    z = model.encoder(x)
    assert z.shape == (16, k)
    y = model.decoder(z)
    assert y.shape == (16, 1, 28, 28) and 0 <= y.min() and y.max() <= 1  # sigmoid output, like the pixels
    losses = fit(model, lambda: F.mse_loss(model(x), x))
    assert losses[-1] < 0.7 * losses[0], losses[::5]


def test_text_autoencoder_is_784_64_32():
    model = Autoencoder(AutoencoderConfig())
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 64), (64, 32), (32, 64), (64, 784)]
    with pytest.raises(FrozenInstanceError):
        AutoencoderConfig().latent_dim = 3


def test_classifier_returns_logits_and_features_and_learns():
    torch.manual_seed(0)
    cfg = ClassifierConfig()
    model = Classifier(cfg)
    x, y = digits(20), torch.arange(20) % 10
    logits, feats = model(x)
    assert logits.shape == (20, 10) and feats.shape == (20, cfg.n_features)
    losses = fit(model, lambda: F.cross_entropy(model(x)[0], y))
    assert losses[-1] < 0.5 * losses[0]


def test_gan_shapes_and_the_text_architecture():
    cfg = GanConfig()
    G, D = Generator(cfg), Discriminator(cfg)
    widths = [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [256, 512, 1024, 784]
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.stride) for c in convs] == [(64, (2, 2)), (128, (2, 2))]
    z = torch.randn(8, cfg.z_dim)
    img = G(z)
    assert img.shape == (8, 1, 28, 28) and img.min() >= -1 and img.max() <= 1
    assert D(img).shape == (8, 1)
    G.eval(), D.eval()
    img, out = G(z), GeneratorUnit(G)(z)
    assert out.min() >= 0 and out.max() <= 1  # exported form: [0, 1]
    torch.testing.assert_close(out, (img + 1) / 2)
    torch.testing.assert_close(DiscriminatorUnit(D)(out), D(img), atol=1e-5, rtol=1e-4)  # exported D sees [0, 1], maps back


def test_spectral_norm_folds_into_plain_weights_without_changing_d():
    torch.manual_seed(0)
    D = Discriminator(GanConfig(d_spectral_norm=True))
    D.train()
    for _ in range(3):  # a few power iterations, as training runs them
        D(torch.rand(4, 1, 28, 28))
    D.eval()
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        before = D(x)
        after = D.fold_spectral_norm()(x)
    torch.testing.assert_close(after, before)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in D.modules())
    # the normalised layers really have spectral norm ~1
    w = D.net[3].weight.flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.15)


def test_gan_losses_move_on_a_tiny_batch():
    torch.manual_seed(0)
    cfg = GanConfig()
    G, D = Generator(cfg), Discriminator(cfg)
    real = digits(32) * 2 - 1
    z = torch.randn(32, cfg.z_dim)
    # D alone learns to tell these reals from G's current fakes
    d_losses = fit(D, lambda: F.binary_cross_entropy_with_logits(D(real), torch.ones(32, 1))
                   + F.binary_cross_entropy_with_logits(D(G(z).detach()), torch.zeros(32, 1)), steps=20, lr=1e-3)
    assert d_losses[-1] < 0.5 * d_losses[0]
    # then G alone (non-saturating loss) learns to fool that D
    D.eval()
    g_losses = fit(G, lambda: F.binary_cross_entropy_with_logits(D(G(z)), torch.ones(32, 1)), steps=20, lr=1e-3)
    assert g_losses[-1] < 0.5 * g_losses[0]


def test_shift_augmentation_moves_whole_pixels():
    from core.training.mnist import shift

    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:13, 10:13] = torch.rand(64, 1, 3, 3) + 0.1
    y = shift(x, torch.Generator().manual_seed(0), 2)
    torch.testing.assert_close(y.sum((1, 2, 3)), x.sum((1, 2, 3)))  # no interpolation: ink preserved exactly
    assert set(torch.unique(y).tolist()) <= set(torch.unique(x).tolist())
    assert (y != x).any()


# ------------------------------------------------------------------------------------------ runtime helpers


def test_runtime_mnist_imports_no_torch():
    code = ("import sys, core.runtime.mnist, core.data.mnist; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('streamlit')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(rt.EXPORTED.parent))


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * np.array([1.0, 2.0, 3.0]) + np.array([1.0, 0.0, 0.0])
    # diagonal covariances: ||mu||^2 + sum (s_a - s_b)^2 over standard deviations = 1 + 0 + 1 + 4 = 6
    assert rt.frechet_distance(a, b) == pytest.approx(6.0, rel=0.03)
    assert abs(rt.frechet_distance(a, a)) < 1e-6
    # invariant to a rotation applied to both sets (it uses full covariances, not just diagonals)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    assert rt.frechet_distance(a @ q, b @ q) == pytest.approx(rt.frechet_distance(a, b), rel=1e-6)


def test_small_helpers():
    u8 = np.zeros((2, 28, 28), np.uint8)
    u8[0, 0, 0] = 255
    x = rt.to_model_input(u8)
    assert x.shape == (2, 1, 28, 28) and x.dtype == np.float32 and x.max() == 1.0
    np.testing.assert_array_equal(rt.to_uint8(x), u8)
    with pytest.raises(rt.UserError):
        rt.to_model_input(np.zeros((2, 27, 28), np.uint8))
    z0, z1 = np.zeros(4, np.float32), np.ones(4, np.float32)
    path = rt.interpolate(z0, z1, 5)
    assert path.shape == (5, 4) and path[0].sum() == 0 and path[-1].sum() == 4 and path[2, 0] == 0.5
    np.testing.assert_array_equal(rt.gan_noise(7, 3), rt.gan_noise(7, 3))
    assert rt.gan_noise(7, 3).shape == (3, 100) and rt.gan_noise(7, 3).dtype == np.float32
    assert not np.array_equal(rt.gan_noise(7, 3), rt.gan_noise(8, 3))
    # softmax top-1 >= 0.9: [10, 0, 0] is 0.9999 sure, [1, 1, 1] a third, [2, 0, 0] 0.79; huge logits stay finite
    logits = np.array([[10.0, 0, 0], [1, 1, 1], [2, 0, 0], [1000, -1000, 0]])
    assert rt.confident_fraction(logits) == 0.5
    assert rt.confident_fraction(logits, threshold=0.75) == 0.75
    np.testing.assert_allclose(rt.class_histogram(np.array([0, 0, 3, 9])), [.5, 0, 0, .25, 0, 0, 0, 0, 0, .25])
    img = np.zeros((1, 1, 28, 28), np.float32)
    img[0, 0, 5, 5] = 9.0
    b = rt.blur3(img)
    assert b.sum() == pytest.approx(9.0) and b[0, 0, 4:7, 4:7].min() == pytest.approx(1.0)


def test_pca_reconstruction_improves_with_components():
    rng = np.random.default_rng(0)
    x = rng.random((200, 1, 28, 28)).astype(np.float32) * (rng.random((200, 1, 28, 28)) < 0.2)
    pca = rt.fit_pca(x, 32)
    assert pca["components"].shape == (32, 784)
    np.testing.assert_allclose(pca["components"] @ pca["components"].T, np.eye(32), atol=1e-4)
    errs = [rt.mse_per_image(x, rt.pca_reconstruct(pca, x, k)).mean() for k in (2, 8, 32)]
    assert errs[0] > errs[1] > errs[2]


def test_class_balance_loss_pushes_samples_out_of_over_produced_classes():
    from core.training.mnist import class_balance_loss

    logits = torch.zeros(16, 10, requires_grad=True)
    uniform = torch.full((10,), 0.1)
    class_balance_loss(F.softmax(logits, 1), uniform).backward()
    assert logits.grad.abs().max() < 1e-7  # a balanced mix: nothing to push
    logits.grad = None
    shares = torch.tensor([0.3, 0.02] + [0.085] * 8)  # class 0 over-produced, class 1 starved
    class_balance_loss(F.softmax(logits, 1), shares).backward()
    step = -logits.grad  # gradient descent's direction
    assert (step[:, 0] < 0).all() and (step[:, 1] > 0).all()
    # descending it really moves the batch's mix towards class 1 and away from class 0
    moved = F.softmax(logits.detach() + 100 * step, 1).mean(0)
    assert moved[0] < 0.1 < moved[1]
