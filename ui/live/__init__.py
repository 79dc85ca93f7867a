"""Live views: ``st.components.v2`` components that run the exported models in the visitor's browser.

Each view computes with onnxruntime-web (wasm, one thread) while the pointer moves or the user types, says where and
how long ("in your browser, 1.8 ms"), and sends a value to Python only when the user commits (pen lifted, slider or
map released, walk stopped, Enter), so Streamlit reruns then and the server path stays the fallback. Each view also
tells Python once whether the browser runtime loaded: ``Live.in_browser`` is True, False (the page should say it
runs on the server) or None (not reported yet; treat as the server path).

The browser gets the vendored onnxruntime-web from static/ort/ and the models as content-addressed links of the
exported files (core/web/publish.py), each checked against its manifest sha256 in the browser before use. All
visible text comes from Python: the catalogue's live.* keys in the visitor's language (core/i18n/strings/live.toml;
English texts in PAD_STRINGS, LATENT_STRINGS, GAN_STRINGS, DATE_STRINGS), overridden by a page's ``strings``
argument (unknown names are an error).

Python never trusts what comes back: every committed value is checked (type, size, finite numbers, ranges). A page
that must set widget state from a commit (a slider bound to the URL) passes ``on_commit``: it runs as the
component's callback, before the script, with the checked value.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from core import i18n
from core.web import ortweb
from core.web import publish as pub

_HERE = Path(__file__).resolve().parent
_JS = (_HERE / "loader.js").read_text(encoding="utf-8")
_CSS = (_HERE / "live.css").read_text(encoding="utf-8")
MODULES = "app/static/live/"
_RUNTIME = "_live_runtime"  # session state: the runtime-wide status the last report gave
MAX_PNG = 4_000_000  # characters of a committed drawing's data URL (a 224x224 PNG is ~10-30 kB)
MAX_TEXT = 200

# The names each view shows; their texts are catalogue keys live.<view>.<name> (core/i18n/strings/live.toml), in the
# visitor's language unless the page passes its own. The English texts are the documented defaults.
_NAMES = {
    "common": ("in_browser", "loading", "server"),
    "pad": ("canvas", "clear", "hint", "input", "mlp", "conv", "error", "mse", "label", "verdict", "blank", "little",
            "scaled"),
    "latent": ("map", "decoded", "z", "hint"),
    "gan": ("generated", "label", "verdict", "path", "walk", "stop"),
    "dates": ("label", "placeholder", "hint", "alignment", "error_empty", "error_chars", "error_long", "rejected"),
    "runtime": ("browser", "server", "unknown"),
}


def _keys(view: str) -> dict[str, str]:
    """{name: catalogue key} of a view's strings (the common ones included, except for the sidebar line)."""
    out = {} if view == "runtime" else {n: f"live.common.{n}" for n in _NAMES["common"]}
    out.update({n: f"live.{view}.{n}" for n in _NAMES[view]})
    return out


def defaults(view: str, lang: str = i18n.DEFAULT) -> dict[str, str]:
    """The strings of ``view`` ("pad" | "latent" | "gan" | "dates" | "runtime") in ``lang``, from the catalogue."""
    return {n: i18n.t(k, lang) for n, k in _keys(view).items()}


PAD_STRINGS, LATENT_STRINGS, GAN_STRINGS, DATE_STRINGS, RUNTIME_STRINGS = (
    defaults(v) for v in ("pad", "latent", "gan", "dates", "runtime"))

PAD_MODELS = {
    "autoencoder": {"mlp_enc": "autoencoder.encoder.onnx", "mlp_dec": "autoencoder.decoder.onnx",
                    "conv_enc": "conv_autoencoder.encoder.onnx", "conv_dec": "conv_autoencoder.decoder.onnx",
                    "classifier": "classifier.onnx"},
    "discriminator": {"discriminator": "gan.discriminator.onnx", "classifier": "classifier.onnx"},
}
LATENT_MODELS = {"decoder": "autoencoder_2d.decoder.onnx"}
GAN_MODELS = {"generator": "gan.generator.onnx", "discriminator": "gan.discriminator.onnx",
              "classifier": "classifier.onnx"}
DATE_KINDS = ("transformer", "seq2seq_attention")


