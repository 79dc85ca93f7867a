"""The live views in a real browser: the app-served onnxruntime-web against Python onnxruntime on every exported
graph, the JavaScript preprocessing against core/runtime/preprocess.py, the pad / latent map / GAN / date box
following the pointer and the keyboard without a message to the server until the user commits, and the fallback
when the runtime's files cannot be fetched.

One demo server (tests/support/live_demo.py) and one chromium for the module; one browser context shared by the
tests (so the runtime is fetched once and then read from Cache Storage), a fresh one for the blocked-runtime test.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.support.live_js import RUN_GRAPH_JS, WS_HOOK, feed, unpack
from tests.support.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, demo_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXPORTED = ROOT / "exported"
GRAPHS = sorted(p.name for p in EXPORTED.glob("*.onnx"))
TIMEOUT = 60_000  # ms; the machine may be shared


@pytest.fixture(scope="module")
def server():
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright (python) is not installed: pip install -r requirements-dev.txt")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (Debian: apt-get install chromium); the browser test needs it")
    log = ROOT / ".pytest_cache" / "streamlit_live.log"
    with demo_server(log if log.parent.is_dir() else None) as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def context(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1300, "height": 1100})
        ctx.add_init_script(WS_HOOK)
        ctx.set_default_timeout(TIMEOUT)
        yield ctx
        browser.close()


class Page:
    """A page of the demo with the websocket frames it sends counted two ways (Playwright's and an in-page hook)."""

    def __init__(self, ctx, server: str, view: str):
        self.frames: list[int] = []
        self.page = ctx.new_page()
        self.page.on("websocket", lambda ws: ws.on("framesent", lambda f: self.frames.append(len(f))))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{server}/?view={view}")
        self.page.wait_for_selector('[data-testid="stText"]')

    def sent(self) -> int:
        """Messages sent so far, by the in-page hook (Playwright's own count is checked alongside)."""
        return int(self.page.evaluate("() => window.__bmlSent.length"))

    def wait_text(self, needle: str) -> str:
        loc = self.page.locator('[data-testid="stText"]', has_text=needle)
        loc.first.wait_for()
        return loc.first.inner_text()

    def close(self):
        assert not self.errors, self.errors
        self.page.close()


@pytest.fixture
def demo(context, server):
    pages = []

    def open_(view: str) -> Page:
        pages.append(Page(context, server, view))
        return pages[-1]

    yield open_
    for p in pages:
        p.close()


def _ready(page, testid: str):
    page.wait_for_selector(f'[data-testid="{testid}"][data-runtime="browser"]')


# --------------------------------------------------------------------------------------- every graph, JS vs Python
def test_every_graph_matches_python_ort(demo):
    import onnxruntime as ort

    from core.web.publish import ort_spec, publish

    p = demo("none")
    ok, bad = publish(GRAPHS)
    assert not bad and len(ok) == len(GRAPHS) >= 13
    worst = {}
    for name in GRAPHS:
        # an int8 twin (core.quantize) takes the inputs of its float model's reference
        ref = np.load(EXPORTED / "reference" / name.replace(".int8.onnx", ".onnx").replace(".onnx", ".npz"))
        inputs = {k[4:]: ref[k] for k in ref.files if k.startswith("in__")}
        sess = ort.InferenceSession(str(EXPORTED / name), providers=["CPUExecutionProvider"])
        want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, inputs)))
        got = p.page.evaluate(RUN_GRAPH_JS, [ort_spec(), ok[name], {k: feed(v) for k, v in inputs.items()}])
        assert got["version"] == "1.30.0"
        assert set(got["outputs"]) == set(want), name
        diffs = []
        for k, w in want.items():
            g = unpack(got["outputs"][k])
            assert g.shape == w.shape, (name, k, g.shape, w.shape)
            # float32 sums drift with the size of the values: 1e-5 of the output's scale (at least 1e-5 absolute).
            # One known exception: fid_features' `strokes` divides each first-layer map's mean by that map's
            # (small) spread over MNIST, which multiplies the wasm kernels' rounding by ~5: held to 1e-4 (measured
            # 5.7e-5); it is a measuring device for the quality tests and never runs in the browser.
            d = float(np.abs(g - w).max()) / max(1.0, float(np.abs(w).max())) if w.size else 0.0
            diffs.append(d / 10 if (name, k) == ("fid_features.onnx", "strokes") else d)
        worst[name] = max(diffs)
    print("onnxruntime-web vs Python onnxruntime, max diff / max(1, |output|):",
          {k: f"{v:.1e}" for k, v in worst.items()})
    bad = {k: v for k, v in worst.items() if not v <= 1e-5}
    assert not bad, bad


