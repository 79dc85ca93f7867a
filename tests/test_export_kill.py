"""A real export (the small autoencoder, --export-only from a checkpoint) killed with SIGKILL, into a scratch copy of
exported/ that BML_EXPORTED points at: the old set stays whole and verified, every page serves it with no
"corrupt" message, and the next run clears the leftovers and succeeds. (The commit's every point is killed in
tests/test_transaction.py with a fast exporter; this is the same with the real trainer.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from core.manifest import check_artifact, read_manifest

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"
from tests.support.pages import page_errors

pytestmark = pytest.mark.slow


def verified(folder: Path) -> dict[str, str]:
    manifest = read_manifest(folder)
    assert manifest["files"] and not manifest["problems"]
    for name in manifest["files"]:
        check_artifact(name, folder)
    listed = set(manifest["files"]) | {"manifest.json"}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == listed, on_disk ^ listed
    return {n: e["sha256"] for n, e in manifest["files"].items()}


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.parent.iterdir()
            if p.name.startswith(f".{folder.name}.") and not p.name.endswith(".export-lock")] + \
           [p.name for p in folder.rglob(".*")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, mnist_dir):
    torch = pytest.importorskip("torch")
    from core.models.autoencoder import Autoencoder, AutoencoderConfig
    from core.training.common import save_checkpoint

    base = tmp_path_factory.mktemp("kill")
    scratch = base / "exported"
    shutil.copytree(EXPORTED, scratch)
    torch.manual_seed(1)  # an untrained autoencoder: its export differs from the committed one
    config = AutoencoderConfig()
    save_checkpoint(base / "runs" / "autoencoder" / "best.pt", model=Autoencoder(config).state_dict(),
                    config=asdict(config), epoch=1, val_mse=0.1)
    return scratch, base / "runs", mnist_dir


def export(scratch: Path, runs: Path, mnist: Path, kill_at: str | None = None, kill_when_staged_s: float | None = None):
    env = {**os.environ, "BML_EXPORTED": str(scratch), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("BML_TX_KILL_AT", None)
    if kill_at:
        env["BML_TX_KILL_AT"] = kill_at
    cmd = [sys.executable, "-m", "core.train", "autoencoder", "--export-only", "--data-dir", str(mnist),
           "--runs", str(runs), "--quiet"]  # no --out: BML_EXPORTED is the default
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_when_staged_s is not None:
        deadline = time.monotonic() + 300
        while not any(p.name.startswith(".exported.staging-") for p in scratch.parent.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, "the export ended before staging"
            time.sleep(0.05)
        time.sleep(kill_when_staged_s)  # somewhere inside the export phase; any moment must be safe
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, err.decode(errors="replace")


def test_a_killed_real_export_leaves_the_old_set_and_the_pages_serve_it(setup):
    scratch, runs, mnist = setup
    old = verified(scratch)

    rc, err = export(scratch, runs, mnist, kill_at="validated")  # everything written and validated, not switched
    assert rc == -signal.SIGKILL, err[-2000:]
    stages = [p for p in scratch.parent.iterdir() if p.name.startswith(".exported.staging-")]
    assert len(stages) == 1  # the complete new set was there, beside the old one
    assert verified(stages[0])["autoencoder.encoder.onnx"] != old["autoencoder.encoder.onnx"]
    assert verified(scratch) == old  # the old set, whole

    rc, err = export(scratch, runs, mnist, kill_when_staged_s=1.0)  # killed while writing the stage
    assert rc == -signal.SIGKILL, err[-2000:]
    assert verified(scratch) == old

    errors = page_errors(scratch)
    assert set(errors) >= {"app_pages/home.py", "app_pages/autoencoder.py", "app_pages/gan.py", "app_pages/models.py"}
    assert not any("corrupt" in m or "Traceback" in m for msgs in errors.values() for m in msgs), errors
    assert all(msgs == [] for msgs in errors.values()), errors

    rc, err = export(scratch, runs, mnist)  # the next run: clears what the killed ones left, then succeeds
    assert rc == 0, err[-2000:]
    new = verified(scratch)
    assert new["autoencoder.encoder.onnx"] != old["autoencoder.encoder.onnx"]
    assert new["classifier.onnx"] == old["classifier.onnx"]  # the rest of the set carried over unchanged
    assert leftovers(scratch) == []
