"""core/web/publish.py: the exported models reach static/_models/ as content-addressed links whose bytes are the
manifest's, survive exported/ being replaced as a whole folder, and leave once they are out of the manifest."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.atomic import sha256_file
from core.web import publish as pub

ROOT = Path(__file__).resolve().parent.parent


def _exported(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    man = {"format": 1, "files": {}}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        man["files"][name] = {"sha256": sha256_file(folder / name), "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(man))
    return folder


def test_publish_links_the_manifest_bytes_under_their_hash(tmp_path):
    exp = _exported(tmp_path / "exported", {"a.onnx": b"model a", "b.onnx": b"model b"})
    models = tmp_path / "static" / "_models"
    ok, bad = pub.publish(["a.onnx", "b.onnx", "missing.onnx"], exp, models)
    assert bad == {"missing.onnx": "missing.onnx is not listed in manifest.json"}
    sha = sha256_file(exp / "a.onnx")
    assert ok["a.onnx"]["sha256"] == sha and ok["a.onnx"]["bytes"] == 7
    assert ok["a.onnx"]["url"].endswith(f"/{sha}.onnx")
    target = models / f"{sha}.onnx"
    assert target.read_bytes() == b"model a"
    assert os.stat(target).st_ino == os.stat(exp / "a.onnx").st_ino  # a hard link: nothing stored twice
    assert pub.publish(["a.onnx"], exp, models)[0] == {"a.onnx": ok["a.onnx"]}  # idempotent


def test_a_file_that_differs_from_its_manifest_is_not_published(tmp_path):
    exp = _exported(tmp_path / "exported", {"a.onnx": b"model a"})
    (exp / "a.onnx").write_bytes(b"model A, changed in place")
    ok, bad = pub.publish(["a.onnx"], exp, tmp_path / "m")
    assert not ok and "sha256" in bad["a.onnx"]
    assert not any((tmp_path / "m").iterdir())  # no temporary left behind


def test_a_link_replaced_by_other_bytes_is_restored(tmp_path):
    exp = _exported(tmp_path / "exported", {"a.onnx": b"model a"})
    models = tmp_path / "m"
    ok, _ = pub.publish(["a.onnx"], exp, models)
    target = models / f"{ok['a.onnx']['sha256']}.onnx"
    os.unlink(target)
    target.write_bytes(b"model b")  # same size, other bytes
    time.sleep(0.01)
    os.utime(target)
    _, bad = pub.publish(["a.onnx"], exp, models)
    assert not bad and target.read_bytes() == b"model a"


def test_exported_swapped_as_a_whole_folder(tmp_path):
    exp = _exported(tmp_path / "exported", {"a.onnx": b"old a"})
    models = tmp_path / "m"
    old, _ = pub.publish(["a.onnx"], exp, models)
    staging = _exported(tmp_path / "exported.staging", {"a.onnx": b"new a"})
    os.rename(exp, tmp_path / "exported.old")
    os.rename(staging, exp)
    new, bad = pub.publish(["a.onnx"], exp, models)
    assert not bad and new["a.onnx"]["sha256"] != old["a.onnx"]["sha256"]
    assert (models / f"{new['a.onnx']['sha256']}.onnx").read_bytes() == b"new a"
    # pages that still hold the old URL get the old, consistent bytes until the grace period is over
    assert (models / f"{old['a.onnx']['sha256']}.onnx").read_bytes() == b"old a"
    removed = pub.prune(models, {new["a.onnx"]["sha256"]}, grace_s=0.0)
    assert removed == [f"{old['a.onnx']['sha256']}.onnx"]
    assert (models / f"{new['a.onnx']['sha256']}.onnx").exists()


def test_ort_spec_points_at_the_vendored_files():
    spec = pub.ort_spec()
    assert spec["version"] == "1.30.0"
    assert spec["files"]["wasm"]["url"] == "app/static/ort/ort-wasm-simd-threaded.wasm"
    assert spec["files"]["entry"]["url"] == "app/static/ort/ort.wasm.min.mjs"
    assert all(len(f["sha256"]) == 64 for f in spec["files"].values())


def test_the_real_models_publish(tmp_path):
    names = sorted(p.name for p in (ROOT / "exported").glob("*.onnx"))
    ok, bad = pub.publish(names, ROOT / "exported", tmp_path / "m")
    assert not bad and len(ok) == len(names) >= 13


@pytest.mark.parametrize("value,n,want", [
    ([1, 2], 2, [1.0, 2.0]), ([1, float("nan")], 2, None), ("12", 2, None), ([1], 2, None),
    ([1e9, -1e9], 2, [10.0, -10.0]), ([True, 2], 2, [1.0, 2.0]), ([None, 1], 2, None),
])
def test_committed_numbers_are_checked(value, n, want):
    from ui.live import _finite_list

    assert _finite_list(value, n, -10.0, 10.0) == want


def test_runtime_reports_are_reduced_to_known_plain_values():
    from ui.live import PAD_STRINGS, _clean_status, _strings

    assert _clean_status({"ok": True, "version": "1.30.0", "threads": 1, "load_ms": 812, "x": "<script>"}) == \
        {"ok": True, "scope": "runtime", "version": "1.30.0", "threads": 1, "load_ms": 812}
    assert _clean_status({"ok": "yes"}) is None and _clean_status("ok") is None
    assert _clean_status({"ok": False, "reason": "r" * 1000, "scope": "model"})["reason"] == "r" * 300
    assert PAD_STRINGS["clear"] == "Clear" and PAD_STRINGS["in_browser"] == "in your browser, {ms} ms"
    assert _strings("pad", {"clear": "Wipe"})["clear"] == "Wipe"
    with pytest.raises(ValueError, match="unknown live-view strings"):
        _strings("pad", {"clearr": "x"})


def test_every_live_string_is_in_the_catalogue_in_both_languages():
    from core import i18n
    from ui.live import _NAMES, defaults

    for view in _NAMES:
        if view != "common":
            en, zh = defaults(view, "en"), defaults(view, "zh")
            assert set(en) == set(zh) and all(en.values()) and all(zh.values())
    assert i18n.t("live.pad.clear", "zh") == "清除"
