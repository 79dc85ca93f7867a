"""How big is big: what a parameter count means in bytes (stdlib only, pure functions).

Weights only: ``memory_bytes(n, dtype)`` = n × bytes per parameter. Training: ``training_memory_bytes(n)`` =
16 bytes per parameter for Adam in fp32 (weights 4 + gradients 4 + first moment 4 + second moment 4). Mixed
precision with fp32 master weights also comes to 16 (2 + 2 + 4 + 4 + 4; Rajbhandari et al. 2020, ZeRO).
Activations are NOT included: they depend on batch size, sequence length and architecture and can exceed the
rest. Inference also needs activations and, for Transformers, a key/value cache; these are excluded too.
Decimal units by default (1 GB = 10^9 bytes, as disk and GPU vendors count): 175e9 parameters at fp16 = 350 GB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import UserError
from core.limits import MAX_COUNT_CHARS, safe_excerpt

BYTES_PER_PARAM = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
DTYPES = tuple(BYTES_PER_PARAM)
# Bytes per parameter kept during training, besides activations.
OPTIMIZER_STATE_BYTES = {
    "adam": 16.0,          # fp32 weights, grads, Adam m and v
    "sgd_momentum": 12.0,  # fp32 weights, grads, momentum buffer
    "sgd": 8.0,            # fp32 weights, grads
}


class SizeError(UserError):
    """A parameter count or data type that makes no sense (negative, not a number, unknown dtype)."""


@dataclass(frozen=True)
class Preset:
    name: str
    params: int
    source: str             # where the count comes from
    kind: str = "published"  # "published" or "project"
    note: str = ""


# Counts as published by the authors (or, where marked, counted from the reference implementation).
PRESETS: tuple[Preset, ...] = (
    Preset("Inception-v3", 23_851_784, "Szegedy et al. 2016, 'Rethinking the Inception Architecture'",
           note="≈23.8M, as counted in the Keras reference model (no auxiliary classifier)"),
    Preset("ResNet-50", 25_557_032, "He et al. 2016, 'Deep Residual Learning'",
           note="≈25.6M, as counted in the torchvision reference model"),
    Preset("AlexNet", 60_000_000, "Krizhevsky et al. 2012 (NIPS), '60 million parameters'"),
    Preset("Transformer (base)", 65_000_000, "Vaswani et al. 2017, Table 3"),
    Preset("BERT-base", 110_000_000, "Devlin et al. 2019 (NAACL)"),
    Preset("GPT (GPT-1)", 117_000_000, "Radford et al. 2018; 117M as listed in Radford et al. 2019"),
    Preset("Transformer (big)", 213_000_000, "Vaswani et al. 2017, Table 3"),
    Preset("BERT-large", 340_000_000, "Devlin et al. 2019 (NAACL)"),
    Preset("GPT-2", 1_542_000_000, "Radford et al. 2019, largest model (1542M)"),
    Preset("GPT-3", 175_000_000_000, "Brown et al. 2020, 'Language Models are Few-Shot Learners'"),
)
OMITTED = {
    "WaveNet": "omitted: van den Oord et al. 2016 give no single parameter count we can cite with confidence",
    "DeepSpeech": "omitted: the size depends on the version (Hannun et al. 2014; Amodei et al. 2016) and we do not "
                  "cite a figure we cannot check",
}


def _check_count(n_params) -> float:
    if isinstance(n_params, bool) or not isinstance(n_params, (int, float)):
        kind = type(n_params).__name__
        raise SizeError(f"A parameter count must be a number, not {kind}.", key="errors.count.not_a_number",
                        kind=kind)
    if isinstance(n_params, int):  # exact; math.isfinite would overflow on a huge int
        if n_params < 0:
            raise SizeError("A parameter count must be a finite number ≥ 0, not a negative one.",
                            key="errors.count.negative_number")
        if n_params > 10**30:
            raise SizeError("A parameter count must be at most 10^30.", key="errors.count.above_1e30")
        return n_params
    if not math.isfinite(n_params) or n_params < 0:
        value = f"{n_params:.3g}"
        raise SizeError(f"A parameter count must be a finite number ≥ 0, not {value}.",
                        key="errors.count.not_finite_number", value=value)
    return n_params


def bytes_per_param(dtype: str) -> float:
    key = str(dtype).strip().lower()
    if key not in BYTES_PER_PARAM:
        raise SizeError(f"Unknown data type {safe_excerpt(str(dtype)) or 'given'}; choose one of {', '.join(DTYPES)}.")
    return BYTES_PER_PARAM[key]


def memory_bytes(n_params: float, dtype: str = "fp32") -> float:
    """Bytes to hold the weights alone (no activations, no KV cache, no quantisation scales)."""
    return _check_count(n_params) * bytes_per_param(dtype)


def training_memory_bytes(n_params: float, optimizer: str = "adam") -> float:
    """Bytes for weights + gradients + optimiser state during training; activations excluded (see module doc)."""
    if optimizer not in OPTIMIZER_STATE_BYTES:
        raise SizeError(f"Unknown optimiser {safe_excerpt(str(optimizer)) or 'given'}; choose one of "
                        f"{', '.join(OPTIMIZER_STATE_BYTES)}.")
    return _check_count(n_params) * OPTIMIZER_STATE_BYTES[optimizer]


def training_flops(n_params: float, n_tokens: float) -> float:
    """≈ 6·N·D: forward (2N) plus backward (4N) FLOPs per token (Kaplan et al. 2020); attention terms ignored."""
    return 6.0 * _check_count(n_params) * _check_count(n_tokens)


def devices_needed(n_bytes: float, device_bytes: float) -> int:
    """How many devices of ``device_bytes`` memory it takes just to hold ``n_bytes`` (ceil; 0 for 0 bytes)."""
    if device_bytes <= 0:
        raise SizeError("Device memory must be positive.")
    return math.ceil(_check_count(n_bytes) / device_bytes)


_DEC = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
_BIN = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_bytes(n: float, binary: bool = False, digits: int = 3) -> str:
    """``350000000000`` → ``'350 GB'`` (or ``'326 GiB'`` with binary=True); ``digits`` significant figures."""
    n = _check_count(n)
    base, units = (1024.0, _BIN) if binary else (1000.0, _DEC)
    i = 0
    while i < len(units) - 1 and n >= base:
        n /= base
        i += 1
    if i == 0:
        return f"{int(round(n))} B"
    if float(f"{n:.{digits}g}") >= base and i < len(units) - 1:  # 999.96 GB rounds up to 1 TB
        n /= base
        i += 1
    text = f"{n:.{digits}g}"
    if "e" in text:  # only for huge values in the last unit
        text = f"{n:.0f}"
    return f"{text} {units[i]}"


def human_count(n: float) -> str:
    """``175e9`` → ``'175B'``, ``25_557_032`` → ``'25.6M'`` (three significant figures)."""
    n = _check_count(n)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale * 0.9995:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}"


_SUFFIX = {"": 0, "k": 3, "m": 6, "b": 9, "t": 12}  # powers of ten
MAX_PARAMS = 10**18  # an exa-parameter: far beyond any model; bounds the arithmetic too
_EXAMPLES = "write e.g. 175B, 340M, 1.5e9 or 25557032"
_NOT_FINITE = {"nan", "inf", "infinity"}


def _scan(text: str) -> tuple[str, str, int, str] | tuple[None, int, str]:
    """One pass over ``text`` (no backtracking): (integer digits, fraction digits, exponent, suffix), or
    (None, position, reason: one of _WHY) at the first character that does not fit ``digits[.digits][e[+-]digits][kMBT]``.

    Commas and underscores are digit separators and are skipped; spaces are allowed around the number and suffix.
    """
    n, i = len(text), 0
    while i < n and text[i] == " ":
        i += 1
    if i < n and text[i] in "+-":
        if text[i] == "-":
            return None, i, "negative"
        i += 1
    int_d, frac_d, exp_d = [], [], []
    while i < n and (text[i].isascii() and text[i].isdigit() or text[i] in ",_"):
        if text[i] not in ",_":
            int_d.append(text[i])
        i += 1
    if i < n and text[i] == ".":
        i += 1
        while i < n and (text[i].isascii() and text[i].isdigit() or text[i] in ",_"):
            if text[i] not in ",_":
                frac_d.append(text[i])
            i += 1
        if not frac_d:
            return None, i, "decimal"
    if not int_d and not frac_d:
        return None, i, "start"
    exp_sign = 1
    if i < n and text[i] in "eE":
        i += 1
        if i < n and text[i] in "+-":
            exp_sign = -1 if text[i] == "-" else 1
            i += 1
        while i < n and text[i].isascii() and text[i].isdigit():
            exp_d.append(text[i])
            i += 1
        if not exp_d:
            return None, i, "exponent"
    while i < n and text[i] == " ":
        i += 1
    suffix = ""
    if i < n and text[i].lower() in "kmbt":
        suffix = text[i].lower()
        i += 1
    while i < n and text[i] == " ":
        i += 1
    if i != n:
        return None, i, "character"
    exp = exp_sign * int("".join(exp_d)) if exp_d else 0  # at most 64 digits: a short int()
    return "".join(int_d), "".join(frac_d), exp, suffix


def parse_count(text: str) -> int:
    """A parameter count typed by a person: ``'175B'``, ``'1.5b'``, ``'340M'``, ``'7e9'``, ``'25,557,032'``.

    At most MAX_COUNT_CHARS characters (checked before anything else), read in one linear pass; the result is a
    whole number from 0 to MAX_PARAMS. Anything else is a SizeError with a short message that quotes the input only
    when it is short and harmless (core.limits.safe_excerpt).
    """
    if not isinstance(text, str):
        kind = type(text).__name__
        raise SizeError(f"A parameter count must be text such as 175B, not {kind}.", key="errors.count.not_text",
                        kind=kind)
    if len(text) > MAX_COUNT_CHARS:
        n = f"{len(text):,}"
        raise SizeError(f"That is {n} characters; a parameter count has at most {MAX_COUNT_CHARS} ({_EXAMPLES}).",
                        key="errors.count.too_long", n=n, max=MAX_COUNT_CHARS)
    clean = text.replace("\t", " ").strip()
    shown = safe_excerpt(clean)  # None: the input is not quoted ("this text")
    if not clean:
        raise SizeError(f"Type a parameter count: {_EXAMPLES}.", key="errors.count.empty")
    if clean.lower().lstrip("+-") in _NOT_FINITE:
        if shown is None:  # signs enough to be more than an excerpt
            raise SizeError(f"This text is not a count: a parameter count is a finite number ≥ 0 ({_EXAMPLES}).",
                            key="errors.count.not_finite_text")
        raise SizeError(f"{shown} is not a count: a parameter count is a finite number ≥ 0 ({_EXAMPLES}).",
                        key="errors.count.not_finite", shown=shown)
    got = _scan(clean)
    if got[0] is None:
        _, pos, why = got
        if why == "negative":
            raise SizeError("A parameter count cannot be negative.", key="errors.count.negative")
        raise _unreadable(why, shown, pos + 1)
    int_d, frac_d, exp, suffix = got
    digits = (int_d + frac_d).lstrip("0")
    if not digits:
        return 0
    # digits before the decimal point of the result: bounded before any big arithmetic (1e400, 1e308T, 10**60)
    scale = exp + _SUFFIX[suffix] - len(frac_d)
    magnitude = len(digits) + scale
    if magnitude > len(str(MAX_PARAMS)):
        raise _too_large(shown)
    if magnitude < -1:  # below 0.05: rounds to no parameters at all
        return 0
    value = int(digits) * 10**scale if scale >= 0 else _round_div(int(digits), 10**-scale)
    if value > MAX_PARAMS:
        raise _too_large(shown)
    return value


def _too_large(shown: str | None) -> SizeError:
    if shown is None:
        return SizeError("This text is too large: the calculator takes counts up to 10^18 parameters.",
                         key="errors.count.too_large_text")
    return SizeError(f"{shown} is too large: the calculator takes counts up to 10^18 parameters.",
                     key="errors.count.too_large", shown=shown)


def _unreadable(why: str, shown: str | None, pos: int) -> SizeError:
    """Why the scanner stopped, quoting the input when it is short and harmless, else calling it "this text"."""
    if why == "decimal":
        if shown is None:
            return SizeError("Could not read this text as a parameter count (a digit must follow the decimal "
                             f"point); {_EXAMPLES}.", key="errors.count.decimal_text")
        return SizeError(f"Could not read {shown} as a parameter count (a digit must follow the decimal point); "
                         f"{_EXAMPLES}.", key="errors.count.decimal", shown=shown)
    if why == "start":
        if shown is None:
            return SizeError(f"Could not read this text as a parameter count (it does not start with a number); "
                             f"{_EXAMPLES}.", key="errors.count.start_text")
        return SizeError(f"Could not read {shown} as a parameter count (it does not start with a number); "
                         f"{_EXAMPLES}.", key="errors.count.start", shown=shown)
    if why == "exponent":
        if shown is None:
            return SizeError(f"Could not read this text as a parameter count (the exponent has no digits); "
                             f"{_EXAMPLES}.", key="errors.count.exponent_text")
        return SizeError(f"Could not read {shown} as a parameter count (the exponent has no digits); {_EXAMPLES}.",
                         key="errors.count.exponent", shown=shown)
    if shown is None:
        return SizeError(f"Could not read this text as a parameter count (character {pos} does not belong in a "
                         f"count); {_EXAMPLES}.", key="errors.count.character_text", pos=pos)
    return SizeError(f"Could not read {shown} as a parameter count (character {pos} does not belong in a count); "
                     f"{_EXAMPLES}.", key="errors.count.character", shown=shown, pos=pos)


def _round_div(a: int, b: int) -> int:
    """round(a / b) with ties to even, as Python's round() does, in exact integer arithmetic."""
    q, r = divmod(a, b)
    if 2 * r > b or (2 * r == b and q % 2):
        q += 1
    return q


