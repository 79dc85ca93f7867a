"""A small CNN digit recogniser: the Classify page's model and the judge of GAN quality (classifier-FID).

forward returns (logits, features); `features` is the penultimate layer, used in place of Inception features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class ClassifierConfig:
    channels: tuple[int, int] = (32, 64)  # filters in the two conv blocks (each block: conv, conv, pool)
    n_features: int = 128  # width of the penultimate layer (the FID features)
    n_classes: int = 10
    dropout: float = 0.3


class Classifier(nn.Module):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.conv = nn.Sequential(
            *block(1, c1), *block(c1, c1), nn.MaxPool2d(2),  # (B, c1, 14, 14)
            *block(c1, c2), *block(c2, c2), nn.MaxPool2d(2),  # (B, c2, 7, 7)
        )
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Dropout(config.dropout),
            nn.Linear(c2 * 7 * 7, config.n_features, bias=False), nn.BatchNorm1d(config.n_features), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.n_features, config.n_classes))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # image: (B, 1, 28, 28) in [0, 1], ink = 1
        features = self.fc(self.conv(image))  # (B, n_features)
        logits = self.head(features)  # (B, n_classes)
        return logits, features
