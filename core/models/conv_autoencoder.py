"""A small convolutional autoencoder with the same 32-D code as the dense one: what convolutions buy.

BatchNorm after each hidden conv: without it this ReLU stack died in its first epoch (constant output) at lr 2e-3.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class ConvAutoencoderConfig:
    channels: tuple[int, int] = (32, 64)
    latent_dim: int = 32


def conv_bn(c_in: int, c_out: int, k: int, stride: int, transpose: bool = False) -> list[nn.Module]:
    conv = nn.ConvTranspose2d if transpose else nn.Conv2d
    return [conv(c_in, c_out, k, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU()]


class ConvEncoder(nn.Module):
    def __init__(self, config: ConvAutoencoderConfig):
        super().__init__()
        c1, c2 = config.channels
        self.net = nn.Sequential(
            *conv_bn(1, c1, 3, 1),
            *conv_bn(c1, c1, 4, 2),  # (B, c1, 14, 14)
            *conv_bn(c1, c2, 3, 1),
            *conv_bn(c2, c2, 4, 2),  # (B, c2, 7, 7)
            nn.Flatten(), nn.Linear(c2 * 7 * 7, config.latent_dim),  # (B, latent_dim), linear code
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


class ConvDecoder(nn.Module):
    def __init__(self, config: ConvAutoencoderConfig):
        super().__init__()
        c1, c2 = config.channels
        self.fc = nn.Sequential(nn.Linear(config.latent_dim, c2 * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            *conv_bn(c2, c2, 4, 2, transpose=True),  # (B, c2, 14, 14)
            *conv_bn(c2, c1, 3, 1),
            *conv_bn(c1, c1, 4, 2, transpose=True),  # (B, c1, 28, 28)
            nn.Conv2d(c1, 1, 3, padding=1), nn.Sigmoid(),
        )
        self.c2 = c2

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.c2, 7, 7)  # (B, c2, 7, 7)
        return self.net(h)  # (B, 1, 28, 28)


class ConvAutoencoder(nn.Module):
    def __init__(self, config: ConvAutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config)
        self.decoder = ConvDecoder(config)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(image))
