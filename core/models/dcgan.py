"""A DCGAN (Radford, Metz and Chintala 2016) for 28x28 digits, beside the text's dense GAN (core/models/gan.py).

Generator: z is treated as a 1x1 image with z_dim channels and grown by strided transposed convolutions,
4 -> 7 -> 14 -> 28 pixels, halving the feature maps at each step; BatchNorm + ReLU after every hidden layer, tanh
at the output, no pooling and no dense layers (the paper's "all-convolutional" guidelines). The text's G instead
maps z through dense layers to 784 independent pixels: it has to learn from scratch that neighbouring pixels belong
to one stroke, which a transposed convolution gets for free (weights shared across positions, local support).

Discriminator: strided convolutions 28 -> 14 -> 7 -> 4 and a 4x4 convolution to one logit, LeakyReLU(0.2), no
pooling (the paper's D). Spectral normalisation (Miyato et al. 2018) stands in for the paper's BatchNorm in D, so
D judges every image on its own: the exported D gives an image the same verdict whatever else is in the batch (a
BatchNorm D trained on all-real and all-fake batches does not). What keeps G from collapsing then is the trainer's
R1 penalty (core/training/dcgan.py).

The exported graphs map tanh to [0, 1] and back (GeneratorUnit and DiscriminatorUnit, shared with core/models/gan.py), so outside this file every image is in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.models.gan import DiscriminatorUnit, GeneratorUnit  # the same [0, 1] wrappers as the text's GAN

__all__ = ["DcganConfig", "Discriminator", "DiscriminatorUnit", "Generator", "GeneratorUnit"]


@dataclass(frozen=True)
class DcganConfig:
    z_dim: int = 100  # the text's GAN's noise size: one seed gives both generators the same z
    ngf: int = 32  # G's feature maps at 14x14; 2*ngf at 7x7, 4*ngf at 4x4 (the paper's ngf)
    ndf: int = 32  # D's feature maps at 14x14; 2*ndf at 7x7, 4*ndf at 4x4 (the paper's ndf)
    slope: float = 0.2  # D's LeakyReLU negative slope (the paper's 0.2)
    d_spectral_norm: bool = True


class Generator(nn.Module):
    def __init__(self, config: DcganConfig):
        super().__init__()
        self.config = config
        c, nz = config.ngf, config.z_dim

        def up(c_in, c_out, k, s, p):  # no bias: BatchNorm's shift takes its place
            return [nn.ConvTranspose2d(c_in, c_out, k, s, p, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.net = nn.Sequential(
            *up(nz, 4 * c, 4, 1, 0),  # (B, nz, 1, 1) -> (B, 4c, 4, 4): the projection of z
            *up(4 * c, 2 * c, 3, 2, 1),  # -> (B, 2c, 7, 7)
            *up(2 * c, c, 4, 2, 1),  # -> (B, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Tanh(),  # -> (B, 1, 28, 28) in [-1, 1]
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # the paper's initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02)
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))  # (B, z_dim) -> (B, 1, 28, 28) in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, config: DcganConfig):
        super().__init__()
        self.config = config
        c = config.ndf
        sn = nn.utils.parametrizations.spectral_norm if config.d_spectral_norm else (lambda m: m)
        act = lambda: nn.LeakyReLU(config.slope)  # noqa: E731
        self.net = nn.Sequential(
            sn(nn.Conv2d(1, c, 4, 2, 1)), act(),  # (B, 1, 28, 28) -> (B, c, 14, 14)
            sn(nn.Conv2d(c, 2 * c, 4, 2, 1)), act(),  # -> (B, 2c, 7, 7)
            sn(nn.Conv2d(2 * c, 4 * c, 3, 2, 1)), act(),  # -> (B, 4c, 4, 4)
            sn(nn.Conv2d(4 * c, 1, 4, 1, 0)), nn.Flatten(),  # -> (B, 1) logit
        )

    def fold_spectral_norm(self) -> "Discriminator":
        """Bake W / sigma(W) into plain weights (for export); the function is unchanged in eval mode."""
        for m in self.net:
            if nn.utils.parametrize.is_parametrized(m, "weight"):
                nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        return self

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)  # (B, 1, 28, 28) in [-1, 1] -> (B, 1) logit, real > 0
