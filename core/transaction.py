"""Transactional export: a whole new set of artifacts appears in ``out_dir`` in one step, or not at all (no torch).

    from core.transaction import export_transaction
    with export_transaction(out_dir) as stage:   # a Path: a full copy of out_dir's current set
        ...write every new or changed artifact under stage, same relative names...
    # normal exit: stage/manifest.json is written, every new or changed artifact is validated, then the whole set
    # is switched in one step. An exception or a kill leaves out_dir untouched; the next run clears the leftovers.

How it works. The stage is a folder beside ``out_dir`` (same filesystem): ``.<name>.staging-<pid>-<random>``. At
commit, under an advisory lock (``.<name>.export-lock``), files that another run committed since this stage was
copied and that this run did not write are brought in (two trainers can export at once without losing each other's
files), the manifest is rewritten, new and changed files are validated (core.runtime.contracts), everything is
fsynced, and ``renameat2(RENAME_EXCHANGE)`` swaps the stage and ``out_dir`` atomically: a reader opening
``out_dir/x`` sees either the old set or the new one. The stage path then holds the old set, which is removed.
Readers that catch a manifest/file mismatch right at the switch re-read once (core.manifest.read_artifact).

Leftovers of a killed run (a stage, an old set not yet removed, ``.*.tmp`` files of interrupted atomic writes) are
removed at the start of the next transaction on the same folder: a stage whose pid is dead (or older than
STALE_AFTER_S), every ``.*.tmp`` inside ``out_dir`` (nothing writes there directly any more).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from core.atomic import pid_alive
from core.errors import UserError

STALE_AFTER_S = 12 * 3600  # a stage older than this is stale even if its pid looks alive (pid reuse)
KILL_HOOK_ENV = "BML_TX_KILL_AT"  # tests: SIGKILL this process at the named point (see _point)
POINTS = ("staged", "written", "merged", "manifest", "validated", "synced", "swapped", "retired")

_ACTIVE: set[Path] = set()  # stages of this process now open (never cleared as stale)
_ACTIVE_LOCK = threading.Lock()


class TransactionError(UserError):
    """The export could not be switched in (a validation failure, or a folder that cannot be written)."""


def _point(name: str) -> None:
    """Instrumented points for the kill test: ``BML_TX_KILL_AT=swapped`` kills the process right after the swap."""
    if os.environ.get(KILL_HOOK_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _names(out_dir: Path) -> tuple[str, str, str]:
    return f".{out_dir.name}.staging-", f".{out_dir.name}.retired-", f".{out_dir.name}.export-lock"


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>staging|retired)-(?P<pid>\d+)-[0-9a-f]+$")


def _stale(path: Path, pid: int) -> bool:
    with _ACTIVE_LOCK:
        if path in _ACTIVE:
            return False
    if pid == os.getpid() or not pid_alive(pid):
        return True
    try:
        return time.time() - path.stat().st_mtime > STALE_AFTER_S
    except OSError:
        return False


def clear_leftovers(out_dir: str | os.PathLike) -> list[Path]:
    """Remove what killed runs left: stale stages and retired sets beside ``out_dir``, ``.*.tmp`` inside it.

    When ``out_dir`` itself is missing because a run was killed between the two renames of the fallback switch,
    the retired (old) set is put back first. Returns what was removed.
    """
    out_dir = Path(out_dir).absolute()
    parent = out_dir.parent
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    leftovers = []
    for p in parent.iterdir():
        m = _LEFTOVER.match(p.name)
        if m and m["name"] == out_dir.name and p.is_dir() and _stale(p, int(m["pid"])):
            leftovers.append((m["kind"], p))
    if not out_dir.exists():
        retired = sorted((p for kind, p in leftovers if kind == "retired"), key=lambda p: p.stat().st_mtime)
        if retired:
            os.rename(retired[-1], out_dir)  # roll back: the old set was complete, the new one may not be
            leftovers = [(k, p) for k, p in leftovers if p != retired[-1]]
    for _, p in leftovers:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    if out_dir.is_dir():
        for p in out_dir.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _files(root: Path) -> dict[str, Path]:
    """The set's files by relative posix name (hidden files and temporaries are not part of a set)."""
    out = {}
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root)
            if p.is_file() and not any(part.startswith(".") for part in rel.parts) and p.suffix != ".tmp":
                out[rel.as_posix()] = p
    return out


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_set(src: Path, dst: Path) -> dict[str, str]:
    """Copy every file of ``src`` into ``dst`` (real copies: an in-place write to the stage must never reach the
    live set through a hard link); returns {name: sha256} of what was copied."""
    shas = {}
    for rel, p in _files(src).items():
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)
        shas[rel] = _sha(target)
    return shas


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}


def exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); OSError where the kernel or filesystem can't."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError) as exc:  # glibc < 2.28, musl, not Linux
        raise OSError(errno.ENOSYS, "renameat2 is not available") from exc
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


def _switch(stage: Path, out_dir: Path, retired: Path) -> None:
    """Make ``stage`` the new ``out_dir``; afterwards ``retired`` holds the old set (if there was one)."""
    if not out_dir.exists():
        os.rename(stage, out_dir)  # nothing to replace: one rename is atomic
        return
    try:
        exchange(stage, out_dir)
        os.rename(stage, retired)  # stage now names the old set
        return
    except OSError as exc:
        if exc.errno not in _NO_EXCHANGE:
            raise
    # Fallback where the filesystem refuses RENAME_EXCHANGE (some network and FUSE filesystems, old kernels): two
    # renames. Between them out_dir does not exist for a moment; a reader then sees a missing file and re-reads once
    # (core.manifest.read_artifact), and a run killed exactly there is rolled back by clear_leftovers (the retired
    # old set is renamed back into place).
    os.rename(out_dir, retired)
    _point("retired")
    try:
        os.rename(stage, out_dir)
    except OSError:
        os.rename(retired, out_dir)  # put the old set back before reporting
        raise


def _default_validate(name: str, path: Path) -> None:
    from core.runtime.contracts import validate_file

    validate_file(name, path)


@contextlib.contextmanager
def export_transaction(out_dir: str | os.PathLike,
                       validate: Callable[[str, Path], None] | None = _default_validate) -> Iterator[Path]:
    """Stage a whole new set of artifacts for ``out_dir`` and switch it in atomically on normal exit.

    ``validate(name, path)`` is called for every new or changed file at commit (None: no validation); it raises a
    UserError (ArtifactError) to refuse the set. Raises TransactionError when the folders cannot be written.
    """
    from core.manifest import write_manifest

    out_dir = Path(out_dir).resolve()  # a symlinked out_dir: switch the folder it points to, keep the link
    parent = out_dir.parent
    stage_prefix, retired_prefix, lock_name = _names(out_dir)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if out_dir.exists() and not out_dir.is_dir():
            raise TransactionError(f"{out_dir} is a file, not a folder")
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        stage = parent / f"{stage_prefix}{token}"
        with _locked(parent / lock_name):
            clear_leftovers(out_dir)
            stage.mkdir()
            with _ACTIVE_LOCK:
                _ACTIVE.add(stage)
            base = _copy_set(out_dir, stage)
    except OSError as exc:
        raise TransactionError(f"cannot stage an export beside {out_dir}: {exc.strerror or exc}") from exc
    retired = parent / f"{retired_prefix}{token}"
    try:
        _point("staged")
        yield stage
        _point("written")
        with _locked(parent / lock_name):
            mine = _files(stage)
            # files another run committed meanwhile, that this run did not write: keep theirs
            for rel, p in _files(out_dir).items():
                theirs = _sha(p)
                if theirs != base.get(rel) and (rel not in mine or _sha(mine[rel]) == base.get(rel)):
                    (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(p, stage / rel)
                    base[rel] = theirs  # not this run's change: not re-validated below
            _point("merged")
            manifest = write_manifest(stage)
            _point("manifest")
            if validate is not None:
                for rel, entry in manifest["files"].items():
                    if entry["sha256"] != base.get(rel):
                        validate(rel, stage / rel)
            _point("validated")
            mode = out_dir.stat().st_mode & 0o7777 if out_dir.exists() else 0o755
            os.chmod(stage, mode)
            _fsync_tree(stage)
            _point("synced")
            _switch(stage, out_dir, retired)
            _fsync_dir(parent)
            _point("swapped")
            shutil.rmtree(retired, ignore_errors=True)
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(stage)
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)  # an exception: drop the stage, out_dir untouched
