"""The export transaction (core/transaction.py): all or nothing, atomic for readers, safe against SIGKILL anywhere.

The kill tests run a small exporter in a subprocess over a scratch copy of the committed artifacts, kill it with
SIGKILL at every instrumented point of the commit (and at a few moments while it writes its stage), and prove that
the folder then verifies against its manifest as exactly the old set or exactly the new one, that the next run
leaves no staging folder or temporary file behind, and that the next run succeeds.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from core import transaction as tx
from core.atomic import atomic_save_npz, atomic_write_json, sha256_file
from core.manifest import ArtifactError, check_artifact, read_manifest, write_manifest
from core.transaction import POINTS, clear_leftovers, export_transaction

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file the manifest lists, verified (size and sha256); also: nothing unlisted, nothing hidden."""
    manifest = read_manifest(folder)
    assert manifest["files"] and not manifest["problems"]
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == set(manifest["files"]) | {"manifest.json"}, on_disk ^ set(manifest["files"])
    for name in manifest["files"]:
        check_artifact(name, folder)
    return {name: e["sha256"] for name, e in manifest["files"].items()}


def leftovers(folder: Path) -> list[str]:
    beside = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")
              and not p.name.endswith(".export-lock")]
    inside = [p.name for p in folder.rglob(".*")] if folder.is_dir() else []
    return beside + inside


@pytest.fixture
def small_set(tmp_path) -> Path:
    """A scratch set: a few of the committed artifacts (real files, real schemas) and their manifest."""
    out = tmp_path / "exported"
    (out / "history").mkdir(parents=True)
    for name in ("examples.npz", "pca.npz", "history/autoencoder.json", "dates_examples.json"):
        shutil.copy2(EXPORTED / name, out / name)
    write_manifest(out)
    return out


def new_examples(out: Path, seed: int = 1) -> None:
    with np.load(out / "examples.npz") as f:
        images, labels = f["images"], f["labels"]
    order = np.random.default_rng(seed).permutation(len(labels))
    atomic_save_npz(out / "examples.npz", images=images[order], labels=labels[order])


def test_commit_switches_the_whole_set_and_leaves_nothing_behind(small_set):
    before = snapshot(small_set)
    with export_transaction(small_set) as stage:
        assert stage.parent == small_set.parent and stage.name.startswith(".exported.staging-")
        assert snapshot_names(stage) == set(before)  # a full copy of the current set
        new_examples(stage)
        atomic_write_json(stage / "history" / "gan.json", {"model": "gan", "epochs": [
            {"epoch": 1, "loss_d": 1.0, "loss_g": 2.0}]})
    after = snapshot(small_set)
    assert set(after) == set(before) | {"history/gan.json"}
    assert after["examples.npz"] != before["examples.npz"] and after["pca.npz"] == before["pca.npz"]
    assert leftovers(small_set) == []