def table(presets, dtypes: tuple[str, ...] = DTYPES) -> list[dict]:
    """One row per preset: name, params, kind, source, bytes per dtype, and Adam training bytes."""
    rows = []
    for p in presets:
        row = {"name": p.name, "params": p.params, "kind": p.kind, "source": p.source, "note": p.note}
        for dtype in dtypes:
            row[dtype] = memory_bytes(p.params, dtype)
        row["train_adam"] = training_memory_bytes(p.params)
        rows.append(row)
    return rows


def project_presets(manifest_or_cards) -> list[Preset]:
    """This project's models as presets, from their ONNX model cards (the caller reads them; this stays pure).

    Accepts a list of cards, a ``{file name: card}`` dict, or a manifest-like ``{"files": {name: entry}}`` whose
    entries carry a ``card`` or ``parameters``. Anything without a positive integer ``parameters`` is skipped.
    Sorted by parameter count.
    """
    if isinstance(manifest_or_cards, dict) and isinstance(manifest_or_cards.get("files"), dict):
        entries = list(manifest_or_cards["files"].items())
    elif isinstance(manifest_or_cards, dict):
        entries = list(manifest_or_cards.items())
    else:
        entries = [(None, c) for c in (manifest_or_cards or [])]
    out, seen = [], set()
    for key, entry in entries:
        if not isinstance(entry, dict):
            continue
        card = entry.get("card") if isinstance(entry.get("card"), dict) else entry
        params = card.get("parameters", entry.get("parameters"))
        if isinstance(params, bool) or not isinstance(params, int) or params <= 0:
            continue
        name = str(card.get("name") or (key.split(".onnx")[0] if key else "model"))
        if name in seen:
            continue
        seen.add(name)
        arch = card.get("architecture")
        out.append(Preset(name, params, f"model card of {key or name}", kind="project",
                          note=f"this project's {arch}" if arch else "this project"))
    return sorted(out, key=lambda p: p.params)
