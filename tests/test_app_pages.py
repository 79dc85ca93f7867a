"""Streamlit's AppTest drives every page: no exception, and the widgets that make a view change what is shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.i18n import t
from core.manifest import read_manifest
from ui.app import PAGES as APP_PAGES

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PAGES = [p.file for p in APP_PAGES]  # every page, in the router's order (ui/app.py)
NEEDS = {  # the artifacts each page runs on
    "app_pages/autoencoder.py": ["autoencoder.encoder.onnx", "autoencoder.decoder.onnx",
                                 "conv_autoencoder.encoder.onnx", "conv_autoencoder.decoder.onnx",
                                 "autoencoder_2d.encoder.onnx", "autoencoder_2d.decoder.onnx", "examples.npz", "pca.npz"],
    "app_pages/gan.py": ["gan.generator.onnx", "gan.discriminator.onnx", "classifier.onnx", "gan_timeline.npz",
                         "history/gan.json", "dcgan.generator.onnx", "dcgan.discriminator.onnx", "dcgan_timeline.npz",
                         "history/dcgan.json", "dcgan_quality.json"],
    "app_pages/attention.py": ["seq2seq_attention.encoder.onnx", "seq2seq_attention.decoder_step.onnx"],
    "app_pages/transformer.py": ["transformer.encoder.onnx", "transformer.decoder_step.onnx",
                               "seq2seq_attention.encoder.onnx", "seq2seq_attention.decoder_step.onnx"],
}


def have(*files: str) -> bool:
    listed = read_manifest().get("files", {})
    return all(f in listed and (ROOT / "exported" / f).is_file() for f in files)


def need(page: str) -> None:
    missing = [f for f in NEEDS.get(page, []) if not have(f)]
    if missing:
        pytest.skip(f"exported/ lacks {', '.join(missing)} (build with python -m core.train all)")


def run(page: str, query: dict | None = None) -> AppTest:
    """The app through its router (streamlit_app.py), opened on ``page`` with ``query`` in the URL."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    if query:
        at.query_params.update({k: str(v) for k, v in query.items()})
    at.run()
    if page != "app_pages/home.py":
        at.switch_page(page).run()
    return at


UNEXPECTED = t("app.unexpected", "en")[:40]  # the router's message for an error a page did not handle


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    caught = [e.value for e in at.error if UNEXPECTED in e.value]
    assert not caught, "the router caught an unexpected error (see the log)"
    return at


def spec(at: AppTest, key: str) -> dict:
    """The Plotly figure of the chart drawn with ``key``."""
    for el in at.get("plotly_chart"):
        if el.proto.id.endswith("-" + key):
            return json.loads(el.proto.spec)
    keys = [el.proto.id.rsplit("-", 1)[-1] for el in at.get("plotly_chart")]
    raise AssertionError(f"no chart {key!r}; charts: {keys}")


def z_of(fig: dict, i: int = 0) -> np.ndarray:
    """A trace's z, whether Plotly wrote it as a list or as typed base64 ({dtype, bdata, shape})."""
    z = fig["data"][i]["z"]
    if isinstance(z, dict) and "bdata" in z:
        import base64

        arr = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
        return arr.reshape([int(s) for s in str(z["shape"]).split(",")])
    return np.asarray(z, dtype=float)


def plain(markdown: str) -> str:
    """A message as the visitor reads it: Markdown escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def bound(w) -> bool:
    """The widget's value lives in the URL under its key (bind="query-params")."""
    return getattr(w.proto, "query_param_key", "") == w.key


def widget(elements, key: str):
    for w in elements:
        if w.key == key:
            return w
    raise AssertionError(f"no widget {key!r} in {[w.key for w in elements]}")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(page):
    at = ok(run(page))
    if all(have(f) for f in NEEDS.get(page, [])) and page != "app_pages/models.py":
        assert not at.error, [e.value for e in at.error]


