"""A bare page with the live views (ui/live), for the browser tests and benchmarks/browser_bench.py, before the
dashboard's pages use them. tests/support/live_server.py runs it with `streamlit run` from a folder whose static/
is this repository's static/ (Streamlit serves the static/ folder beside the main script).

?view=pad | judge | latent | gan | dates | all (default all). Every committed value is echoed as text so a test
can see what reached Python, and the number of script runs is counted.
"""

import sys
import time
from pathlib import Path

ROOT = Path.cwd()  # live_server.py starts streamlit in the repository root
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np
import streamlit as st

from core.runtime.mnist import gan_noise, load_examples
from ui import live

st.set_page_config(page_title="live views", layout="wide")
st.session_state["runs"] = st.session_state.get("runs", 0) + 1
view = st.query_params.get("view", "all")
_t0 = time.perf_counter()
show = (lambda v: view in (v, "all"))


@st.cache_resource
def latent_codes():
    from core.runtime import mnist
    from core.runtime.session import load_model

    ex = load_examples()
    return ex, mnist.encode(load_model("autoencoder_2d.encoder.onnx"), mnist.to_model_input(ex["images"]))


@st.cache_resource
def pad_models_b64() -> dict:
    import base64

    return {n: base64.b64encode((ROOT / "exported" / n).read_bytes()).decode()
            for n in live.PAD_MODELS["autoencoder"].values()}


@st.cache_resource
def data_path_probe():
    js = """export default function (c) {
      let n = 0; for (const v of Object.values(c.data.b64)) n += v.length;
      const box = c.parentElement.querySelector("div") || c.parentElement.appendChild(document.createElement("div"));
      box.textContent = `received ${n} base64 characters`; }"""
    return st.components.v2.component("bml_data_path_probe", html="", js=js)


def echo(name: str, res: live.Live) -> None:
    global _t0
    took = (time.perf_counter() - _t0) * 1000
    value = res.value
    if isinstance(value, str) and value.startswith("data:"):
        value = f"png {len(value)} chars"
    elif isinstance(value, dict) and "z" in value:
        value = {"z[:3]": [round(v, 3) for v in value["z"][:3]]}
    st.text(f"{name}: committed={value!r} in_browser={res.in_browser} runtime={res.runtime} problem={res.problem} "
            f"python={took:.1f} ms")
    _t0 = time.perf_counter()


if show("pad"):
    echo("pad", live.live_pad("pad", mode="autoencoder"))
if show("judge"):
    echo("judge", live.live_pad("judge", mode="discriminator"))
if show("latent"):
    ex, codes = latent_codes()
    lo, hi = np.floor(codes.min(0) - 0.5), np.ceil(codes.max(0) + 0.5)
    res = live.latent_map("latent", codes, ex["labels"], value=(0.0, 0.0), lo=tuple(lo), hi=tuple(hi),
                          on_commit=lambda z: st.session_state.__setitem__("latent_callback", z))
    echo("latent", res)
    st.text(f"latent callback got {st.session_state.get('latent_callback')!r}")
if show("gan"):
    echo("gan", live.gan_live("gan", gan_noise(1, 1)[0], gan_noise(2, 1)[0], t=0.0, walk_seed=7))
if show("dates"):
    echo("dates_t", live.date_box("dates_t", "transformer", text="Nov 28 2026"))
    echo("dates_a", live.date_box("dates_a", "seq2seq_attention", text="Nov 28 2026"))
if view == "datapath":  # a measurement for benchmarks/browser_bench.py: the pad's models sent as component data
    probe = data_path_probe()
    probe(key="probe", data={"b64": pad_models_b64()}, height=30)
    st.button("rerun", key="rerun")
st.text(f"script runs: {st.session_state['runs']}; session runtime: {live.runtime_status()}")
