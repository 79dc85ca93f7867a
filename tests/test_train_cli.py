"""`python -m core.train` checks every argument before any heavy import or data (issue 8, failure 10).

Each case runs the CLI's main() in a fresh interpreter and then reports which modules it had imported: a usage
error must exit 2 with an `error:` line and no traceback, without torch, the trainers or the MNIST reader loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import contextlib, io, json, sys
from core.train import main
err = io.StringIO()
with contextlib.redirect_stderr(err):
    try:
        rc = main(sys.argv[1:])
    except SystemExit as exc:
        rc = exc.code
heavy = sorted(m for m in ("torch", "core.training.common", "core.data.mnist", "numpy") if m in sys.modules)
print(json.dumps({"rc": rc, "stderr": err.getvalue(), "heavy": heavy}))
"""


def probe(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def cases(tmp: Path) -> dict[str, list[str]]:
    a_file = tmp / "a_file"
    a_file.write_text("not a folder")
    locked = tmp / "locked"
    locked.mkdir(mode=0o500)
    return {
        "seed -1": ["--seed", "-1"],
        "seed 2**40": ["--seed", str(2**40)],
        "seed as text 2**40": ["--seed", "2**40"],
        "seed 2**32": ["--seed", str(2**32)],
        "epochs 0": ["--epochs", "0"],
        "epochs -3": ["--epochs", "-3"],
        "out is a file": ["--out", str(a_file)],
        "out under a file": ["--out", str(a_file / "x")],
        "out not creatable": ["--out", "/proc/bml_no_such_folder/x" if os.geteuid() == 0 else str(locked / "s" / "x")],
        "runs is a file": ["--runs", str(a_file)],
        "data-dir missing": ["--data-dir", str(tmp / "no_such_folder")],
        "unknown model": [],
    }


CASES = ["seed -1", "seed 2**40", "seed as text 2**40", "seed 2**32", "epochs 0", "epochs -3", "out is a file",
         "out under a file", "out not creatable", "runs is a file", "data-dir missing", "unknown model"]


@pytest.mark.parametrize("case", CASES)
def test_usage_errors_exit_2_before_any_work(case, tmp_path):
    args = cases(tmp_path)[case]
    model = "no_such_model" if case == "unknown model" else "autoencoder"
    res = probe(model, "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"), *args)
    assert res["rc"] == 2, res
    lines = [ln for ln in res["stderr"].splitlines() if ln.strip()]
    assert any("error:" in ln for ln in lines) and "Traceback" not in res["stderr"], res["stderr"]
    assert res["heavy"] == [], f"{case}: imported {res['heavy']} before refusing"
    assert len(res["stderr"]) < 1000  # one usage line and the error, not a wall of text


def test_valid_arguments_pass_the_checks(tmp_path):
    from core.train import build_parser, check_args

    parser = build_parser()
    args = parser.parse_args(["autoencoder", "--seed", str(2**32 - 1), "--epochs", "1", "--out",
                              str(tmp_path / "new" / "out"), "--runs", str(tmp_path / "r"), "--data-dir", str(tmp_path)])
    check_args(parser, args)  # no SystemExit