def test_home_has_a_card_per_page_and_the_runtime():
    import onnxruntime

    at = ok(run("app_pages/home.py"))
    assert len(at.get("page_link")) == 7
    assert any(m.value == onnxruntime.__version__ for m in at.metric)
    before = at.markdown.values
    at = ok(widget(at.radio, "lang").set_value("zh").run())
    assert any("神经网络" in v for v in at.markdown.values) and at.markdown.values != before


def test_gan_seed_changes_samples_and_lives_in_the_url():
    need("app_pages/gan.py")
    at = ok(run("app_pages/gan.py"))
    a, da = z_of(spec(at, "samples")), z_of(spec(at, "dsamples"))
    assert a.shape == da.shape and not np.array_equal(a, da)  # two generators, one set of noise vectors
    at = ok(widget(at.number_input, "seed").set_value(1).run())
    b = z_of(spec(at, "samples"))
    assert a.shape == b.shape and not np.array_equal(a, b)
    assert not np.array_equal(da, z_of(spec(at, "dsamples")))  # the seed drives both
    assert bound(widget(at.number_input, "seed"))  # the browser writes ?seed=1 (Streamlit's binding)
    again = ok(run("app_pages/gan.py", {"seed": 1}))  # a shared link opens the same view
    assert np.array_equal(z_of(spec(again, "samples")), b)
    hist = spec(again, "hist")["data"][0]["y"]
    assert sum(hist if isinstance(hist, list) else z_of({"data": [{"z": hist}]}).tolist()) == 1000
    at = ok(widget(again.number_input, "hseed").set_value(3).run())  # the check's own seed
    hist3 = spec(at, "hist")["data"][0]["y"]
    assert hist3 != hist and sum(hist3) == 1000
    dhist = spec(at, "dhist")["data"][0]["y"]
    assert sum(dhist) == 1000 and dhist != hist3  # the DCGAN's own histogram from the same seed


def test_gan_grid_and_timeline_epoch():
    need("app_pages/gan.py")
    at = ok(run("app_pages/gan.py", {"grid": 3}))
    assert widget(at.slider, "grid").value == 3
    epochs = widget(at.select_slider, "epoch").options
    if len(epochs) > 1:
        first = z_of(spec(at, "timeline"))
        at = ok(widget(at.select_slider, "epoch").set_value(int(epochs[0])).run())
        assert not np.array_equal(first, z_of(spec(at, "timeline")))
    depochs = widget(at.select_slider, "depoch").options
    assert depochs != epochs  # the DCGAN's timeline has its own epochs
    first = z_of(spec(at, "dtimeline"))
    at = ok(widget(at.select_slider, "depoch").set_value(int(depochs[0])).run())
    assert not np.array_equal(first, z_of(spec(at, "dtimeline")))
    # the quality table always has the floor and blurred real digits beside the two generators
    fid = spec(at, "quality_fid")["data"][0]
    assert len(fid["y"]) == 4 and fid["marker"]["color"][0] == fid["marker"]["color"][1] != fid["marker"]["color"][2]


def test_autoencoder_digit_and_latent_sliders_change_the_view():
    need("app_pages/autoencoder.py")
    at = ok(run("app_pages/autoencoder.py"))
    r1 = spec(at, "recon")
    titles = [a["text"] for a in r1["layout"]["annotations"]]
    assert sum("MSE" in t for t in titles) == 3 and any("PCA" in t for t in titles)
    at = ok(widget(at.selectbox, "digit").set_value(7).run())
    assert not np.array_equal(z_of(r1), z_of(spec(at, "recon")))
    d1 = z_of(spec(at, "decoded"))
    s = widget(at.slider, "z1")
    at = ok(s.set_value(s.max if abs(s.value - s.max) > 1 else s.min).run())
    assert not np.allclose(d1, z_of(spec(at, "decoded")))
    assert bound(widget(at.slider, "z1"))
    i1 = z_of(spec(at, "interp"))
    at = ok(widget(at.number_input, "b").set_value(42).run())
    assert not np.array_equal(i1, z_of(spec(at, "interp")))


