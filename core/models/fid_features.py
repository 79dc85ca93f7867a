"""The feature extractor behind the GANs' FID, KID and precision/recall (`fid_features.onnx`), in place of Inception.

A small CNN digit classifier, trained on the training split with NO augmentation, so nothing teaches it to ignore
how a stroke looks (the judge, classifier.onnx, is trained with shifts; an earlier judge trained with bilinear
rotations learned to ignore blur). It is a measuring instrument only: no generator ever sees it in training.

forward returns (logits, features, strokes):
- features: the penultimate layer (as Inception's pool3 is for FID): what a digit is and how it is drawn.
- strokes: the spatial mean of each first-block feature map (edge and stroke detectors at full resolution),
  standardised on the training split: how sharp, thick and clean the strokes are, whatever the digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class FidFeaturesConfig:
    channels: tuple[int, int] = (32, 64)  # filters in the two conv blocks (each: conv, conv; then a max-pool)
    n_features: int = 128  # width of the penultimate layer (the FID features)
    n_classes: int = 10
    dropout: float = 0.3


class FidFeatures(nn.Module):
    def __init__(self, config: FidFeaturesConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.block1 = nn.Sequential(*block(1, c1), *block(c1, c1))  # (B, c1, 28, 28)
        self.block2 = nn.Sequential(nn.MaxPool2d(2), *block(c1, c2), *block(c2, c2), nn.MaxPool2d(2))  # (B, c2, 7, 7)
        self.fc = nn.Sequential(
            nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(config.dropout),  # (B, c2 * 3 * 3)
            nn.Linear(c2 * 9, config.n_features, bias=False), nn.BatchNorm1d(config.n_features), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.n_features, config.n_classes))
        # standardisation of `strokes`, set by calibrate() on the training split after training
        self.register_buffer("stroke_mean", torch.zeros(c1))
        self.register_buffer("stroke_std", torch.ones(c1))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # image: (B, 1, 28, 28) in [0, 1], ink = 1
        h1 = self.block1(image)  # (B, c1, 28, 28)
        features = self.fc(self.block2(h1))  # (B, n_features)
        logits = self.head(features)  # (B, n_classes)
        strokes = (h1.mean((2, 3)) - self.stroke_mean) / self.stroke_std  # (B, c1)
        return logits, features, strokes

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, batch: int = 1000) -> None:
        """Set the strokes' standardisation from images x (B, 1, 28, 28) (eval mode; the training split)."""
        self.eval()
        means = torch.cat([self.block1(x[i:i + batch]).mean((2, 3)) for i in range(0, len(x), batch)])
        self.stroke_mean.copy_(means.mean(0))
        self.stroke_std.copy_(means.std(0).clamp_min(1e-6))