# ------------------------------------------------------------------------------------------ preprocessing parity
STROKES = [  # (points in pad pixels), drawn with the pad's own pen
    [(112, 30), (112, 200)],  # a one
    [(70, 60), (150, 50), (80, 190), (160, 190)],  # a zig-zag two
    [(60, 40), (170, 40), (90, 200)],  # a seven
    [(40, 150), (60, 160), (80, 150)],  # small and low, off centre
    [(20, 20), (200, 200), (200, 30), (30, 200)],  # large, touching the corners
    [(100, 60), (140, 60), (140, 180), (100, 180), (100, 60)],  # a narrow zero
]


def _draw(page, canvas, points, steps: int = 6, pause_ms: int = 0):
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        for i in range(1, steps + 1):
            page.mouse.move(x0 + ax + (bx - ax) * i / steps, y0 + ay + (by - ay) * i / steps)
            if pause_ms:
                page.wait_for_timeout(pause_ms)


DRAW_JS = """async ([strokes, widths]) => {
    const base = new URL("../../", document.querySelector('script[src*="/static/js/index"]').src).href;
    const M = await import(new URL("app/static/live/mnist.mjs", base).href);
    const out = [];
    for (let k = 0; k < strokes.length; k++) {
        const c = document.createElement("canvas");
        c.width = c.height = 224;
        const ctx = c.getContext("2d", { willReadFrequently: true });
        ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 224, 224);  // the pad's paper and pen
        ctx.strokeStyle = "#fff"; ctx.lineWidth = widths[k]; ctx.lineCap = "round"; ctx.lineJoin = "round";
        ctx.beginPath(); ctx.moveTo(...strokes[k][0]);
        for (const pt of strokes[k].slice(1)) ctx.lineTo(...pt);
        ctx.stroke();
        const rgba = ctx.getImageData(0, 0, 224, 224).data;
        const r = M.preprocess(rgba, 224, 224), g = M.preprocessGeneral(rgba, 224, 224);
        // what the pad reads: only the rectangle its pen has touched (half the width and 2 px around the points)
        const xs = strokes[k].map((p) => p[0]), ys = strokes[k].map((p) => p[1]), h = widths[k] / 2 + 2;
        const x0 = Math.max(0, Math.floor(Math.min(...xs) - h)), y0 = Math.max(0, Math.floor(Math.min(...ys) - h));
        const x1 = Math.min(224, Math.ceil(Math.max(...xs) + h)), y1 = Math.min(224, Math.ceil(Math.max(...ys) + h));
        const part = ctx.getImageData(x0, y0, x1 - x0, y1 - y0).data;
        const q = M.preprocessInside(part, x0, y0, x1 - x0, y1 - y0, 224, 224);
        const same = !!r.x && !!g.x && !!q.x && r.x.every((v, i) => Object.is(v, g.x[i]) && Object.is(v, q.x[i]));
        out.push({ png: c.toDataURL("image/png"), x: r.x ? Array.from(r.x) : null, error: r.error || null, same });
    }
    return out;
}"""