def snapshot_names(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"}


def test_an_exception_leaves_the_folder_untouched(small_set):
    before = snapshot(small_set)
    with pytest.raises(RuntimeError):
        with export_transaction(small_set) as stage:
            new_examples(stage)
            raise RuntimeError("export failed half way")
    assert snapshot(small_set) == before and leftovers(small_set) == []


@pytest.mark.parametrize("bad", ["truncated examples", "history as a list", "pca of the wrong shape"])
def test_an_invalid_artifact_is_refused_at_commit(small_set, bad):
    before = snapshot(small_set)
    with pytest.raises(ArtifactError) as err:
        with export_transaction(small_set) as stage:
            if bad == "truncated examples":
                data = (stage / "examples.npz").read_bytes()
                (stage / "examples.npz").write_bytes(data[: len(data) // 2])
            elif bad == "history as a list":
                atomic_write_json(stage / "history" / "autoencoder.json", [{"epoch": 1}])
            else:
                atomic_save_npz(stage / "pca.npz", mean=np.zeros(784, np.float32),
                                components=np.zeros((32, 783), np.float32), components_2=np.zeros((2, 784), np.float32))
    assert "python -m core.train" in str(err.value)
    assert snapshot(small_set) == before and leftovers(small_set) == []


def test_two_overlapping_exports_keep_each_others_files(small_set):
    """Two trainers exporting at once: the later commit keeps what the earlier one committed meanwhile."""
    first = export_transaction(small_set)
    stage1 = first.__enter__()
    with export_transaction(small_set) as stage2:
        atomic_write_json(stage2 / "history" / "gan.json", {"model": "gan", "epochs": [
            {"epoch": 1, "loss_d": 1.0, "loss_g": 2.0}]})
    new_examples(stage1)
    first.__exit__(None, None, None)
    files = snapshot(small_set)
    assert "history/gan.json" in files and files["examples.npz"] == sha256_file(small_set / "examples.npz")
    assert leftovers(small_set) == []


def test_without_rename_exchange_two_renames_are_used(small_set, monkeypatch):
    def refuse(a, b):
        raise OSError(errno.EINVAL, "not supported here")

    monkeypatch.setattr(tx, "exchange", refuse)
    before = snapshot(small_set)
    with export_transaction(small_set) as stage:
        new_examples(stage)
    after = snapshot(small_set)
    assert after["examples.npz"] != before["examples.npz"] and leftovers(small_set) == []


def test_rename_exchange_really_swaps_on_this_filesystem(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a"), (b / "x").write_text("b")
    try:
        tx.exchange(a, b)
    except OSError as exc:
        pytest.skip(f"this filesystem refuses RENAME_EXCHANGE ({exc}); the two-rename fallback is tested above")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_a_missing_folder_is_created_by_the_first_export(tmp_path):
    out = tmp_path / "deep" / "exported"
    with export_transaction(out) as stage:
        atomic_write_json(stage / "dates_examples.json", json.loads((EXPORTED / "dates_examples.json").read_text()))
    assert set(snapshot(out)) == {"dates_examples.json"} and leftovers(out) == []


def test_stale_leftovers_of_dead_runs_are_cleared_but_a_live_stage_is_kept(small_set):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a pid that has just exited
    stale = small_set.parent / f".exported.staging-{pid}-abcd1234"
    (stale / "history").mkdir(parents=True)
    (small_set / f".examples.npz.{pid}.xyz.tmp").write_bytes(b"half a file")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        kept = small_set.parent / f".exported.staging-{live.pid}-abcd1234"
        kept.mkdir()
        clear_leftovers(small_set)
        assert not stale.exists() and kept.exists() and not list(small_set.glob(".*.tmp"))
    finally:
        live.kill()
        live.wait()
    clear_leftovers(small_set)
    assert not kept.exists()


# ------------------------------------------------------------------------------------------------ SIGKILL anywhere
EXPORTER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from pathlib import Path
    from core import EXPORTED
    from core.atomic import atomic_save_npz, atomic_write_json
    from core.transaction import export_transaction

    slow = float(sys.argv[1])
    with export_transaction(EXPORTED) as stage:
        with np.load(stage / "examples.npz") as f:
            images, labels = f["images"], f["labels"]
        order = np.random.default_rng(int(time.time() * 1e6) % 2**32).permutation(len(labels))
        for i in range(8):  # several files, written one after another, slowly when asked
            atomic_save_npz(stage / "examples.npz", images=images[order], labels=labels[order])
            atomic_write_json(stage / "history" / "autoencoder.json", {"model": "autoencoder", "epochs": [
                {"epoch": e + 1, "val_mse": 0.01 * (e + 1), "run": i} for e in range(i + 1)]})
            time.sleep(slow)
    print("committed")
""")


def run_exporter(folder: Path, kill_at: str | None = None, slow: float = 0.0, kill_after_s: float | None = None,
                 no_exchange: bool = False) -> int:
    env = {**os.environ, "BML_EXPORTED": str(folder), "PYTHONPATH": str(ROOT)}
    env.pop(tx.KILL_HOOK_ENV, None)
    if kill_at:
        env[tx.KILL_HOOK_ENV] = kill_at
    code = EXPORTER
    if no_exchange:
        code = ("import errno, core.transaction as t\n"
                "def refuse(a, b): raise OSError(errno.EINVAL, 'no')\n"
                "t.exchange = refuse\n") + code
    proc = subprocess.Popen([sys.executable, "-c", code, str(slow)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    return proc.returncode


@pytest.mark.parametrize("point,no_exchange", [(p, False) for p in POINTS if p != "retired"] + [("retired", True)])
def test_sigkill_at_every_point_of_the_commit_leaves_one_whole_set(small_set, point, no_exchange):
    old = snapshot(small_set)
    rc = run_exporter(small_set, kill_at=point, no_exchange=no_exchange)
    assert rc == -signal.SIGKILL
    # the next run first clears what the killed one left (and rolls a half-done fallback switch back)
    clear_leftovers(small_set)
    now = snapshot(small_set)
    if point == "swapped":
        assert now != old  # the switch happened: the whole new set
    else:
        assert now == old, point  # the old set, intact
    assert leftovers(small_set) == []
    assert run_exporter(small_set) == 0  # and the next export succeeds
    assert snapshot(small_set) != now and leftovers(small_set) == []


@pytest.mark.parametrize("after_s", [0.35, 0.6, 0.9, 4.0])
def test_sigkill_while_the_stage_is_written_keeps_the_old_set(small_set, after_s):
    old = snapshot(small_set)
    rc = run_exporter(small_set, slow=0.05, kill_after_s=after_s)
    now = snapshot(small_set)  # before any clean-up: a reader sees one whole set, old or new
    if now != old:  # the kill came after the switch (a fast machine): then it is all of the new set, last write too
        history = json.loads((small_set / "history" / "autoencoder.json").read_text())
        assert [e["run"] for e in history["epochs"]] == [7] * 8, (rc, history)
    assert run_exporter(small_set) == 0
    assert leftovers(small_set) == []