def test_autoencoder_draw_and_upload_sources_wait_for_input():
    need("app_pages/autoencoder.py")
    at = ok(run("app_pages/autoencoder.py", {"source": "upload"}))
    assert any("Upload" in i.value for i in at.info)
    at = ok(run("app_pages/autoencoder.py", {"source": "draw"}))
    assert any("Draw a digit" in i.value for i in at.info)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_attention_another_date_gives_another_output():
    need("app_pages/attention.py")
    at = ok(run("app_pages/attention.py", {"text": "14 March 1987"}))
    first = _metric(at, "Output")
    assert len(first) == 10 and first[4] == "-"
    a1 = z_of(spec(at, "alignment"))
    at = ok(widget(at.text_input, "text").set_value("July 4, 2021").run())
    second = _metric(at, "Output")
    assert second != first and not np.array_equal(a1.shape, z_of(spec(at, "alignment")).shape) or second != first
    assert bound(widget(at.text_input, "text"))
    bars1 = spec(at, "step_bars")["data"][0]["y"]
    at = ok(widget(at.slider, "step").set_value(5).run())
    assert spec(at, "step_bars")["data"][0]["y"] != bars1


def test_attention_unreadable_text_is_a_clear_message():
    need("app_pages/attention.py")
    at = ok(run("app_pages/attention.py", {"text": "二〇二六年"}))
    assert any("outside the vocabulary" in plain(e.value) for e in at.error)


def test_transformer_layer_and_head_change_the_attention():
    need("app_pages/transformer.py")
    at = ok(run("app_pages/transformer.py", {"text": "Saturday, November 28, 2026"}))
    assert _metric(at, "Output") == "2026-11-28" or len(_metric(at, "Output")) > 0
    heads = widget(at.selectbox, "head").options
    layers = widget(at.selectbox, "layer").options
    cross = z_of(spec(at, "map_cross"))
    enc = z_of(spec(at, "map_enc_self"))
    if len(heads) > 1:
        at = ok(widget(at.selectbox, "head").set_value(heads[-1]).run())
        assert not np.allclose(cross, z_of(spec(at, "map_cross")))
        assert bound(widget(at.selectbox, "head"))
    if len(layers) > 1:
        at = ok(widget(at.selectbox, "layer").set_value(layers[-1]).run())
        assert not np.allclose(enc, z_of(spec(at, "map_enc_self")))
    grid = spec(at, "heads_grid")
    assert len(grid["data"]) == len(layers) * len(heads) or len(grid["data"]) >= len(heads)
    at = ok(widget(at.slider, "t").set_value(3).run())
    assert any("next token" in v for v in at.markdown.values)


def test_models_page_parity_and_latency():
    if not have("classifier.onnx"):
        pytest.skip("exported/classifier.onnx is missing")
    at = ok(run("app_pages/models.py", {"model": "classifier.onnx"}))
    assert widget(at.selectbox, "model").value == "classifier.onnx"
    at = ok(widget(at.button, "parity").click().run())
    if (ROOT / "exported" / "reference" / "classifier.npz").is_file():
        assert any("All outputs match" in s.value for s in at.success), [e.value for e in at.error]
    at = ok(widget(at.button, "latency").click().run())
    assert any("p50" in v and "p95" in v for v in at.markdown.values)
    assert len(at.code) == 3  # Python, JavaScript, C#


def test_corrupt_model_names_the_rebuild_command_and_the_page_goes_on(monkeypatch):
    need("app_pages/gan.py")
    import streamlit as st

    import core.manifest as manifest

    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file",
                        lambda p: "0" * 64 if Path(p).name == "gan.generator.onnx" else real(p))
    st.cache_resource.clear()  # sessions verified before the patch would hide the corruption
    try:
        at = ok(run("app_pages/gan.py"))
        msgs = [plain(e.value) for e in at.error]
        assert any("gan.generator.onnx" in m and "python -m core.train gan" in m for m in msgs), msgs
        spec(at, "timeline")  # the rest of the page still works
        spec(at, "dsamples")  # the DCGAN's half included
    finally:
        monkeypatch.undo()
        st.cache_resource.clear()


