"""The dense autoencoder with a 2-D latent, for the latent-space map.

Two numbers cannot hold much of a digit, so the hidden layers are wider than the text's 64 (recorded in the card)
and the code is linear (a ReLU would fold the map into one quadrant).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from core.models.autoencoder import Autoencoder, AutoencoderConfig


@dataclass(frozen=True)
class Autoencoder2DConfig(AutoencoderConfig):
    hidden: tuple[int, ...] = (512, 128)
    latent_dim: int = 2
    latent_relu: bool = False


class Autoencoder2D(Autoencoder):
    def __init__(self, config: Autoencoder2DConfig):
        super().__init__(config)
