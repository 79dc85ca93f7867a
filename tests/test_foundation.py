"""The shared pieces: atomic writes, the manifest, ORT sessions and provider fallback, ONNX export and validation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.atomic import atomic_write_bytes, atomic_write_json, sha256_file
from core.manifest import ArtifactError, check_artifact, read_manifest, rebuild_command, write_manifest
from core.runtime.session import ModelError, load_model, open_session, provider_list

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"v": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temp file left behind


def test_manifest_detects_missing_and_corrupt_files(tmp_path):
    (tmp_path / "history").mkdir()
    (tmp_path / "gan.generator.onnx").write_bytes(b"not really onnx")
    (tmp_path / "history" / "gan.json").write_text("{}")
    m = write_manifest(tmp_path)
    assert set(m["files"]) == {"gan.generator.onnx", "history/gan.json"}
    assert m["files"]["gan.generator.onnx"]["sha256"] == sha256_file(tmp_path / "gan.generator.onnx")
    assert check_artifact("gan.generator.onnx", tmp_path) == tmp_path / "gan.generator.onnx"

    (tmp_path / "gan.generator.onnx").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="python -m core.train gan"):
        check_artifact("gan.generator.onnx", tmp_path)
    (tmp_path / "gan.generator.onnx").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        check_artifact("gan.generator.onnx", tmp_path)


def test_rebuild_command_names_the_model():
    assert rebuild_command("autoencoder_2d.decoder.onnx") == "python -m core.train autoencoder_2d"
    assert rebuild_command("autoencoder.encoder.onnx") == "python -m core.train autoencoder"
    assert rebuild_command("reference/transformer.encoder.npz") == "python -m core.train transformer"
    assert rebuild_command("history/seq2seq_attention.json") == "python -m core.train seq2seq_attention"


def test_unreadable_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ArtifactError, match="unreadable"):
        read_manifest(tmp_path)


def test_cuda_requested_without_cuda_says_so():
    providers, note = provider_list("cuda")
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert providers[0] == "CUDAExecutionProvider"
    else:
        assert providers == ["CPUExecutionProvider"] and "CUDA was requested" in note
    assert provider_list("cpu") == (["CPUExecutionProvider"], None)
    with pytest.raises(ModelError):
        provider_list("tpu")


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """A small untrained model exported through core.export, as every trainer does."""
    torch = pytest.importorskip("torch")
    from core.export import base_card, export_onnx, finish, validate_onnx

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(784, 8)

        def forward(self, image):
            return torch.relu(self.fc(image.flatten(1)))

    torch.manual_seed(0)
    model = Tiny().eval()
    out = tmp_path_factory.mktemp("exported")
    path = out / "tiny.encoder.onnx"  # no dashboard contract for this name (see the contract test below)
    batch = torch.export.Dim("batch")
    export_onnx(model, (torch.rand(2, 1, 28, 28),), path, ["image"], ["z"], ({0: batch},),
                card=base_card("tiny", model, {"d": 8}))
    worst = validate_onnx(path, model, lambda n: (torch.rand(n, 1, 28, 28),), ["image"], sizes=(3, 7))
    finish(out)
    return out, path, model, worst


def test_export_is_one_self_contained_file_with_dynamic_batch(tiny_export):
    out, path, _, worst = tiny_export
    import onnx

    assert worst <= 1e-4
    assert not list(out.glob("*.data"))
    model = onnx.load(str(path))
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param and not dim0.dim_value  # batch axis is symbolic, not fixed to the example's 2
    assert all(len(n.metadata_props) == 0 for n in model.graph.node)  # no local paths in the file
    blob = path.read_bytes()
    assert b"site-packages" not in blob and b"/root/" not in blob


def test_exported_card_and_manifest_are_readable_without_torch(tiny_export):
    out, path, model, _ = tiny_export
    lm = load_model(path.name, "cpu", exported_dir=out)
    assert lm.card["name"] == "tiny" and lm.card["parameters"] == 784 * 8 + 8
    assert lm.providers == ["CPUExecutionProvider"]
    z = lm.run({"image": np.zeros((5, 1, 28, 28), np.float32)})["z"]
    assert z.shape == (5, 8)
    entry = read_manifest(out)["files"][path.name]
    assert entry["opset"] >= 17 and entry["ops"]


def test_a_valid_onnx_of_another_model_under_a_models_name_is_refused(tiny_export, tmp_path):
    out, path, _, _ = tiny_export
    (tmp_path / "autoencoder.encoder.onnx").write_bytes(path.read_bytes())
    write_manifest(tmp_path)
    with pytest.raises(ModelError, match="python -m core.train autoencoder") as err:
        load_model("autoencoder.encoder.onnx", "cpu", exported_dir=tmp_path)
    assert "output z has shape [batch, 8], expected [B, 32]" in str(err.value)


def test_validate_onnx_fails_loudly_on_mismatch(tiny_export):
    torch = pytest.importorskip("torch")
    from core.export import ExportError, validate_onnx

    _, path, model, _ = tiny_export
    with pytest.raises(ExportError, match="differs"):
        validate_onnx(path, lambda x: model(x) + 1e-2, lambda n: (torch.rand(n, 1, 28, 28),), ["image"])


def test_corrupt_onnx_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match="could not be loaded"):
        open_session(bad)


def test_train_cli_reports_bad_device_without_traceback(tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = subprocess.run([sys.executable, "-m", "core.train", "classifier", "--device", "cuda", "--epochs", "1",
                        "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"), "--quiet"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert "error:" in r.stderr and "CUDA" in r.stderr and "Traceback" not in r.stderr
