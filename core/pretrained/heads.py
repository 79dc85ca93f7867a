"""Which of MiniLM's 6 x 12 heads follow known patterns, measured on a fixed sentence set (no torch).

For every layer and head, the score of a pattern is the attention mass a query token puts on the pattern's keys,
averaged over the eligible query tokens of a sentence, then over the sentences. Query tokens are the sentence's
own tokens ([CLS] and [SEP] never count as queries). Patterns (after Clark et al. 2019, "What does BERT look at?"):

- ``previous``   the token just before (queries from the 2nd word token on, so the key is never [CLS])
- ``next``       the token just after (up to the last-but-one word token, so the key is never [SEP])
- ``cls``        [CLS]
- ``sep``        [SEP]
- ``self``       the query token itself
- ``same_word``  the other pieces of the query's word (only queries whose word has two or more pieces)
- ``punctuation``  punctuation tokens (. , ? ! ; : ' " - ( ))
- ``broad``      not a mass: the entropy of the attention row divided by log(T) (1 = uniform over all tokens)

A head follows a pattern when its mean score reaches the threshold (THRESHOLDS). The table is written to
``exported/minilm_heads.json``:

    python -m core.pretrained.heads        # rebuild the table from the committed graph, sentences and weights
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np

from core import EXPORTED
from core.atomic import atomic_write_json, sha256_file
from core.errors import UserError
from core.manifest import check_artifact

SENTENCES = Path(__file__).with_name("head_sentences.txt")
OUT = "minilm_heads.json"
REBUILD = "python -m core.pretrained.heads"
PATTERNS = ("previous", "next", "cls", "sep", "self", "same_word", "punctuation", "broad")
THRESHOLDS = {"previous": 0.5, "next": 0.5, "cls": 0.5, "sep": 0.5, "self": 0.5, "same_word": 0.5,
              "punctuation": 0.5, "broad": 0.8}
LABELS = {
    "previous": "attends to the previous token", "next": "attends to the next token", "cls": "attends to [CLS]",
    "sep": "attends to [SEP]", "self": "attends to itself", "same_word": "attends to the other pieces of its word",
    "punctuation": "attends to punctuation", "broad": "attends broadly (high entropy)",
}


def read_sentences(path: str | Path = SENTENCES) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _is_punct(token: str) -> bool:
    return len(token) == 1 and unicodedata.category(token)[0] == "P"


def pattern_keys(tokens) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For one tokenised sentence: per pattern, (eligible queries (T,) bool, keys (T, T) bool: row q = its keys)."""
    t = tokens.n_tokens
    special = np.asarray(tokens.special, bool)
    word = [w if w is not None else -1 - i for i, w in enumerate(tokens.word_ids)]  # specials: words of their own
    real = ~special
    idx = np.arange(t)
    out = {}
    q = real & (idx >= 2)                                   # the previous token is a word token
    out["previous"] = (q, idx[None, :] == idx[:, None] - 1)
    q = real & (idx <= t - 3)                               # the next token is a word token
    out["next"] = (q, idx[None, :] == idx[:, None] + 1)
    cls_key = np.zeros((t, t), bool)
    cls_key[:, 0] = True
    out["cls"] = (real, cls_key)
    sep_key = np.zeros((t, t), bool)
    sep_key[:, t - 1] = True
    out["sep"] = (real, sep_key)
    out["self"] = (real, np.eye(t, dtype=bool))
    w = np.asarray(word)
    same = (w[None, :] == w[:, None]) & ~np.eye(t, dtype=bool)
    out["same_word"] = (real & same.any(axis=1), same)
    punct = np.asarray([_is_punct(s) for s in tokens.tokens]) & real
    out["punctuation"] = (real, np.broadcast_to(punct[None, :], (t, t)).copy())
    return out


def score_sentence(att: np.ndarray, tokens) -> dict[str, np.ndarray]:
    """``att`` (L, H, T, T) for one sentence -> {pattern: (L, H) mean score, NaN where no query is eligible}."""
    L, H, t, _ = att.shape
    real = ~np.asarray(tokens.special, bool)
    out = {}
    for name, (q, keys) in pattern_keys(tokens).items():
        if not q.any():
            out[name] = np.full((L, H), np.nan)
            continue
        mass = (att * keys[None, None]).sum(-1)             # (L, H, T): mass each query puts on its keys
        out[name] = mass[..., q].mean(-1)
    p = np.clip(att[..., real, :], 1e-12, 1.0)
    ent = -(p * np.log(p)).sum(-1) / np.log(t)               # (L, H, queries)
    out["broad"] = ent.mean(-1)
    return out


