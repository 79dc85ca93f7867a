"""Encoder–decoder Transformer (Vaswani et al. 2017) for character-level date normalisation.

Annotated-transformer style, pre-norm (LayerNorm before each sublayer, as in harvardnlp's code), with a
hand-written multi-head attention that returns its weights so every layer's and head's map can be exported.
Three entry points share the same weights:
- ``forward(src, tgt_in)``: teacher-forced training, the whole target at once under a causal mask;
- ``Encoder`` graph: ``encode(src) -> memory, enc_self_attn``;
- ``DecoderStep`` graph: one new target position against a key/value cache of the previous positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NEG = -1e9  # masked scores; exp underflows to exactly 0 after the max is subtracted


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int = 71
    pad_id: int = 0
    d_model: int = 64
    n_head: int = 4
    n_enc_layer: int = 2
    n_dec_layer: int = 2
    d_ff: int = 256
    dropout: float = 0.0  # fresh examples every epoch: no overfitting to fight
    max_len: int = 64  # positional-encoding table; covers the source and target limits


def positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """Sinusoidal table (max_len, d_model)."""
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class MultiHeadAttention(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        assert cfg.d_model % cfg.n_head == 0
        self.n_head, self.d_k = cfg.n_head, cfg.d_model // cfg.n_head
        self.w_q = nn.Linear(cfg.d_model, cfg.d_model)
        self.w_k = nn.Linear(cfg.d_model, cfg.d_model)
        self.w_v = nn.Linear(cfg.d_model, cfg.d_model)
        self.w_o = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.d_k).transpose(1, 2)  # (B, H, T, d_k)

    def attend(self, q, k, v, mask):
        """q (B,H,Tq,d_k), k/v (B,H,Tk,d_k), mask broadcastable to (B,H,Tq,Tk), True = may attend."""
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (B, H, Tq, Tk)
        if mask is not None:
            scores = scores.masked_fill(~mask, NEG)
        attn = scores.softmax(dim=-1)
        out = self.dropout(attn) @ v  # (B, H, Tq, d_k)
        B, H, Tq, _ = out.shape
        return self.w_o(out.transpose(1, 2).reshape(B, Tq, H * self.d_k)), attn

    def forward(self, x_q, x_kv, mask):
        return self.attend(self.split(self.w_q(x_q)), self.split(self.w_k(x_kv)), self.split(self.w_v(x_kv)), mask)


class FeedForward(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.w_1 = nn.Linear(cfg.d_model, cfg.d_ff)
        self.w_2 = nn.Linear(cfg.d_ff, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.w_2(self.dropout(F.relu(self.w_1(x))))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln_1, self.self_attn = nn.LayerNorm(cfg.d_model), MultiHeadAttention(cfg)
        self.ln_2, self.ff = nn.LayerNorm(cfg.d_model), FeedForward(cfg)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, src_mask):
        h = self.ln_1(x)
        a, attn = self.self_attn(h, h, src_mask)
        x = x + self.dropout(a)
        x = x + self.dropout(self.ff(self.ln_2(x)))
        return x, attn


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln_1, self.self_attn = nn.LayerNorm(cfg.d_model), MultiHeadAttention(cfg)
        self.ln_2, self.cross_attn = nn.LayerNorm(cfg.d_model), MultiHeadAttention(cfg)
        self.ln_3, self.ff = nn.LayerNorm(cfg.d_model), FeedForward(cfg)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, memory, src_mask, tgt_mask):
        h = self.ln_1(x)
        a, self_attn = self.self_attn(h, h, tgt_mask)
        x = x + self.dropout(a)
        a, cross_attn = self.cross_attn(self.ln_2(x), memory, src_mask)
        x = x + self.dropout(a)
        x = x + self.dropout(self.ff(self.ln_3(x)))
        return x, self_attn, cross_attn

    def step(self, x, k_cache, v_cache, memory, src_mask):
        """One new position x (B,1,D) against cached self-attention keys/values (B,H,T,d_k) of the prefix."""
        sa = self.self_attn
        h = self.ln_1(x)
        k = torch.cat([k_cache, sa.split(sa.w_k(h))], dim=2)  # (B, H, T+1, d_k)
        v = torch.cat([v_cache, sa.split(sa.w_v(h))], dim=2)
        a, self_attn = sa.attend(sa.split(sa.w_q(h)), k, v, None)  # the new position may see all of the prefix
        x = x + a
        a, cross_attn = self.cross_attn(self.ln_2(x), memory, src_mask)
        x = x + a
        x = x + self.ff(self.ln_3(x))
        return x, k, v, self_attn, cross_attn


class Transformer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.tgt_embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.register_buffer("pe", positional_encoding(cfg.max_len, cfg.d_model), persistent=False)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_enc_layer))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_dec_layer))
        self.ln_enc, self.ln_dec = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.generator = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.dropout = nn.Dropout(cfg.dropout)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def src_mask(self, src):
        return (src != self.cfg.pad_id)[:, None, None, :]  # (B, 1, 1, S)

    def embed(self, table, ids, offset: int | torch.Tensor = 0):
        T = ids.shape[1]
        return self.dropout(table(ids) * math.sqrt(self.cfg.d_model) + self.pe[offset:offset + T])  # (B, T, D)

    def encode(self, src):
        """src (B,S) -> memory (B,S,D), enc_self_attn (L,B,H,S,S)."""
        mask = self.src_mask(src)
        x = self.embed(self.src_embed, src)
        maps = []
        for layer in self.encoder:
            x, attn = layer(x, mask)
            maps.append(attn)
        return self.ln_enc(x), torch.stack(maps)

    def decode(self, memory, src, tgt_in):
        """Teacher-forced: tgt_in (B,T) -> logits (B,T,V), dec_self (L,B,H,T,T), cross (L,B,H,T,S)."""
        T = tgt_in.shape[1]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=tgt_in.device))[None, None]  # (1,1,T,T)
        x = self.embed(self.tgt_embed, tgt_in)
        selfs, crosses = [], []
        for layer in self.decoder:
            x, s, c = layer(x, memory, self.src_mask(src), causal)
            selfs.append(s)
            crosses.append(c)
        return self.generator(self.ln_dec(x)), torch.stack(selfs), torch.stack(crosses)

    def forward(self, src, tgt_in):
        memory, _ = self.encode(src)
        return self.decode(memory, src, tgt_in)[0]  # (B, T, V)

    def step(self, token, memory, src_mask, cache):
        """token (B,), memory (B,S,D), src_mask (B,S) bool, cache (L,2,B,H,T,d_k) of the T previous positions.

        Returns logits (B,V), new cache (L,2,B,H,T+1,d_k), dec_self (L,B,H,T+1), cross (L,B,H,S).
        """
        T = cache.shape[4]
        x = self.tgt_embed(token[:, None]) * math.sqrt(self.cfg.d_model) + self.pe[T:T + 1]  # (B, 1, D)
        mask = src_mask[:, None, None, :]  # (B, 1, 1, S)
        ks, vs, selfs, crosses = [], [], [], []
        for l, layer in enumerate(self.decoder):
            x, k, v, s, c = layer.step(x, cache[l, 0], cache[l, 1], memory, mask)
            ks.append(k)
            vs.append(v)
            selfs.append(s[:, :, 0])  # (B, H, T+1)
            crosses.append(c[:, :, 0])  # (B, H, S)
        new_cache = torch.stack([torch.stack([k, v]) for k, v in zip(ks, vs)])  # (L, 2, B, H, T+1, d_k)
        logits = self.generator(self.ln_dec(x))[:, 0]  # (B, V)
        return logits, new_cache, torch.stack(selfs), torch.stack(crosses)

    def empty_cache(self, batch: int) -> torch.Tensor:
        c = self.cfg
        return torch.zeros(c.n_dec_layer, 2, batch, c.n_head, 0, c.d_model // c.n_head)


class Encoder(nn.Module):
    """The exported encoder graph: src (B,S) int64 -> memory (B,S,D), enc_self_attn (L,B,H,S,S)."""

    def __init__(self, model: Transformer):
        super().__init__()
        self.model = model

    def forward(self, src):
        return self.model.encode(src)


class DecoderStep(nn.Module):
    """The exported decoder-step graph (see Transformer.step)."""

    def __init__(self, model: Transformer):
        super().__init__()
        self.model = model

    def forward(self, token, memory, src_mask, cache):
        return self.model.step(token, memory, src_mask, cache)
