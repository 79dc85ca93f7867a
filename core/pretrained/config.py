"""The pretrained model's shape, as a frozen dataclass read from its own config.json (no torch)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MiniLMConfig:
    """BERT names (Devlin et al. 2019); the values are all-MiniLM-L6-v2's."""

    vocab_size: int = 30522
    d_model: int = 384            # hidden_size
    n_layers: int = 6             # num_hidden_layers
    n_heads: int = 12             # num_attention_heads
    d_ff: int = 1536              # intermediate_size
    max_positions: int = 512      # max_position_embeddings: the graph's hard limit
    max_tokens: int = 256         # sentence-transformers' max_seq_length: what the model was trained on
    layer_norm_eps: float = 1e-12

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @classmethod
    def from_json(cls, path: str | os.PathLike, max_tokens: int = 256) -> "MiniLMConfig":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        cfg = cls(
            vocab_size=int(raw["vocab_size"]), d_model=int(raw["hidden_size"]),
            n_layers=int(raw["num_hidden_layers"]), n_heads=int(raw["num_attention_heads"]),
            d_ff=int(raw["intermediate_size"]), max_positions=int(raw["max_position_embeddings"]),
            max_tokens=min(int(max_tokens), int(raw["max_position_embeddings"])),
            layer_norm_eps=float(raw["layer_norm_eps"]),
        )
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"{path}: hidden_size {cfg.d_model} is not a multiple of {cfg.n_heads} heads")
        return cfg