def test_js_preprocessing_matches_python(demo):
    """mnist.mjs on the browser's own rasterised drawings against core.runtime.preprocess on their PNGs: one drawn
    with the pointer on the pad, and 40 drawn with the pad's pen through the canvas API (random strokes, widths,
    sizes and places, so crops of every aspect and centres of mass that round either way)."""
    from core.runtime.preprocess import decode_data_url, preprocess

    p = demo("pad")
    _ready(p.page, "live-pad")
    canvas = p.page.locator('[data-testid="live-pad-canvas"]')
    _draw(p.page, canvas, STROKES[1])
    p.page.mouse.up()
    drawn = [canvas.evaluate("""async (c) => {
        const base = new URL("../../", document.querySelector('script[src*="/static/js/index"]').src).href;
        const M = await import(new URL("app/static/live/mnist.mjs", base).href);
        const r = M.preprocess(c.getContext("2d").getImageData(0, 0, c.width, c.height).data, c.width, c.height);
        return { png: c.toDataURL("image/png"), x: r.x ? Array.from(r.x) : null, error: r.error || null };
    }""")]
    rng = np.random.default_rng(0)
    strokes = [list(s) for s in STROKES]
    for _ in range(40 - len(STROKES)):
        scale, cx, cy = rng.uniform(0.15, 1.0), rng.uniform(40, 184), rng.uniform(40, 184)
        pts = rng.uniform(-90, 90, (int(rng.integers(2, 7)), 2)) * scale + (cx, cy)
        strokes.append(np.clip(pts, 2, 222).round(1).tolist())
    widths = [18] * len(STROKES) + rng.integers(4, 30, len(strokes) - len(STROKES)).tolist()
    drawn += p.page.evaluate(DRAW_JS, [strokes, widths])
    # the pad's two-pass path for opaque drawings, and its read of only the rectangle the pen touched, are
    # bit-identical to the step-by-step reference
    assert all(d["same"] for d in drawn[1:])
    worst, exact = 0.0, 0
    for d in drawn:
        want = preprocess(decode_data_url(d["png"]))
        assert d["x"] is not None, d["error"]
        diff = np.abs(np.asarray(d["x"], np.float32).reshape(28, 28) - want)
        worst, exact = max(worst, float(diff.max())), exact + int(not diff.any())
    print(f"JS preprocessing vs core.runtime.preprocess on {len(drawn)} drawings: max abs diff {worst:.1e}, "
          f"{exact} bit-identical")
    assert worst <= 1e-5


# ------------------------------------------------------------------------------------------ live, and quiet
def test_pad_follows_the_pen_and_talks_only_on_release(demo):
    p = demo("pad")
    page = p.page
    _ready(page, "live-pad")
    page.wait_for_timeout(300)  # the runtime report (one rerun at load) has gone out
    canvas = page.locator('[data-testid="live-pad-canvas"]')
    root = page.locator('[data-testid="live-pad"]')
    before, frames_before = p.sent(), len(p.frames)
    _draw(page, canvas, [(110, 30), (112, 120)], steps=8, pause_ms=40)
    mid_updates = int(root.get_attribute("data-updates") or 0)
    mid_label = page.locator('[data-testid="live-label"]').inner_text()
    mid_mse = page.locator('[data-testid="live-recon-mlp"]').get_attribute("data-mse")
    box = canvas.bounding_box()
    for i in range(1, 9):
        page.mouse.move(box["x"] + 112, box["y"] + 120 + 10 * i)
        page.wait_for_timeout(40)
    during_sent, during_frames = p.sent(), len(p.frames)
    end_updates = int(root.get_attribute("data-updates") or 0)
    end_mse = page.locator('[data-testid="live-recon-mlp"]').get_attribute("data-mse")
    assert mid_updates >= 2 and end_updates > mid_updates, (mid_updates, end_updates)
    assert mid_mse != end_mse, "the reconstruction did not change during the stroke"
    assert mid_label.strip(), "no live label"
    assert page.locator('[data-testid="live-timing"]').inner_text().startswith("in your browser")
    assert during_sent == before and during_frames == frames_before, "the page sent messages during the stroke"
    page.mouse.up()
    p.wait_text("pad: committed='png")
    assert p.sent() > during_sent and len(p.frames) > during_frames
    assert "in_browser=True" in p.wait_text("pad: committed")


def test_discriminator_follows_the_pen(demo):
    p = demo("judge")
    page = p.page
    _ready(page, "live-pad")
    page.wait_for_timeout(300)
    before = p.sent()
    canvas = page.locator('[data-testid="live-pad-canvas"]')
    _draw(page, canvas, [(60, 50), (160, 50), (100, 200)], steps=6, pause_ms=30)
    v1 = page.locator('[data-testid="live-verdict"]').get_attribute("data-value")
    page.mouse.move(canvas.bounding_box()["x"] + 40, canvas.bounding_box()["y"] + 120)
    page.wait_for_timeout(200)
    v2 = page.locator('[data-testid="live-verdict"]').get_attribute("data-value")
    assert v1 is not None and v2 is not None and 0 <= float(v1) <= 1
    assert v1 != v2
    assert p.sent() == before
    page.mouse.up()
    p.wait_text("judge: committed='png")


