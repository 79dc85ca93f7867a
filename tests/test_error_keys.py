"""Every error a dashboard visitor can meet is said in the visitor's language (core/i18n/strings/errors.toml).

A UserError raised with ``key=`` carries a catalogue key and the fields to fill in; ``str(exc)`` stays the English
message the CLIs print. Checked three ways: statically at every raise site in core/ (the catalogue's English text is
exactly the message the code builds), on real failures (the filled English text equals ``str(exc)``, the Chinese
one formats with the same fields), and on the dashboard itself (a Chinese page shows the Chinese message).
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import i18n
from core.errors import UserError
from tests.support import bombs

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"
EXPORTED = ROOT / "exported"
_CJK = re.compile(r"[\u4e00-\u9fff]")


# ------------------------------------------------------------------------------------------ (a) every raise site
def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"``: an f-string may use them as fixed text (the catalogue spells them out)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out[node.targets[0].id] = node.value.value
    return out


def _literal_key(call: ast.Call) -> str | None:
    for kw in call.keywords:
        if kw.arg == "key" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            return kw.value.value
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
    if name == "TextError" and len(call.args) >= 2 and isinstance(call.args[1], ast.Constant):
        return f"errors.text.{call.args[1].value}"  # TextError(message, code): key errors.text.<code>
    return None


def _template(call: ast.Call, constants: dict[str, str]) -> str:
    """The catalogue text a raise site implies: its message with each ``{expr}`` named by the field passed as that
    same expression (``f"{mb} MB"`` with ``mb=mb`` -> ``"{mb} MB"``); AssertionError when that cannot be done."""
    fields = {ast.unparse(kw.value): kw.arg for kw in call.keywords if kw.arg not in (None, "key")}
    assert call.args, "no message"
    msg = call.args[0]
    if isinstance(msg, ast.Constant) and isinstance(msg.value, str):
        return msg.value.replace("{", "{{").replace("}", "}}")
    assert isinstance(msg, ast.JoinedStr), f"the message is built at run time ({ast.unparse(msg)[:60]})"
    out = []
    for part in msg.values:
        if isinstance(part, ast.Constant):
            out.append(part.value.replace("{", "{{").replace("}", "}}"))
            continue
        expr = ast.unparse(part.value)
        assert part.conversion == -1 and part.format_spec is None, f"{{{expr}}}: format fields before passing them"
        if expr in fields:
            out.append("{" + fields[expr] + "}")
        elif expr in constants:
            out.append(constants[expr].replace("{", "{{").replace("}", "}}"))
        else:
            raise AssertionError(f"{{{expr}}} is not passed as a field")
    return "".join(out)


def raise_sites() -> list[tuple[str, str, str | None, set[str]]]:
    """(where, key, implied catalogue text or a problem, field names) for every keyed error built in core/."""
    sites = []
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            key = _literal_key(node)
            if key is None:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            names = {kw.arg for kw in node.keywords if kw.arg not in (None, "key")}
            try:
                sites.append((where, key, _template(node, constants), names))
            except AssertionError as exc:
                sites.append((where, key, None, {f"problem: {exc}"}))
    return sites


SITES = raise_sites()


def test_there_are_keyed_errors_in_every_room_a_page_shows():
    rooms = {where.split(":")[0] for where, *_ in SITES}
    for f in ("core/runtime/preprocess.py", "core/sizecalc.py", "core/tokenizer.py", "core/manifest.py",
              "core/runtime/session.py", "core/runtime/contracts.py", "core/runtime/artifacts.py",
              "core/pretrained/runtime.py", "core/pretrained/weights.py", "core/content/__init__.py"):
        assert f in rooms, f


def test_every_key_in_core_exists_and_its_english_is_the_message_the_code_builds():
    bad = []
    for where, key, template, names in SITES:
        if template is None:
            bad.append(f"{where}: {key}: {sorted(names)[0]}")
        elif not i18n.has(key):
            bad.append(f"{where}: {key} is not in the catalogue")
        elif i18n.catalogue()[key]["en"] != template:
            bad.append(f"{where}: {key}: the code says {template!r}, the catalogue {i18n.catalogue()[key]['en']!r}")
        elif i18n.fields_of(template) != names:
            bad.append(f"{where}: {key}: fields passed {sorted(names)}, used {sorted(i18n.fields_of(template))}")
    assert not bad, "\n".join(bad)


def test_every_error_text_in_the_catalogue_is_raised_somewhere():
    used = {key for _, key, _, _ in SITES}
    errors = {k for k in i18n.catalogue() if k.startswith("errors.")}
    assert errors - used == set()


def test_error_texts_take_plain_fields_only():
    """show_error escapes each field as text before filling it in: a format spec ({n:,}) or a field inside a
    code span (where Markdown escapes show as backslashes) would break the message."""
    for key, entry in i18n.catalogue().items():
        if key.startswith("errors."):
            for lang in i18n.LANGS:
                text = entry[lang]
                assert not re.search(r"\{[^{}]*[:!][^{}]*\}", text), (key, lang)
                assert not re.search(r"`[^`]*\{[^`]*`", text), (key, lang)
                if lang == "zh":
                    assert _CJK.search(text), key


# ----------------------------------------------------------------------------------------- (b) real failures
def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _catch(fn, *args, **kwargs) -> UserError:
    with pytest.raises(UserError) as err:
        fn(*args, **kwargs)
    return err.value


def _said_in_both(exc: UserError, key: str) -> None:
    assert exc.key == key, (exc.key, str(exc))
    assert i18n.t(exc.key, "en", **exc.fields) == str(exc)
    zh = i18n.t(exc.key, "zh", **exc.fields)
    assert _CJK.search(zh) and zh != str(exc)
    for value in exc.fields.values():
        assert str(value) in zh  # nothing the English names is lost in Chinese
    # and as a page shows it: every field escaped as text first (ui.show_error)
    i18n.t(exc.key, "zh", **{k: i18n.esc_md(v) for k, v in exc.fields.items()})


def _one_dot() -> bytes:
    img = Image.new("L", (64, 64), 255)
    img.putpixel((30, 30), 0)
    return _png(img)


def _truncated_png() -> bytes:
    img = Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8))
    data = _png(img)
    return data[: len(data) // 2]


IMAGES = {
    "blank": (lambda: _png(Image.new("L", (64, 64), 255)), "errors.image.blank"),
    "bomb": (lambda: bombs.png_bomb(20_000, 20_000), "errors.image.too_large"),
    "not an image": (lambda: b"%PDF-1.7 this is no picture", "errors.image.not_an_image"),
    "empty": (lambda: b"", "errors.image.empty_file"),
    "tiny": (lambda: _png(Image.new("L", (4, 4), 0)), "errors.image.too_small"),
    "one dot": (_one_dot, "errors.image.little_ink"),
    "truncated": (_truncated_png, "errors.image.damaged"),
    "webp canvas": (bombs.webp_canvas_bomb, "errors.image.too_large"),
}


@pytest.mark.parametrize("case", list(IMAGES))
def test_image_failures_are_said_in_both_languages(case):
    from core.runtime.preprocess import preprocess

    make, key = IMAGES[case]
    _said_in_both(_catch(preprocess, make()), key)


def test_drawing_failures_are_said_in_both_languages():
    from core.runtime.preprocess import decode_data_url

    _said_in_both(_catch(decode_data_url, "javascript:alert(1)"), "errors.image.drawing_not_url")
    _said_in_both(_catch(decode_data_url, "data:image/png;base64," + "A" * (5 << 20)), "errors.image.drawing_too_large")


@pytest.mark.parametrize("text, key", [
    ("1e400", "errors.count.too_large"), ("9" * 30, "errors.count.too_large_text"), ("lots", "errors.count.start"),
    ("二〇二六年", "errors.count.start_text"), ("1.5 GB", "errors.count.character"), ("", "errors.count.empty"),
    ("1e", "errors.count.exponent"), ("nan", "errors.count.not_finite"), ("-5M", "errors.count.negative"),
    ("x" * 70, "errors.count.too_long"), ("1.", "errors.count.decimal"), ("<b>1.5x</b>", "errors.count.start_text"),
])
def test_calculator_failures_are_said_in_both_languages(text, key):
    from core.sizecalc import parse_count

    exc = _catch(parse_count, text)
    _said_in_both(exc, key)
    assert "<" not in json.dumps(exc.fields, ensure_ascii=False)  # visitor text reaches a field only as a safe excerpt


@pytest.mark.parametrize("text, key", [
    ("二〇二六年", "errors.date.outside"), ("Nov 28 2026!", "errors.date.outside_one"), ("   ", "errors.date.empty"),
    ("Wednesday, September 30, 2026 and more", "errors.date.too_long"),
])
def test_date_tokenizer_failures_are_said_in_both_languages(text, key):
    from core.tokenizer import encode_source

    exc = _catch(encode_source, text)
    _said_in_both(exc, key)
    if key == "errors.date.outside":
        assert exc.fields["chars"] == "'〇', '二', '六', '年'"


def test_the_characters_outside_the_vocabulary_are_a_short_field():
    from core.tokenizer import MAX_SHOWN, encode_source

    exc = _catch(encode_source, "".join(chr(0x4E00 + i) for i in range(200)))
    assert exc.fields["n"] == 200 and exc.fields["chars"].count("'") == 2 * MAX_SHOWN and len(str(exc)) < 200
    _said_in_both(exc, "errors.date.outside")


# --------------------------------------------------------------------------- missing, corrupt or changed files
@pytest.fixture()
def scratch(tmp_path, monkeypatch) -> Path:
    """A small exported/ of its own: two real model files, the examples and the manifest."""
    from core.manifest import write_manifest

    out = tmp_path / "exported"
    out.mkdir()
    for name in ("autoencoder.encoder.onnx", "classifier.onnx", "examples.npz"):
        if not (EXPORTED / name).is_file():
            pytest.skip(f"exported/{name} is missing (python -m core.train all)")
        shutil.copy(EXPORTED / name, out / name)
    write_manifest(out)
    monkeypatch.setenv("BML_EXPORTED", str(out))
    return out


def _load(name: str, folder: Path):
    from core.runtime.session import load_model

    return load_model(name, "cpu", exported_dir=folder, threads=1)


def test_a_missing_model_file_is_said_in_both_languages(scratch):
    (scratch / "classifier.onnx").unlink()
    exc = _catch(_load, "classifier.onnx", scratch)
    _said_in_both(exc, "errors.artifact.missing")
    assert exc.fields["file"] == "classifier.onnx" and exc.fields["cmd"] == "python -m core.train classifier"
    assert "python -m core.train classifier" in i18n.t(exc.key, "zh", **exc.fields)


def test_a_corrupt_model_file_is_said_in_both_languages(scratch):
    path = scratch / "classifier.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, another sha256
    path.write_bytes(bytes(data))
    _said_in_both(_catch(_load, "classifier.onnx", scratch), "errors.artifact.sha_changed")
    path.write_bytes(bytes(data[:-10]))
    _said_in_both(_catch(_load, "classifier.onnx", scratch), "errors.artifact.size_changed")


def test_an_unlisted_a_wrong_and_an_unreadable_file_are_said_in_both_languages(scratch):
    from core.manifest import write_manifest
    from core.runtime.artifacts import load_reference
    from core.runtime.mnist import load_examples

    shutil.copy(EXPORTED / "classifier.onnx", scratch / "gan.generator.onnx")
    _said_in_both(_catch(_load, "gan.generator.onnx", scratch), "errors.artifact.not_listed")
    write_manifest(scratch)  # listed now, but it is the classifier's graph
    exc = _catch(_load, "gan.generator.onnx", scratch)
    _said_in_both(exc, "errors.artifact.unexpected")
    assert exc.fields["cmd"] == "python -m core.train gan"
    (scratch / "examples.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (scratch / "autoencoder.encoder.onnx").write_bytes(b"\x08\x07 not an onnx graph")
    write_manifest(scratch)
    _said_in_both(_catch(load_examples, scratch), "errors.artifact.unreadable")
    _said_in_both(_catch(_load, "autoencoder.encoder.onnx", scratch), "errors.model.ort_refused")
    _said_in_both(_catch(load_reference, "no model"), "errors.artifact.not_a_model_name")
    (scratch / "manifest.json").write_text("[]")
    _said_in_both(_catch(_load, "classifier.onnx", scratch), "errors.artifact.manifest_invalid")
    (scratch / "manifest.json").write_text("{")
    _said_in_both(_catch(_load, "classifier.onnx", scratch), "errors.artifact.unreadable")


def test_content_weights_and_text_failures_are_said_in_both_languages(tmp_path):
    from core import content
    from core.pretrained import runtime as rt
    from core.pretrained import weights

    _said_in_both(_catch(content.load_content, tmp_path / "none.json"), "errors.content.missing")
    (tmp_path / "bad.json").write_text("{")
    _said_in_both(_catch(content.load_content, tmp_path / "bad.json"), "errors.content.unreadable")
    (tmp_path / "empty.json").write_text("{}")
    _said_in_both(_catch(content.load_content, tmp_path / "empty.json"), "errors.content.sections")

    _said_in_both(_catch(weights.verify_file, tmp_path / "model.safetensors", "0" * 64), "errors.weights.missing")
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 4)
    _said_in_both(_catch(weights.verify_file, tmp_path / "model.safetensors", "0" * 64), "errors.weights.not_pinned")
    _said_in_both(_catch(weights.SafeTensors, tmp_path / "model.safetensors"), "errors.weights.too_short")

    for text, code in ((None, "not_text"), (" \n\t ", "empty")):
        exc = _catch(rt.clean_text, text)
        assert exc.code == code  # the Real Transformer page's own codes are kept
        _said_in_both(exc, f"errors.text.{code}")


# ------------------------------------------------------------------------------- (c) the page, in Chinese
def _page(page: str, query: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def test_an_uploaded_blank_image_is_refused_in_chinese():
    pytest.importorskip("streamlit")
    at = _page("app_pages/autoencoder.py", {"lang": "zh", "source": "upload"})
    assert len(at.get("file_uploader")) == 1, "the upload source shows one uploader"
    # AppTest formats every radio's value again between runs, outside the page (where the label comes out in
    # English): give it the label the page drew, as the browser would
    source = next(r for r in at.radio if r.key == "source")
    source.set_value(source.options[2])
    at.get("file_uploader")[0].set_value(("blank.png", _png(Image.new("L", (64, 64), 255)), "image/png"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    want = i18n.t("errors.image.blank", "zh")
    assert any(_plain(e.value) == want for e in at.error), [e.value for e in at.error]
    assert not any("No digit found" in e.value for e in at.error)


@pytest.mark.parametrize("page, query, key, fields", [
    ("app_pages/faq.py", {"params": "lots"}, "errors.count.start", {"shown": "'lots'"}),
    ("app_pages/attention.py", {"text": "二〇二六年"}, "errors.date.outside", {"n": 4, "chars": "'〇', '二', '六', '年'"}),
])
def test_visitor_input_errors_are_chinese_on_a_chinese_page(page, query, key, fields):
    pytest.importorskip("streamlit")
    if page == "app_pages/attention.py" and not (EXPORTED / "seq2seq_attention.encoder.onnx").is_file():
        pytest.skip("exported/ lacks the attention model (python -m core.train seq2seq_attention)")
    at = _page(page, {"lang": "zh", **query})
    shown = [_plain(e.value) for e in at.error]
    assert i18n.t(key, "zh", **fields) in shown, shown
    at = _page(page, {"lang": "en", **query})
    assert i18n.t(key, "en", **fields) in [_plain(e.value) for e in at.error]