@dataclass(frozen=True)
class Live:
    """What a live view gives the page: the committed value (None until the user commits) and the runtime status."""

    value: Any
    runtime: dict | None  # {"ok": True, "version", "backend", "threads", "load_ms"} | {"ok": False, "reason"} | None
    problem: str | None = None  # why the server could not even offer the live view (then it runs on the server)

    @property
    def in_browser(self) -> bool | None:
        if self.problem:
            return False
        return None if self.runtime is None else bool(self.runtime.get("ok"))


def runtime_status() -> dict | None:
    """The browser runtime as last reported in this session (for the sidebar): version, backend, threads; or None."""
    return st.session_state.get(_RUNTIME)


def runtime_text(strings: dict[str, str] | None = None) -> str:
    """One line for the sidebar, beside the server's provider (strings: RUNTIME_STRINGS)."""
    s = _strings("runtime", strings)
    status = runtime_status()
    if status is None:
        return s["unknown"]
    if not status.get("ok"):
        return s["server"]
    return s["browser"].format(version=status.get("version", "?"), backend=status.get("backend", "wasm"),
                               threads=status.get("threads", 1))


# ---------------------------------------------------------------------------------------------------- plumbing
def _component(name: str):
    return st.components.v2.component(name, html="", css=_CSS, js=_JS)


_PAD = _component("bml_live_pad")
_LATENT = _component("bml_live_latent")
_GAN = _component("bml_live_gan")
_DATES = _component("bml_live_dates")


def _strings(view: str, given: dict[str, str] | None) -> dict[str, str]:
    """The view's strings in the visitor's language, with the page's own ``given`` ones on top."""
    given = dict(given or {})
    keys = _keys(view)
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise ValueError(f"unknown live-view strings {unknown}; known: {sorted(keys)}")
    lang = _lang()
    return {**{n: i18n.t(k, lang) for n, k in keys.items()}, **{k: str(v) for k, v in given.items()}}


def _lang() -> str:
    try:
        import ui

        return ui.lang()
    except Exception:  # outside a script run (tests of this module): English
        return i18n.DEFAULT


@functools.lru_cache(maxsize=4)
def _ort_checked(stamp: tuple) -> tuple[dict | None, str | None]:
    """The onnxruntime-web spec once its files match their manifest (hashed once per file version)."""
    problems = ortweb.verify()
    if problems:
        return None, "; ".join(problems)
    return pub.ort_spec(), None