def test_latent_map_decodes_under_the_pointer(demo):
    p = demo("latent")
    page = p.page
    _ready(page, "live-latent")
    page.wait_for_timeout(300)
    m = page.locator('[data-testid="live-latent-map"]')
    box = m.bounding_box()
    before = p.sent()
    seen = set()
    for fx in (0.2, 0.4, 0.6, 0.8):
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + 0.5 * box["height"])
        page.wait_for_timeout(80)
        seen.add(page.locator('[data-testid="live-latent-z"]').get_attribute("data-value"))
    assert len(seen) == 4, seen
    assert p.sent() == before, "hovering sent messages"
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])
    page.wait_for_timeout(80)
    assert p.sent() == before, "dragging sent messages"
    page.mouse.up()
    text = p.wait_text("latent: committed=(")
    assert p.sent() > before and "in_browser=True" in text
    committed = text.split("committed=")[1].split(" in_browser")[0]
    assert p.wait_text("latent callback got (").endswith(committed)  # on_commit ran, with the same checked value


def test_gan_path_and_walk_regenerate_live(demo):
    p = demo("gan")
    page = p.page
    _ready(page, "live-gan")
    page.wait_for_timeout(300)
    root = page.locator('[data-testid="live-gan"]')
    slider = page.locator('[data-testid="live-gan-t"]')
    box = slider.bounding_box()
    before, u0 = p.sent(), int(root.get_attribute("data-updates") or 0)
    labels = set()
    page.mouse.move(box["x"] + 4, box["y"] + box["height"] / 2)
    page.mouse.down()
    for i in range(1, 9):
        page.mouse.move(box["x"] + 4 + (box["width"] - 8) * i / 8, box["y"] + box["height"] / 2)
        page.wait_for_timeout(60)
        labels.add(page.locator('[data-testid="live-gan-verdict"]').get_attribute("data-value"))
    assert int(root.get_attribute("data-updates") or 0) >= u0 + 3
    assert len(labels) >= 2, "D's verdict did not change along the path"
    assert p.sent() == before, "dragging the slider sent messages"
    page.mouse.up()
    p.wait_text("gan: committed={'t'")
    # the walk: regenerates every frame, commits once when stopped
    before = p.sent()
    u1 = int(root.get_attribute("data-updates") or 0)
    page.locator('[data-testid="live-gan-walk"]').click()
    page.wait_for_timeout(600)
    assert int(root.get_attribute("data-updates") or 0) > u1 + 2
    assert p.sent() == before, "the walk sent messages"
    page.locator('[data-testid="live-gan-walk"]').click()
    p.wait_text("gan: committed={'z[:3]'")


def test_date_box_follows_each_keystroke_and_sends_on_enter(demo):
    p = demo("dates")
    page = p.page
    for kind in ("transformer", "seq2seq_attention"):
        _ready(page, f"live-dates-{kind}")
    page.wait_for_timeout(300)
    box = page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-input"]')
    out = page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-output"]')
    out.wait_for()
    before = p.sent()
    box.fill("")
    outputs = []
    for ch in "28.11.2026":
        box.press_sequentially(ch)
        page.wait_for_timeout(120)
        outputs.append(out.inner_text())
    assert p.sent() == before, "typing sent messages"
    assert outputs[-1] == "2026-11-28", outputs
    assert len(set(outputs)) >= 3, outputs  # the output followed the keystrokes
    err = page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-error"]')
    box.press_sequentially("€")
    page.wait_for_timeout(150)
    assert "€" in err.inner_text() and out.inner_text() == ""
    box.press("Backspace")
    page.wait_for_timeout(150)
    assert out.inner_text() == "2026-11-28"
    assert page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-timing"]').inner_text() \
        .startswith("in your browser")
    box.press("Enter")
    p.wait_text("dates_t: committed='28.11.2026'")
    assert p.sent() > before


