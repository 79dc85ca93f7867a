"""The character tokeniser of the date models: one implementation for training, the ONNX runtime and the dashboard.

Pure Python (numpy only for padding a batch). Source and target share one vocabulary: four specials, then the
characters any date format can contain. Case is kept (the models learn "NOV" = "nov" = "Nov").
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from core.errors import UserError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
CHARS = " ,-./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
DEFAULT_TOKENS = (*SPECIALS, *CHARS)
MAX_SRC_LEN = 32  # longest format is 29 chars ("Wednesday, September 30, 2026")
MAX_TGT_LEN = 11  # "YYYY-MM-DD" + eos
MAX_SHOWN = 12  # characters outside the vocabulary named in the error; the rest are counted


class TokenizeError(UserError):
    """Input the models cannot read (too long, empty, characters outside the vocabulary)."""


@dataclass(frozen=True)
class Vocab:
    tokens: tuple[str, ...] = DEFAULT_TOKENS
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})
        missing = [s for s in SPECIALS if s not in self.index]
        if missing:
            raise TokenizeError(f"vocabulary lacks the special tokens {missing}")

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return self.index[PAD]

    @property
    def bos_id(self) -> int:
        return self.index[BOS]

    @property
    def eos_id(self) -> int:
        return self.index[EOS]

    @property
    def unk_id(self) -> int:
        return self.index[UNK]

    def special_ids(self) -> dict[str, int]:
        return {"pad": self.pad_id, "bos": self.bos_id, "eos": self.eos_id, "unk": self.unk_id}


VOCAB = Vocab()


def _show(c: str) -> str:
    return repr(c) if c.isprintable() and c != " " else f"U+{ord(c):04X}"


def encode_source(text: str, max_len: int = MAX_SRC_LEN, vocab: Vocab = VOCAB) -> list[int]:
    """Token ids of a date written by a person (no bos/eos); TokenizeError with a clear message if unreadable."""
    if not isinstance(text, str):
        kind = type(text).__name__
        raise TokenizeError(f"expected text, got {kind}", key="errors.date.not_text", kind=kind)
    text = text.strip()
    if not text:
        raise TokenizeError("the input is empty", key="errors.date.empty")
    bad = sorted({c for c in text if c not in vocab.index or c in SPECIALS})
    if bad:
        n = len(bad)  # visitor text: the first few characters are named, the rest counted
        chars = ", ".join(_show(c) for c in bad[:MAX_SHOWN]) + (", …" if n > MAX_SHOWN else "")
        if n == 1:
            raise TokenizeError(f"{n} character outside the vocabulary: {chars} "
                                "(letters A-Z, digits, space and , - . / only)", key="errors.date.outside_one",
                                n=n, chars=chars)
        raise TokenizeError(f"{n} characters outside the vocabulary: {chars} "
                            "(letters A-Z, digits, space and , - . / only)", key="errors.date.outside", n=n,
                            chars=chars)
    if len(text) > max_len:
        n = len(text)
        raise TokenizeError(f"the input is {n} characters long; the model reads at most {max_len}",
                            key="errors.date.too_long", n=n, max=max_len)
    return [vocab.index[c] for c in text]


def encode_target(iso: str, vocab: Vocab = VOCAB) -> list[int]:
    """Decoder output ids of an ISO date: its characters then eos (the decoder input is bos + these minus eos)."""
    return [vocab.index[c] for c in iso] + [vocab.eos_id]


def decode_target(ids, vocab: Vocab = VOCAB) -> str:
    """Text of generated ids: stops at the first eos, skips pad and bos, shows unknown ids as unk."""
    out = []
    for i in ids:
        i = int(i)
        if i == vocab.eos_id:
            break
        if i in (vocab.pad_id, vocab.bos_id):
            continue
        out.append(vocab.tokens[i] if 0 <= i < len(vocab) and vocab.tokens[i] not in SPECIALS else UNK)
    return "".join(out)


def token_strings(ids, vocab: Vocab = VOCAB) -> list[str]:
    """Each id as the string shown in attention maps (specials keep their <name>)."""
    return [vocab.tokens[int(i)] if 0 <= int(i) < len(vocab) else UNK for i in ids]


def pad_batch(seqs: list[list[int]], pad_id: int = VOCAB.pad_id, length: int | None = None):
    """int64 array [B, length] right-padded with pad_id (length defaults to the longest)."""
    import numpy as np

    length = max((len(s) for s in seqs), default=0) if length is None else length
    out = np.full((len(seqs), length), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out