def test_cuda_requested_without_cuda_is_said_plainly():
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; there is no fallback to report")
    at = ok(run("app_pages/models.py", {"provider": "CUDA"}))
    assert widget(at.radio, "provider").value == "cuda"  # ?provider=CUDA: the label in the URL
    assert any("CUDA" in w.value and "CPU" in w.value for w in at.sidebar.warning)


def test_faq_language_search_and_calculator():
    at = ok(run("app_pages/faq.py"))
    n_all = len(at.expander)
    at = ok(widget(at.text_input, "q").set_value("BERT").run())
    assert 0 < len(at.expander) < n_all
    at = ok(widget(at.text_input, "q").set_value("").run())
    at = ok(widget(at.radio, "lang").set_value("zh").run())
    assert any("？" in e.label or "吗" in e.label or "什么" in e.label for e in at.expander)
    at = ok(widget(at.text_input, "params").set_value("7B").run())
    assert _metric(at, "fp16") == "14 GB" and _metric(at, "fp32") == "28 GB" and _metric(at, "int8") == "7 GB"
    at = ok(widget(at.text_input, "params").set_value("lots").run())  # the page is in Chinese: so is the error
    assert t("errors.count.start", "zh", shown="'lots'") in [plain(e.value) for e in at.error]


def test_models_page_switches_to_the_int8_twin_and_shows_its_drift():
    if not have("classifier.onnx", "classifier.int8.onnx"):
        pytest.skip("exported/ lacks classifier.int8.onnx (python -m core.quantize classifier)")
    at = ok(run("app_pages/models.py", {"model": "classifier.onnx", "precision": "int8"}))
    assert widget(at.radio, "precision").value == "int8"
    assert any("classifier.int8.onnx" in v for v in at.markdown.values)
    assert any("accuracy" in v and "predictions changed" in v for v in at.markdown.values)  # the drift table
    at = ok(widget(at.button, "parity").click().run())
    assert any("drift" in i.value for i in at.info)


@pytest.mark.parametrize("page", ["app_pages/attention.py", "app_pages/transformer.py"])
def test_an_impossible_date_is_explained_not_answered(page):
    need(page)
    at = ok(run(page, {"text": "31 February 2023"}))
    assert _metric(at, "Output") == t("seq.withheld", "en")
    warning = " ".join(plain(w.value) for w in at.warning)
    assert "28 days" in warning and "2023-02-31" in warning, warning
    at = ok(run(page, {"text": "31 February 2023", "lang": "zh"}))
    assert any("28 天" in w.value for w in at.warning)
    at = ok(run(page, {"text": "28 November 2026"}))
    assert _metric(at, "Output") == "2026-11-28" and not at.warning


SHARED_KEYS = {"text", "preset", "steps", "source", "digit", "n"}  # meant to be the same value on several pages


def test_widget_and_chart_keys_do_not_collide_across_pages():
    """Session state is one namespace for the whole visit: a key two pages use for different things (a number on
    one page, a sentence on another) broke the second page when a visitor went from one to the other."""
    seen: dict[str, str] = {}
    clashes = []
    for path in sorted((ROOT / "app_pages").glob("*.py")):
        for key in set(re.findall(r'\bkey="([A-Za-z_][\w.]*)"', path.read_text(encoding="utf-8"))):
            if key in seen and key not in SHARED_KEYS:
                clashes.append((key, seen[key], path.name))
            seen.setdefault(key, path.name)
    assert not clashes, clashes


def test_one_visitor_walks_every_page_in_one_session():
    """The same session through every page and back, changing something on each (as a visitor would)."""
    at = ok(run("app_pages/home.py"))
    order = PAGES[1:] + PAGES[::-1]
    for page in order:
        at = ok(at.switch_page(page).run())
        for kind in ("text_input", "text_area", "number_input"):
            for w in at.get(kind):
                if w.key in ("sentence", "sa", "sb"):
                    w.set_value("The bank raised interest rates.")
                elif w.key in ("a", "b", "n", "seed", "hseed"):
                    w.set_value(1)
        at = ok(at.run())