# ---------------------------------------------------------------------------------------------- the fallback
def test_blocked_runtime_reports_the_server_fallback(context, server):
    ctx = context.browser.new_context()
    try:
        ctx.route("**/app/static/ort/**", lambda route: route.abort())
        page = ctx.new_page()
        page.goto(f"{server}/?view=pad")
        t = page.locator('[data-testid="live-timing"][data-state="server"]')
        t.wait_for(timeout=TIMEOUT)
        assert t.inner_text().startswith("Running on the server")
        page.locator('[data-testid="stText"]', has_text="in_browser=False").first.wait_for(timeout=TIMEOUT)
        assert page.locator('[data-testid="live-pad"]').get_attribute("data-runtime") == "server"
    finally:
        ctx.close()


def test_plain_js_sha256_matches_python(demo):
    """The hash used where SubtleCrypto is missing (a page served over plain http to another host)."""
    import hashlib

    p = demo("none")
    lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003]
    got = p.page.evaluate("""async (lengths) => {
        const base = new URL("../../", document.querySelector('script[src*="/static/js/index"]').src).href;
        const R = await import(new URL("app/static/live/runtime.mjs", base).href);
        const out = [];
        for (const n of lengths) {
            const b = new Uint8Array(n);
            for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
            out.push([R.sha256Js(b), await R.sha256Hex(b)]);
        }
        return out;
    }""", lengths)
    for n, (js, subtle) in zip(lengths, got):
        want = hashlib.sha256(bytes((i * 31 + 7) & 255 for i in range(n))).hexdigest()
        assert js == want == subtle, n


def test_js_judge_matches_the_python_verdicts(demo):
    """The browser's verdict on an output (static/live/dates.mjs judge) is core.runtime.dates_check's, case by case:
    calendar errors, leap years (1900 is not, 2000 is), the trained years, an unfinished answer, low confidence."""
    from core.runtime.dates_check import explain, judge

    cases = [("2026-11-28", 0.99999, True), ("2023-02-29", 1.0, True), ("2024-02-29", 1.0, True),
             ("1900-02-29", 1.0, True), ("2000-02-29", 1.0, True), ("2023-02-31", 1.0, True),
             ("2026-04-31", 1.0, True), ("2026-13-01", 1.0, True), ("2026-00-10", 1.0, True),
             ("2026-01-00", 1.0, True), ("201-11-26", 1.0, True), ("2100-01-01", 1.0, True),
             ("1899-12-31", 1.0, True), ("2026-11-28", 0.5, True), ("2026-11-28", 1.0, False), ("", 1.0, True)]
    threshold = 0.9998
    p = demo("none")
    got = p.page.evaluate("""async ([cases, threshold]) => {
        const base = new URL("../../", document.querySelector('script[src*="/static/js/index"]').src).href;
        const D = await import(new URL("app/static/live/dates.mjs", base).href);
        return cases.map(([out, p, ended]) => D.judge(out, [1, p, 1], ended, threshold));
    }""", [cases, threshold])
    for (out, prob, ended), js in zip(cases, got):
        verdict = judge(out, [1, prob, 1], threshold, ended=ended)
        key, fields = explain(verdict, out)
        assert js["ok"] == verdict.ok, (out, js, verdict)
        if not verdict.ok:
            assert js["key"] == key and {k: str(v) for k, v in js["fields"].items()} == \
                {k: str(v) for k, v in fields.items()}, (out, js, key, fields)


def test_date_box_never_shows_an_impossible_date_as_an_answer(demo):
    p = demo("dates")
    page = p.page
    _ready(page, "live-dates-transformer")
    box = page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-input"]')
    out = page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-output"]')
    err = page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-error"]')
    box.fill("31 February 2023")
    page.wait_for_timeout(400)
    assert out.get_attribute("data-verdict") == "verdict.days", out.get_attribute("data-verdict")
    assert "rejected" in (out.get_attribute("class") or "") and "28" in err.inner_text()
    box.fill("28 November 2026")
    page.wait_for_timeout(400)
    assert out.get_attribute("data-verdict") == "ok" and err.inner_text() == ""
