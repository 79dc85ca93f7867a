"""The source text's dense autoencoder, corrected: images flattened to 784 values in [0, 1], 784->64->32 encoder,
32->64->784 decoder ending in a sigmoid, MSE loss.

Difference from the text: its Keras code fed (28, 28, 1) tensors to Dense layers and pixels in 0-255 to a sigmoid
decoder; here the image is flattened and scaled. The latent keeps the text's ReLU unless `latent_relu=False`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class AutoencoderConfig:
    n_pixels: int = 784
    hidden: tuple[int, ...] = (64,)  # encoder widths between the pixels and z (the decoder mirrors them)
    latent_dim: int = 32
    latent_relu: bool = True  # the text's Dense(32, activation='relu') bottleneck


def mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return layers


class Encoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        sizes = [config.n_pixels, *config.hidden, config.latent_dim]
        layers = mlp(sizes)
        if not config.latent_relu:
            layers = layers[:-1]  # linear code: no dead units in z
        self.net = nn.Sequential(nn.Flatten(), *layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)  # (B, 1, 28, 28) -> (B, latent_dim)


class Decoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        sizes = [config.latent_dim, *reversed(config.hidden)]
        self.net = nn.Sequential(*mlp(sizes), nn.Linear(sizes[-1], config.n_pixels), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)  # (B, latent_dim) -> (B, 1, 28, 28)


class Autoencoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(image))
