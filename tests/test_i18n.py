"""The string catalogue: complete in both languages, every key the code names exists, and every page run with
?lang=zh shows no English a person would have to translate (technical names and data aside)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core import content, i18n
from core.sizecalc import PRESETS
from ui.app import PAGES as APP_PAGES

ROOT = Path(__file__).resolve().parent.parent
PAGES = [p.file for p in APP_PAGES]  # every page, in the router's order (ui/app.py)


def test_catalogue_is_complete_in_both_languages():
    assert i18n.catalogue(), "no strings found"
    assert i18n.problems() == []


def test_problems_reports_a_missing_language_and_mismatched_fields(monkeypatch):
    fake = {"a.b": {"en": "Hello {name}", "zh": "你好"}, "a.c": {"en": "x"}}
    monkeypatch.setattr(i18n, "catalogue", lambda: fake)
    found = i18n.problems()
    assert any("a.c" in p and "中文" in p for p in found)
    assert any("a.b" in p and "fields differ" in p for p in found)


_LITERAL = re.compile(r"""\b(?:ui\.t|i18n\.t|\bt)\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")


def test_every_key_the_code_names_exists():
    missing = {}
    for path in [*ROOT.glob("app_pages/*.py"), *ROOT.glob("ui/**/*.py"), ROOT / "core" / "figures.py"]:
        for key in _LITERAL.findall(path.read_text(encoding="utf-8")):
            if not i18n.has(key):
                missing.setdefault(key, path.name)
    assert not missing, missing


@pytest.mark.parametrize("locale,lang", [("zh-CN", "zh"), ("zh_TW", "zh"), ("zh-Hans-CN", "zh"), ("ZH", "zh"),
                                         ("en-US", "en"), ("fr-FR", "en"), ("", "en"), (None, "en"), (42, "en")])
def test_browser_locale_picks_the_language(locale, lang):
    assert i18n.lang_from_locale(locale) == lang


@pytest.mark.parametrize("hostile", [
    "[log in again](https://evil.example/login)", "![x](https://evil.example/pixel.png)", "<img src=x onerror=1>",
    ":red[**urgent**] :material/warning:", "`code` *bold* _it_ # head", "a\nb\n\n- item", "$\\frac{1}{0}$",
])
def test_escaped_visitor_text_has_no_markdown_left(hostile):
    out = i18n.esc_md(hostile)
    assert "\n" not in out
    # every Markdown-active character is preceded by a backslash
    for i, ch in enumerate(out):
        if ch in "[]()!<>:*`_#$":
            assert i > 0 and out[i - 1] == "\\", (hostile, out)
    assert len(i18n.esc_md("x" * 10_000)) < 260


# ------------------------------------------------------------------------------------- no English on a zh page
_STRIP = [
    re.compile(r"`[^`]*`"),  # code spans: commands, file names, values typed as-is
    re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S),  # LaTeX
    re.compile(r"<[^>]{0,40}>"),  # HTML/Plotly tags (<br>, <sup>, <extra>)
    re.compile(r"%\{[^}]*\}"),  # Plotly hover fields
    re.compile(r":material/[a-z_]+:|:[a-z]+\["),  # Streamlit icons and colour directives
    re.compile(r"https?://\S+"),
    re.compile(r"\b[0-9a-fA-F]{12,}\b"),  # hashes
    re.compile(r"\b[\w.-]+\.(?:onnx|npz|json|csv|png|py)\b"),  # file names
    re.compile(r"\\(.)"),  # Markdown escapes (keep the character)
]
TECHNICAL = set("""
ONNX MNIST GAN GANs DCGAN PCA MLP CPU GPU CUDA NVIDIA GRU CNN RNN LSTM Transformer Transformers BERT GPT ReLU tanh
sigmoid softmax SGD Adam AdamW onnxruntime PyTorch Keras TensorFlow Python JavaScript Microsoft OnnxRuntime web ISO
MSE FID KID sha opset Auto English Language CSV PNG JSON WebP TIFF JPEG GIF BMP token tokens Azure IR int fp bf MiniLM
""".split())


