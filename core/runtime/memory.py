"""Keep a long-running server's RSS near its live heap: at most two malloc arenas, and freed pages given back.

A Streamlit server runs every page run in a thread of its own, and glibc's malloc gives threads arenas of their own
(up to 8 per core). Memory freed in an arena stays mapped while live blocks sit around it, so under load the
process's RSS creeps up although the Python heap is flat: in a 10-minute soak of 32 visitors
(benchmarks/serve_bench.py) RSS grew 154 MB while tracemalloc's count of live Python memory stayed at 134-139 MB.
Two settings, measured in the same soak (5.5 minutes): ``mallopt(M_ARENA_MAX, 2)`` (what the MALLOC_ARENA_MAX=2
environment variable does, set from inside the process because a host such as Community Cloud sets no environment)
lowered the level by ~60 MB; ``malloc_trim(0)`` every 30 s, on a daemon thread (ctypes releases the GIL for the
call), returns the free pages of every arena. The GIL already serialises Python, so two arenas cost no speed.

Where the C library is not glibc (macOS, Windows, musl) there is no malloc_trim and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

EVERY_S = 30.0
ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h

_lock = threading.Lock()
_thread: threading.Thread | None = None
_trims = 0


def _libc(fn_name: str, argtypes: list):
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = getattr(ctypes.CDLL(name), fn_name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = argtypes, ctypes.c_int
    return fn


_TRIM = _libc("malloc_trim", [ctypes.c_size_t])
_MALLOPT = _libc("mallopt", [ctypes.c_int, ctypes.c_int]) if _TRIM is not None else None


def available() -> bool:
    """Whether this process's C library can trim (glibc)."""
    return _TRIM is not None


def trim() -> bool:
    """One malloc_trim(0) now; False where there is none."""
    global _trims
    if _TRIM is None:
        return False
    _TRIM(0)
    _trims += 1
    return True


def trims() -> int:
    """How many trims this process has done."""
    return _trims


def start(every_s: float = EVERY_S, arenas: int = ARENAS) -> bool:
    """Cap the arenas and start the trimming thread, once per process (later calls do nothing); False where the C
    library is not glibc. Arenas made before the call stay; no thread makes a new one after it."""
    global _thread
    if _TRIM is None:
        return False
    if _thread is not None:  # every page run calls this: no lock once started
        return True
    with _lock:
        if _thread is None:
            if _MALLOPT is not None:
                _MALLOPT(_M_ARENA_MAX, arenas)

            def loop() -> None:
                while True:
                    time.sleep(every_s)
                    trim()

            _thread = threading.Thread(target=loop, name="bml-malloc-trim", daemon=True)
            _thread.start()
    return True
