"""core.runtime.memory: the server process gives freed heap back to the OS (RSS is what a 1 GB host counts)."""

import threading

import psutil
import pytest

from core.runtime import memory

pytestmark = pytest.mark.skipif(not memory.available(), reason="no malloc_trim: the C library is not glibc")


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def test_trim_returns_the_pages_that_fragmentation_keeps():
    """Small blocks freed between survivors leave RSS where it was; one trim gives most of it back."""
    keep, junk = [], []
    for i in range(40_000):  # ~80 MB of 2 kB blocks, one in 50 kept
        (keep if i % 50 == 0 else junk).append(bytearray(2000))
    full = _rss_mb()
    del junk
    freed = _rss_mb()
    before = memory.trims()
    assert memory.trim()
    trimmed = _rss_mb()
    assert memory.trims() == before + 1
    assert freed > full - 20, "the allocator returned the memory by itself: nothing left to show"
    assert trimmed < freed - 40, (full, freed, trimmed)
    del keep


def test_the_trimming_thread_starts_once_per_process():
    assert memory.start() and memory.start()
    names = [t.name for t in threading.enumerate()]
    assert names.count("bml-malloc-trim") == 1
    assert all(t.daemon for t in threading.enumerate() if t.name == "bml-malloc-trim")
