"""GRU encoder–decoder with additive attention (Bahdanau et al. 2015) for character-level date normalisation.

Encoder: a bidirectional GRU over the source characters. The backward direction reads each sequence reversed
*within its own length* (a per-row gather), so padding never enters either direction and a sentence decodes the
same alone or in a batch. Decoder: at each step the previous state s scores every source position with
score(s, h_j) = vᵀ tanh(W_s s + W_h h_j); a softmax over the real (unpadded) positions gives the attention α,
the context c = Σ_j α_j h_j is fed with the previous character's embedding into a GRU cell, and the output layer
reads [new state; context; embedding].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

NEG = -1e9  # masked scores; exp underflows to exactly 0 after the max is subtracted


@dataclass(frozen=True)
class Seq2SeqConfig:
    vocab_size: int = 71
    pad_id: int = 0
    d_emb: int = 32
    d_enc: int = 64  # per direction; encoder states are 2 * d_enc wide
    d_dec: int = 128
    d_attn: int = 64
    dropout: float = 0.0  # fresh examples every epoch: no overfitting to fight


class AdditiveAttention(nn.Module):
    """α = softmax_j(vᵀ tanh(W_s s + W_h h_j)) over the unmasked source positions."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.W_s = nn.Linear(cfg.d_dec, cfg.d_attn, bias=False)
        self.W_h = nn.Linear(2 * cfg.d_enc, cfg.d_attn, bias=True)
        self.v = nn.Linear(cfg.d_attn, 1, bias=False)

    def forward(self, s, keys, h, src_mask):
        """s (B,d_dec), keys = W_h h (B,S,d_attn), h (B,S,2d_enc), src_mask (B,S) bool -> context, α (B,S)."""
        scores = self.v(torch.tanh(self.W_s(s)[:, None, :] + keys)).squeeze(-1)  # (B, S)
        alpha = scores.masked_fill(~src_mask, NEG).softmax(dim=-1)  # (B, S)
        context = (alpha[:, :, None] * h).sum(dim=1)  # (B, 2*d_enc)
        return context, alpha


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x (B,S,E): each row's first `length` positions reversed, padding left where it is (self-inverse)."""
    S = x.shape[1]
    t = torch.arange(S, device=x.device)[None, :]  # (1, S)
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, S)
    return x.gather(1, idx[:, :, None].expand(-1, -1, x.shape[2]))


class Seq2SeqAttention(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.vocab_size, cfg.d_emb, padding_idx=cfg.pad_id)
        self.tgt_embed = nn.Embedding(cfg.vocab_size, cfg.d_emb, padding_idx=cfg.pad_id)
        self.gru_fwd = nn.GRU(cfg.d_emb, cfg.d_enc, batch_first=True)
        self.gru_bwd = nn.GRU(cfg.d_emb, cfg.d_enc, batch_first=True)
        self.init_state = nn.Linear(2 * cfg.d_enc, cfg.d_dec)
        self.attention = AdditiveAttention(cfg)
        self.cell = nn.GRUCell(cfg.d_emb + 2 * cfg.d_enc, cfg.d_dec)
        self.out = nn.Sequential(nn.Linear(cfg.d_dec + 2 * cfg.d_enc + cfg.d_emb, cfg.d_dec), nn.Tanh(),
                                 nn.Linear(cfg.d_dec, cfg.vocab_size))
        self.dropout = nn.Dropout(cfg.dropout)

    def encode(self, src):
        """src (B,S) -> h (B,S,2d_enc) (zeros at padding), keys W_h h (B,S,d_attn), s_0 (B,d_dec)."""
        mask = src != self.cfg.pad_id  # (B, S)
        lengths = mask.sum(dim=1)  # (B,)
        x = self.dropout(self.src_embed(src))  # (B, S, d_emb)
        h_fwd, _ = self.gru_fwd(x)  # (B, S, d_enc); positions past the length are ignored below
        h_bwd = reverse_within_length(self.gru_bwd(reverse_within_length(x, lengths))[0], lengths)
        h = torch.cat([h_fwd, h_bwd], dim=-1) * mask[:, :, None]  # (B, S, 2*d_enc)
        last = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, self.cfg.d_enc)
        summary = torch.cat([h_fwd.gather(1, last)[:, 0], h_bwd[:, 0]], dim=-1)  # (B, 2*d_enc)
        s0 = torch.tanh(self.init_state(summary))  # (B, d_dec)
        return h, self.attention.W_h(h), s0

    def step(self, token, s, h, keys, src_mask):
        """token (B,), s (B,d_dec) -> logits (B,V), new s (B,d_dec), α (B,S)."""
        e = self.dropout(self.tgt_embed(token))  # (B, d_emb)
        context, alpha = self.attention(s, keys, h, src_mask)
        s = self.cell(torch.cat([e, context], dim=-1), s)  # (B, d_dec)
        logits = self.out(self.dropout(torch.cat([s, context, e], dim=-1)))  # (B, V)
        return logits, s, alpha

    def forward(self, src, tgt_in):
        """Teacher-forced: src (B,S), tgt_in (B,T) -> logits (B,T,V)."""
        h, keys, s = self.encode(src)
        mask = src != self.cfg.pad_id
        logits = []
        for t in range(tgt_in.shape[1]):
            lt, s, _ = self.step(tgt_in[:, t], s, h, keys, mask)
            logits.append(lt)
        return torch.stack(logits, dim=1)


class Encoder(nn.Module):
    """Exported encoder: src (B,S) int64 -> enc_states (B,S,2d_enc), enc_keys (B,S,d_attn), state (B,d_dec)."""

    def __init__(self, model: Seq2SeqAttention):
        super().__init__()
        self.model = model

    def forward(self, src):
        return self.model.encode(src)


class DecoderStep(nn.Module):
    """Exported decoder step: (token, state, enc_states, enc_keys, src_mask) -> (logits, new_state, attn)."""

    def __init__(self, model: Seq2SeqAttention):
        super().__init__()
        self.model = model

    def forward(self, token, state, enc_states, enc_keys, src_mask):
        return self.model.step(token, state, enc_states, enc_keys, src_mask)
