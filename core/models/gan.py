"""The source text's GAN: a dense generator 100->256->512->1024->784 and a conv discriminator (64 and 128 filters,
stride 2, LeakyReLU 0.2, dropout 0.3), trained with alternating steps and the non-saturating loss.

Differences from the text (also in the model card): G ends in tanh (images in [-1, 1] while training) instead of a
sigmoid; G's hidden layers use BatchNorm and LeakyReLU(0.2) instead of plain ReLU; D outputs a logit (the sigmoid
lives in the loss, BCEWithLogits, for numerical stability); D's layers are spectrally normalised (without it G
collapsed to three or four shapes within ten epochs). How it is trained (two time-scale learning rates, an
averaged G, a coach classifier's class-balance and confidence terms) is in core/training/mnist.py. The exported
graphs map tanh to [0, 1] and back, so outside this file every image is in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class GanConfig:
    z_dim: int = 100
    g_hidden: tuple[int, ...] = (256, 512, 1024)
    g_batchnorm: bool = True
    d_channels: tuple[int, int] = (64, 128)
    d_dropout: float = 0.3
    d_spectral_norm: bool = True  # spectral normalisation of D's layers (Miyato et al. 2018)
    slope: float = 0.2  # LeakyReLU negative slope


class Generator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        sizes = [config.z_dim, *config.g_hidden]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b, bias=not config.g_batchnorm)]
            if config.g_batchnorm:
                layers += [nn.BatchNorm1d(b)]
            layers += [nn.LeakyReLU(config.slope)]
        layers += [nn.Linear(sizes[-1], 784), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)  # (B, z_dim) -> (B, 1, 28, 28) in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        c1, c2 = config.d_channels
        sn = nn.utils.parametrizations.spectral_norm if config.d_spectral_norm else (lambda m: m)
        self.net = nn.Sequential(
            sn(nn.Conv2d(1, c1, 3, stride=2, padding=1)), nn.LeakyReLU(config.slope), nn.Dropout(config.d_dropout),  # (B, c1, 14, 14)
            sn(nn.Conv2d(c1, c2, 3, stride=2, padding=1)), nn.LeakyReLU(config.slope), nn.Dropout(config.d_dropout),  # (B, c2, 7, 7)
            nn.Flatten(), sn(nn.Linear(c2 * 7 * 7, 1)),
        )

    def fold_spectral_norm(self) -> "Discriminator":
        """Bake W / sigma(W) into plain weights (for export); the function is unchanged in eval mode."""
        for m in self.net:
            if nn.utils.parametrize.is_parametrized(m, "weight"):
                nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        return self

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)  # (B, 1, 28, 28) in [-1, 1] -> (B, 1) logit


class GeneratorUnit(nn.Module):
    """Exported form of G: z -> image in [0, 1]."""

    def __init__(self, g: Generator):
        super().__init__()
        self.g = g

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return ((self.g(z) + 1) * 0.5).clamp(0.0, 1.0)  # clamp: float rounding of tanh + 1 can dip below 0


class DiscriminatorUnit(nn.Module):
    """Exported form of D: image in [0, 1] -> logit."""

    def __init__(self, d: Discriminator):
        super().__init__()
        self.d = d

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.d(image * 2 - 1)
