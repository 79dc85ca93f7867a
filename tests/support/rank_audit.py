"""`python -m core.train ...` under an audit hook that records what this process writes (tests of torchrun runs).

    torchrun --standalone --nproc-per-node 2 -m tests.support.rank_audit autoencoder --out ... --runs ...

Each rank runs core.train exactly as `-m core.train` does, and at exit writes the paths it opened for writing,
created, renamed, removed or changed under $BML_AUDIT_ROOT to $BML_AUDIT_DIR/rank<RANK>.json (that file itself is
outside the root). Python-level file operations only: torch.save to a path or C++ writes would not be seen, and the
trainers write through core.atomic (Python) anyway.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys

ROOT = os.path.realpath(os.environ["BML_AUDIT_ROOT"])
OUT = os.environ["BML_AUDIT_DIR"]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.link", "os.symlink", "os.truncate",
           "os.chmod", "os.chown", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move", "tempfile.mkstemp",
           "tempfile.mkdtemp"}
seen: list[list[str]] = []
done = False


def _under_root(path) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    try:
        p = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    return p if p == ROOT or p.startswith(ROOT + os.sep) else None


def hook(event: str, args: tuple) -> None:
    if done:
        return
    if event == "open":
        path, mode, flags = (list(args) + [None, None, 0])[:3]
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
        p = _under_root(path) if writes else None
        if p:
            seen.append([event, p])
    elif event in CHANGES:
        for a in args[:2]:
            p = _under_root(a)
            if p:
                seen.append([event, p])


def report() -> None:
    global done
    done = True
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"rank{os.environ.get('RANK', '0')}.json"), "w") as f:
        json.dump(seen, f)


sys.addaudithook(hook)
atexit.register(report)
sys.argv[0] = "core.train"
runpy.run_module("core.train", run_name="__main__", alter_sys=True)