def _allowed_words() -> set[str]:
    """Words a Chinese page may show: technical names, the English names kept inside the Chinese texts themselves,
    and data (citations, model and file names, card fields, preset dates)."""
    words = set(TECHNICAL)

    def add(text):
        words.update(re.findall(r"[A-Za-z]+", str(text)))

    for entry in i18n.catalogue().values():
        add(entry["zh"])
    data = content.load_content()

    def walk(value, key=None):
        if content.is_bilingual(value):
            add(value["zh"])
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in ("as_cited", "corrected", "latex", "fixed_code"):
            add(value)

    walk(data)
    for p in PRESETS:
        add(p.name)
        add(p.source)
    manifest = json.loads((ROOT / "exported" / "manifest.json").read_text(encoding="utf-8"))
    for name, entry in manifest.get("files", {}).items():
        add(name)
        add(json.dumps(entry.get("ops", {})))
    examples = ROOT / "exported" / "dates_examples.json"
    if examples.is_file():
        add(examples.read_text(encoding="utf-8"))
    for card in _cards():
        add(card.get("architecture", ""))
        add(json.dumps(card.get("metrics", {})))
        for k in ("inputs", "outputs", "input_shapes", "output_shapes"):
            add(json.dumps(card.get(k, "")))
    add("tensor float int64 bool batch image logits features memory src cache token")  # ORT's own type names
    add_real_transformer_data(add)
    return words


def add_real_transformer_data(add) -> None:
    """The Real Transformer page's data: its preset sentences and the tokenizer's own token strings for them, and
    the MiniLM card's source fields (read from the weightless graph's metadata, no weights needed)."""
    import gzip

    from core.pretrained import examples

    texts = examples.all_texts()
    for text in texts:
        add(text)
    try:
        from tokenizers import Tokenizer

        from core.pretrained.weights import find_model_dir

        d = find_model_dir()
        if d is not None:
            tok = Tokenizer.from_file(str(d / "tokenizer.json"))
            for text in texts:
                add(" ".join(tok.encode(text).tokens))
    except ImportError:
        pass
    try:
        import onnx

        graph = onnx.load_model_from_string(gzip.decompress((ROOT / "exported" / "minilm.onnx.gz").read_bytes()))
        card = json.loads({p.key: p.value for p in graph.metadata_props}.get("model_card", "{}"))
        add(json.dumps(card.get("original_model", {})))
    except (ImportError, OSError, ValueError):
        pass


def _cards() -> list[dict]:
    import onnxruntime as ort

    out = []
    for path in sorted((ROOT / "exported").glob("*.onnx")):
        try:
            meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
            out.append(json.loads(meta.custom_metadata_map.get("model_card", "{}")))
        except Exception:
            pass
    return out


@pytest.fixture(scope="module")
def allowed() -> set[str]:
    return _allowed_words()


def english_left(text: str, allowed: set[str]) -> list[str]:
    for rx in _STRIP:
        text = rx.sub(lambda m: m.group(1) if m.groups() else " ", text)
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in allowed and w.lower() not in allowed]


def test_the_english_detector_finds_english(allowed):
    assert english_left("Reconstruction of the input", allowed)
    assert not english_left("重建 `python -m core.train gan` 在 ONNX 上 <br> %{x}", allowed)


@pytest.mark.parametrize("page", PAGES)
def test_page_in_chinese_shows_no_untranslated_text(page, allowed):
    from streamlit.testing.v1 import AppTest

    from tests.support.visible import visible_texts

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params["lang"] = "zh"
    at.run()
    if page != "app_pages/home.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    found = {}
    for text in visible_texts(at):
        for word in english_left(text, allowed):
            found.setdefault(word, text[:120])
    assert not found, found