def _ort_stamp() -> tuple:
    out = []
    for name in (*ortweb.FILES, ortweb.MANIFEST):
        try:
            s = (ortweb.ORT_DIR / name).stat()
            out.append((s.st_ino, s.st_mtime_ns, s.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _serving_problem() -> str | None:
    """Why this server cannot hand the browser its runtime (static serving off, another static/ folder), or None."""
    try:
        if not st.get_option("server.enableStaticServing"):
            return "server.enableStaticServing is off"
    except Exception:  # an unknown option in some future version: let the browser find out
        return None
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        ctx = get_script_run_ctx()
        main = getattr(ctx, "main_script_path", None) if ctx else None
    except ImportError:
        main = None
    if main and os.path.realpath(Path(main).parent / "static") != os.path.realpath(ortweb.STATIC):
        return "this app's static/ folder is not the one holding the browser runtime"
    return None


def _spec(models: dict[str, str]) -> tuple[dict | None, dict, str | None]:
    """(onnxruntime-web spec, {role: model spec}, problem) for the component's data."""
    problem = _serving_problem()
    if problem:
        return None, {}, problem
    ort, problem = _ort_checked(_ort_stamp())
    if problem:
        return None, {}, problem
    ok, bad = pub.publish(tuple(models.values()))
    if bad:
        return ort, {}, "; ".join(bad.values())
    return ort, {role: ok[name] for role, name in models.items()}, None


def _note_runtime(key: str) -> None:
    """on_runtime_change: remember a runtime-wide report for the whole session (the sidebar, the other views)."""
    state = st.session_state.get(key)
    status = _get(state, "runtime")
    status = _clean_status(status)
    if status and status.get("scope") == "runtime":
        st.session_state[_RUNTIME] = status


def _get(state: Any, name: str) -> Any:
    if state is None:
        return None
    if hasattr(state, "get"):
        return state.get(name)
    return getattr(state, name, None)


def _clean_status(s: Any) -> dict | None:
    """A runtime report from the browser, reduced to known keys and plain values."""
    if not isinstance(s, dict) or not isinstance(s.get("ok"), bool):
        return None
    out: dict[str, Any] = {"ok": s["ok"], "scope": "model" if s.get("scope") == "model" else "runtime"}
    for k in ("version", "backend", "reason"):
        if isinstance(s.get(k), str):
            out[k] = s[k][:300]
    for k in ("threads", "load_ms"):
        if isinstance(s.get(k), (int, float)) and math.isfinite(s[k]):
            out[k] = s[k]
    return out


def _mount(component, key: str, view: str, data: dict, name: str, clean: Callable[[Any], Any],
           on_commit: Callable[[Any], None] | None, height) -> tuple[Any, dict | None]:
    """Mount a live view; (its committed value, cleaned, or None; its runtime status or the session's)."""
    state = st.session_state.get(key)
    own = _clean_status(_get(state, "runtime"))
    data = {**data, "view": view, "module": f"{MODULES}{view}.mjs", "known": st.session_state.get(_RUNTIME),
            "reported": own}
    # one JSON string, not a dict: Streamlit checks every list or dict value of a component's data for a
    # dataframe, which imports pandas and pyarrow (+~70 MB of server memory) the first time a live view mounts
    payload = {"json": json.dumps(data, separators=(",", ":"), allow_nan=False)}
    result = component(key=key, data=payload, default={name: None, "runtime": None}, height=height,
                       on_runtime_change=functools.partial(_note_runtime, key),
                       **{f"on_{name}_change": functools.partial(_on_commit, key, name, clean, on_commit)})
    status = _clean_status(_get(result, "runtime")) or st.session_state.get(_RUNTIME)
    return clean(_get(result, name)), status


def _on_commit(key: str, name: str, clean: Callable[[Any], Any], on_commit: Callable[[Any], None] | None) -> None:
    """The user committed: hand the cleaned value to the page's callback (which may set widget state, as
    callbacks run before the script does)."""
    if on_commit is not None:
        on_commit(clean(_get(st.session_state.get(key), name)))


def _finite_list(x: Any, n: int, lo: float, hi: float) -> list[float] | None:
    if not isinstance(x, (list, tuple)) or len(x) != n:
        return None
    try:
        v = [float(a) for a in x]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(a) for a in v):
        return None
    return [min(hi, max(lo, a)) for a in v]


# ------------------------------------------------------------------------------------------------------- views
def live_pad(key: str, mode: str = "autoencoder", strings: dict[str, str] | None = None, size: int = 224,
             on_commit: Callable[[str | None], None] | None = None, height: int | str = "content") -> Live:
    """A drawing pad whose models follow the pen in the browser.

    mode "autoencoder": input, MLP and conv reconstructions with error maps, the classifier's label;
    mode "discriminator": D's probability that the drawing is real, and the classifier's label.
    ``value``: the drawing as a PNG data URL (what ui/canvas.py's pad returns), sent when a stroke ends; None when
    nothing is drawn (or after Clear). Strings: PAD_STRINGS.
    """
    if mode not in PAD_MODELS:
        raise ValueError(f"mode must be one of {sorted(PAD_MODELS)}")
    ort, models, problem = _spec(PAD_MODELS[mode])
    data = {"ort": ort, "models": models, "problem": problem, "mode": mode, "size": int(size), "stroke": 18,
            "strings": _strings("pad", strings)}
    value, status = _mount(_PAD, key, "pad", data, "png", _clean_png, on_commit, height)
    return Live(value, status, problem)


def _clean_png(png: Any) -> str | None:
    ok = isinstance(png, str) and png.startswith("data:image/png;base64,") and len(png) <= MAX_PNG
    return png if ok else None


def latent_map(key: str, codes: np.ndarray, labels: np.ndarray, value: tuple[float, float],
               lo: tuple[float, float], hi: tuple[float, float], mark: tuple[float, float] | None = None,
               strings: dict[str, str] | None = None, size: int = 360,
               on_commit: Callable[[tuple[float, float] | None], None] | None = None,
               height: int | str = "content") -> Live:
    """The 2-D latent map: dots at ``codes`` (N, 2) coloured by ``labels``; the point under the pointer is decoded
    live by autoencoder_2d's decoder. ``value``: the committed (z1, z2), rounded to 0.01 and clipped to [lo, hi],
    when the user clicks or releases a drag; None before. Strings: LATENT_STRINGS.
    """
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2 or len(codes) > 5000 or not np.isfinite(codes).all():
        raise ValueError("codes must be a finite (N <= 5000, 2) array")
    labels = np.asarray(labels).astype(int)
    ort, models, problem = _spec(LATENT_MODELS)
    data = {"ort": ort, "models": models, "problem": problem, "size": int(size),
            "codes": np.round(codes, 3).tolist(), "labels": labels.tolist(),
            "value": [float(value[0]), float(value[1])], "lo": [float(lo[0]), float(lo[1])],
            "hi": [float(hi[0]), float(hi[1])], "mark": None if mark is None else [float(mark[0]), float(mark[1])],
            "strings": _strings("latent", strings)}
    def clean(raw: Any) -> tuple[float, float] | None:
        z = _finite_list(raw, 2, -1e6, 1e6)
        return None if z is None else (round(min(hi[0], max(lo[0], z[0])), 2), round(min(hi[1], max(lo[1], z[1])), 2))

    value, status = _mount(_LATENT, key, "latent", data, "z", clean, on_commit, height)
    return Live(value, status, problem)


def gan_live(key: str, z_from: np.ndarray, z_to: np.ndarray, t: float = 0.0, z: np.ndarray | None = None,
             walk_seed: int = 0, strings: dict[str, str] | None = None,
             on_commit: Callable[[dict | None], None] | None = None, height: int | str = "content") -> Live:
    """G's digit, the classifier's label and D's verdict, live, along the path z_from -> z_to (a slider) or on a
    random walk in z (a button); it shows ``z`` when given (a committed walk), else the point at ``t``.
    ``value``: {"t": float in [0, 1]} when the slider is released, or {"z": list of
    floats clipped to [-10, 10]} when a walk stops; None before. Strings: GAN_STRINGS.
    """
    z_from, z_to = np.asarray(z_from, np.float32).reshape(-1), np.asarray(z_to, np.float32).reshape(-1)
    if z_from.shape != z_to.shape or not (np.isfinite(z_from).all() and np.isfinite(z_to).all()):
        raise ValueError("z_from and z_to must be finite vectors of one length")
    ort, models, problem = _spec(GAN_MODELS)
    data = {"ort": ort, "models": models, "problem": problem, "z_from": np.round(z_from, 6).tolist(),
            "z_to": np.round(z_to, 6).tolist(), "t": float(min(1.0, max(0.0, t))),
            "z": None if z is None else np.round(np.asarray(z, np.float32).reshape(-1), 6).tolist(),
            "walk_seed": int(walk_seed) % (2**32), "strings": _strings("gan", strings)}
    def clean(raw: Any) -> dict | None:
        if not isinstance(raw, dict):
            return None
        t = raw.get("t")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
            return {"t": float(min(1.0, max(0.0, t)))}
        z = _finite_list(raw.get("z"), len(z_from), -10.0, 10.0)
        return {"z": z} if z is not None else None

    value, status = _mount(_GAN, key, "gan", data, "value", clean, on_commit, height)
    return Live(value, status, problem)


def date_box(key: str, model: str = "transformer", text: str = "", strings: dict[str, str] | None = None,
             on_commit: Callable[[str | None], None] | None = None, height: int | str = "content") -> Live:
    """A text box whose date model decodes every keystroke in the browser: the output and the alignment (additive
    attention, or the Transformer's last-layer cross-attention averaged over heads). ``value``: the text, at most
    200 characters, when the user presses Enter; None before. Strings: DATE_STRINGS.
    """
    if model not in DATE_KINDS:
        raise ValueError(f"model must be one of {DATE_KINDS}")
    ort, models, problem = _spec({"encoder": f"{model}.encoder.onnx", "step": f"{model}.decoder_step.onnx"})
    lang = _lang()
    data = {"ort": ort, "models": models, "problem": problem, "kind": model, "text": str(text)[:MAX_TEXT],
            "strings": _strings("dates", strings),
            "verdicts": {k: i18n.t(k, lang) for k in i18n.catalogue() if k.startswith("verdict.")}}
    value, status = _mount(_DATES, key, "datebox", data, "text", _clean_text, on_commit, height)
    return Live(value, status, problem)


def _clean_text(v: Any) -> str | None:
    return v[:MAX_TEXT] if isinstance(v, str) else None