def score_heads(model, sentences: list[str]) -> dict:
    """Mean and standard deviation over ``sentences`` of every pattern's score for every layer x head."""
    per = {p: [] for p in PATTERNS}
    n_tokens = 0
    for s in sentences:
        a = model.analyse(s)
        n_tokens += a.tokens.n_tokens
        for name, v in score_sentence(a.attentions.astype(np.float64), a.tokens).items():
            per[name].append(v)
    out = {"n_sentences": len(sentences), "n_tokens": n_tokens, "scores": {}}
    for name in PATTERNS:
        stack = np.stack(per[name])                          # (S, L, H)
        counted = np.isfinite(stack).any(axis=(1, 2))
        out["scores"][name] = {
            "mean": np.round(np.nanmean(stack[counted], axis=0), 4).tolist(),
            "std": np.round(np.nanstd(stack[counted], axis=0), 4).tolist(),
            "sentences": int(counted.sum()),
        }
    return out


def find_heads(scores: dict, thresholds: dict = THRESHOLDS) -> dict[str, list[dict]]:
    """Per pattern, the heads whose mean score reaches the threshold, best first."""
    found = {}
    for name in PATTERNS:
        mean = np.asarray(scores[name]["mean"], float)
        hits = [{"layer": int(l), "head": int(h), "score": round(float(mean[l, h]), 3)}
                for l, h in zip(*np.nonzero(mean >= thresholds[name]))]
        found[name] = sorted(hits, key=lambda r: -r["score"])
    return found


def build_table(model, sentences_path: str | Path = SENTENCES) -> dict:
    sentences = read_sentences(sentences_path)
    res = score_heads(model, sentences)
    top = {}
    for name in PATTERNS:
        mean = np.asarray(res["scores"][name]["mean"], float)
        l, h = np.unravel_index(int(np.nanargmax(mean)), mean.shape)
        top[name] = {"layer": int(l), "head": int(h), "score": round(float(mean[l, h]), 3)}
    return {
        "format": 1,
        "model": model.model_id,
        "weights_sha256": model.weights_sha256,
        "sentences": {"file": f"core/pretrained/{Path(sentences_path).name}", "sha256": sha256_file(sentences_path),
                      "count": res["n_sentences"], "tokens": res["n_tokens"]},
        "patterns": {name: LABELS[name] for name in PATTERNS},
        "thresholds": THRESHOLDS,
        "method": "score = attention mass on the pattern's keys, averaged over the eligible query tokens of a "
                  "sentence, then over sentences ('broad': row entropy / log T); layers and heads count from 0",
        "layers": model.config.n_layers, "heads": model.config.n_heads,
        "scores": res["scores"],
        "heads_following": find_heads(res["scores"]),
        "strongest": top,
        "rebuild": REBUILD,
        "built": date.today().isoformat(),
    }


def load_table(exported_dir: str | Path = EXPORTED) -> dict:
    """The committed table, checked against the manifest (ArtifactError names the rebuild command)."""
    import json

    path = check_artifact(OUT, exported_dir)
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=REBUILD, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=EXPORTED, help="the exported/ folder (the table and the manifest)")
    p.add_argument("--sentences", type=Path, default=SENTENCES)
    args = p.parse_args(argv)
    from core.pretrained.runtime import load_minilm
    from core.transaction import export_transaction

    try:
        model = load_minilm("cpu", threads=1, exported_dir=args.out, log=lambda m: print(m, file=sys.stderr))
        table = build_table(model, args.sentences)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with export_transaction(args.out) as stage:  # the table and the manifest switch in together
        atomic_write_json(stage / OUT, table)
    print(f"{table['sentences']['count']} sentences, {table['sentences']['tokens']} tokens -> {args.out / OUT}")
    for name in PATTERNS:
        hits = table["heads_following"][name]
        s = table["strongest"][name]
        listed = ", ".join(f"L{h['layer']}H{h['head']} {h['score']:.2f}" for h in hits[:6]) or "none"
        print(f"  {name:12s} >= {THRESHOLDS[name]:.2f}: {len(hits):2d} heads ({listed}); strongest "
              f"L{s['layer']}H{s['head']} {s['score']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
