"""Issue 8: many visitors at once. The real server (``streamlit run``, this repo's .streamlit/config.toml), driven
over its websocket the way browsers do (benchmarks/st_driver.py): 16 sessions at once for ~25 s, each opening
views in turn — every page, from shared-link queries, with widget changes and a drawing on the pad. No run may show
an exception or an error box, no connection may fail, the server log may hold no traceback, and every view must
render exactly what one visitor alone sees for it: texts, metrics, widget values, chart specs (measured times masked).

Nothing here asserts a speed: the load runs for a fixed time and the checks are on what came back.
BML_CONCURRENCY_SESSIONS and BML_CONCURRENCY_SECONDS change the load (defaults 16 and 25).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass

import pytest

from benchmarks.app_views import PAGES, label, resolve_page
from benchmarks.st_driver import RunResult, Server, Session

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SESSIONS = int(os.environ.get("BML_CONCURRENCY_SESSIONS", "16"))
SECONDS = float(os.environ.get("BML_CONCURRENCY_SECONDS", "25"))


@dataclass
class View:
    page: str  # page name as in benchmarks/app_views.py ("" = Home)
    query: str
    changes: tuple  # widget interactions, in order: ({key: value}, ...)

    def __str__(self) -> str:
        return f"{label(self.page)}?{self.query} {list(self.changes)}"


def views() -> list[View]:
    """Per page: a plain load, a shared link with one change, another link with two changes (varied values)."""
    out = []
    for p in PAGES:
        qs = p.queries + [""] * 3
        ch = p.changes
        out.append(View(p.name, qs[0], ()))
        if ch:
            out.append(View(p.name, qs[1], (ch[0],)))
            out.append(View(p.name, qs[2 % len(p.queries)], (ch[len(ch) // 2], ch[-1])))
    return out


async def run_view(url: str, v: View, paths: list[str], tally: dict | None = None,
                   barrier: asyncio.Barrier | None = None) -> tuple[RunResult, int]:
    """A fresh browser tab on view ``v``: open the link, make the changes; (last result, changes skipped).

    ``barrier``: wait there once connected, so that every session is provably open at the same time.
    """
    skipped = 0
    async with Session(url, timeout=180) as s:
        if tally is not None:
            tally["open"] += 1
            tally["peak"] = max(tally["peak"], tally["open"])
        try:
            r = await s.open(resolve_page(v.page, paths), v.query)
            if barrier is not None:
                await asyncio.wait_for(barrier.wait(), 240)
            results = [r]
            for ch in v.changes:
                if not all(s.has(k) for k in ch):
                    skipped += 1
                    continue
                results.append(await s.change(ch))
            for x in results:  # every intermediate run must be clean too
                assert not x.exceptions, f"{v}: exception {x.exceptions[0].proto.type}: {x.exceptions[0].proto.message}"
                assert not x.errors, f"{v}: error box {x.errors[0].proto.body[:200]}"
                assert not x.page_not_found, f"{v}: page not found"
                assert x.status in ("FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"), f"{v}: {x.status}"
            return results[-1], skipped
        finally:
            if tally is not None:
                tally["open"] -= 1


def first_difference(a: RunResult, b: RunResult) -> str:
    va, vb = dict((x[0], x[1:]) for x in a.view()), dict((x[0], x[1:]) for x in b.view())
    for k in sorted(set(va) | set(vb)):
        if va.get(k) != vb.get(k):
            return f"at {k}: alone {str(va.get(k))[:200]!r} vs under load {str(vb.get(k))[:200]!r}"
    return "none"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("concurrency") / "server.log"
    with Server(log=log) as srv:
        yield srv


def test_concurrent_sessions_see_what_one_session_sees(server):
    url = server.url

    async def main():
        async with Session(url) as s:  # the app's page paths, as its navigation lists them
            await s.open("")
            paths = list(s.pages)
        all_views = views()
        reference, skipped = [], 0
        for v in all_views:  # one visitor alone, one view after another
            got, n = await run_view(url, v, paths)
            reference.append(got)
            skipped += n
        total_changes = sum(len(v.changes) for v in all_views)
        assert skipped <= total_changes // 2, (
            f"{skipped} of {total_changes} widget changes found no widget: update benchmarks/app_views.py")

        tally = {"open": 0, "peak": 0}
        done: list[int] = [0] * SESSIONS
        failures: list[str] = []
        deadline = time.monotonic() + SECONDS
        start = asyncio.Barrier(SESSIONS)  # all sessions connected and through a first page run at once

        async def worker(i: int) -> None:
            rng = random.Random(i)
            order = list(range(len(all_views)))
            first: asyncio.Barrier | None = start
            while time.monotonic() < deadline and len(failures) < 20:
                rng.shuffle(order)
                for k in order:
                    v = all_views[k]
                    if time.monotonic() >= deadline:
                        return
                    try:
                        got, _ = await run_view(url, v, paths, tally, first)
                        first = None
                    except AssertionError as exc:
                        failures.append(f"session {i}: {exc}")
                        return
                    except Exception as exc:  # a dropped connection, a run that never finished
                        failures.append(f"session {i}: {v}: {type(exc).__name__}: {exc}")
                        return
                    if got.view() != reference[k].view():
                        failures.append(f"session {i}: {v} differs {first_difference(reference[k], got)}")
                    done[i] += 1

        await asyncio.gather(*(worker(i) for i in range(SESSIONS)))
        return tally, done, failures

    tally, done, failures = asyncio.run(main())
    assert not failures, "\n".join(failures[:10])
    assert tally["peak"] >= SESSIONS, f"only {tally['peak']} sessions were open at once"
    assert all(n >= 1 for n in done), f"views completed per session: {done}"
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


def test_a_section_reruns_alone_and_the_page_around_it_stays(server):
    """A widget inside a page section (ui.fragment) reruns that section only, as the browser asks: the server sends
    just the section, and the view is the one a full rerun of the same state draws. (That a section's widget still
    writes the URL is the browser's part: tests/test_browser.py's Back/Forward test changes the GAN's seed.)"""

    async def main():
        async with Session(server.url) as s, Session(server.url, fragments=False) as full:
            await s.open("GAN")
            await full.open("GAN")
            before = len(s.last.elements)
            part = await s.change({"depoch": "12"})
            whole = await full.change({"depoch": "12"})
            assert part.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" and whole.status == "FINISHED_SUCCESSFULLY"
            assert part.messages < whole.messages / 3, (part.messages, whole.messages)  # only the section came back
            assert len(part.elements) == before and part.digest() == whole.digest()  # and the same page shows

    asyncio.run(main())
