"""A real browser on the real app: `streamlit run` on a loopback port, Debian's chromium driven by Playwright.

Opens every page, draws a stroke on the drawing pad and waits for the reconstruction, asserts no page shows an
exception, and saves a screenshot of each page: under tests/artifacts/screenshots/ (git-ignored) by default, and
into docs/screenshots/ (which the README shows) with UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean.
"""

from __future__ import annotations

import io
import re
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.i18n import t

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / ("docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "tests/artifacts/screenshots")
PAGES = [  # (url path, screenshot name, the catalogue key of a text the page shows once it has run)
    ("", "home", "home.runtime"),
    ("Autoencoder", "autoencoder", "autoencoder.latent"),
    ("GAN", "gan", "gan.collapse"),
    ("Attention", "attention", "attention.one_step"),
    ("Transformer", "transformer", "transformer.all_heads"),
    ("RealTransformer", "real_transformer", "realtf.model_view"),
    ("Models", "models", "models.yourself"),
    ("FAQ", "faq", "faq.calc"),
]
LANGS = ("en", "zh")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright (python) is not installed: pip install -r requirements-dev.txt")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (Debian: apt-get install chromium); the browser test needs it")
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.showErrorDetails", "full"]
    log = open(ROOT / ".pytest_cache" / "streamlit_browser.log", "w") if (ROOT / ".pytest_cache").is_dir() else None
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"streamlit did not start on {url} (exit code {proc.poll()})")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


def _settle(page, timeout: float = 60.0) -> None:
    """Wait until the script run is over: the app is mounted and the 'running' status widget is gone."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout * 1000)
    deadline = time.time() + timeout
    quiet_since = None
    while time.time() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.0:
            return
        time.sleep(0.2)
    raise AssertionError("the page kept running for a minute")


def _shot(page, name: str) -> None:
    """A small full-page PNG (palette-quantised) under SHOTS."""
    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    # Streamlit scrolls inside its main block, not the document: grow the viewport to the content, then shoot.
    height = page.evaluate("""() => {
        const m = document.querySelector('[data-testid="stMainBlockContainer"]');
        return m ? m.scrollHeight : document.body.scrollHeight; }""")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": int(min(max(900, height + 80), 7000))})
    time.sleep(1.0)  # Plotly re-lays out its charts on resize
    _settle(page)
    raw = page.screenshot()
    img = Image.open(io.BytesIO(raw)).convert("RGB")
    scale = 0.75 if img.height < 2600 else 0.6  # long pages (FAQ) smaller, to keep the PNGs small
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS)
    img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    img.save(SHOTS / f"{name}.png", optimize=True)


def _no_exception(page, where: str) -> None:
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, f"{where}: {exc.first.inner_text()[:800]}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path,name,marker", PAGES, ids=[p[1] for p in PAGES])
def test_page_renders(browser, server, path, name, marker, lang):
    """Every page in both languages (the Chinese really rendered: CI installs fonts-noto-cjk), with a screenshot."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/{path}?lang={lang}", wait_until="domcontentloaded")
        _settle(page)
        page.get_by_text(t(marker, lang), exact=False).first.wait_for(timeout=30000)
        _settle(page)
        _no_exception(page, name)
        _shot(page, name if lang == "en" else f"{name}_{lang}")
    finally:
        page.close()


def test_back_and_forward_show_the_view_the_url_names(browser, server):
    """Widgets write their value into the URL; after Back or Forward the page shows what the URL says."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/GAN", wait_until="domcontentloaded")
        _settle(page)
        seed = page.get_by_label(t("gan.seed", "en"), exact=True)
        for value in ("5", "7"):
            seed.fill(value)
            seed.press("Enter")
            _settle(page)
        assert "seed=7" in page.url
        page.get_by_role("link", name=t("attention.nav", "en")).first.click()
        _settle(page)
        seen = []
        for move in (page.go_back, page.go_back, page.go_forward, page.go_back):
            move()
            _settle(page)
            if "/GAN" not in page.url:
                continue
            box = page.get_by_label(t("gan.seed", "en"), exact=True)
            box.wait_for(timeout=30000)
            want = re.search(r"[?&]seed=(\d+)", page.url)
            assert box.input_value() == (want.group(1) if want else "0"), page.url
            seen.append(box.input_value())
        assert "7" in seen, seen  # the view with seed 7 came back
    finally:
        page.close()


def _draw_a_one(page) -> None:
    canvas = page.locator("canvas[aria-label^='drawing pad']").first
    canvas.wait_for(timeout=30000)
    # the pad reports where it runs (browser or server) once its runtime has loaded or failed, and that report is a
    # rerun of its own: draw after it, or the stroke's commit races that rerun
    page.locator('[data-testid="live-pad"][data-runtime]').first.wait_for(timeout=60000)
    _settle(page)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 25):  # a "1": one vertical stroke, slightly slanted
        page.mouse.move(x0 - i * 0.6, y0 + i * box["height"] * 0.03)
    page.mouse.up()


def test_discriminator_judges_a_drawing(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/GAN?source=draw", wait_until="domcontentloaded")
        _settle(page)
        _draw_a_one(page)
        for m in ("gan", "dcgan"):  # both Ds give a verdict
            page.get_by_text(t("gan.d_real_of", "en", model=t(f"gan.name_{m}", "en"))).first.wait_for(timeout=30000)
        _settle(page)
        _no_exception(page, "GAN after drawing")
    finally:
        page.close()


def test_drawing_pad_gives_a_reconstruction(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/Autoencoder?source=draw", wait_until="domcontentloaded")
        _settle(page)
        assert page.get_by_text("Lowest error").count() == 0  # nothing drawn yet, so no reconstruction
        _draw_a_one(page)
        page.get_by_text("Lowest error").first.wait_for(timeout=30000)
        _settle(page)
        _no_exception(page, "autoencoder after drawing")
        assert page.get_by_text("your drawing").count() > 0
        _shot(page, "autoencoder_drawing")
    finally:
        page.close()


def test_clicking_the_latent_map_decodes_that_point(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/Autoencoder", wait_until="domcontentloaded")
        _settle(page)
        points = page.locator(".js-plotly-plot .scatterlayer .point")
        points.first.wait_for(timeout=30000)
        before = page.evaluate("() => window.location.search")
        thumbs = page.locator('[data-testid="stSliderThumbValue"]').all_inner_texts()[:2]
        target = points.nth(points.count() // 3)
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        deadline = time.time() + 30
        while time.time() < deadline and page.evaluate("() => window.location.search") == before:
            time.sleep(0.3)
        _settle(page)
        _no_exception(page, "autoencoder after clicking the latent map")
        after = page.evaluate("() => window.location.search")
        assert after != before, "the clicked point did not reach the URL"
        assert page.locator('[data-testid="stSliderThumbValue"]').all_inner_texts()[:2] != thumbs
    finally:
        page.close()


def test_uploading_a_photo_of_a_digit_gives_a_reconstruction(browser, server, tmp_path):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (235, 230, 220))  # dark ink on light paper, off-centre, like a phone photo
    ImageDraw.Draw(img).line([(150, 40), (230, 40), (180, 200)], fill=(30, 30, 40), width=16)
    path = tmp_path / "seven.jpg"
    img.save(path, quality=90)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/Autoencoder?source=upload", wait_until="domcontentloaded")
        _settle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
        page.get_by_text("Lowest error").first.wait_for(timeout=30000)
        _settle(page)
        _no_exception(page, "autoencoder after an upload")
        assert page.get_by_text("seven.jpg").count() > 0
    finally:
        page.close()


def test_clicking_a_token_in_the_head_view_keeps_its_lines(browser, server):
    """Real Transformer: a click on a token of the head view keeps that token's lines, and the link says so."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/RealTransformer", wait_until="domcontentloaded")
        _settle(page)
        page.get_by_text(t("realtf.model_view", "en"), exact=False).first.wait_for(timeout=60000)
        _settle(page)
        close = page.get_by_role("button", name="Close")  # a fresh server's first link may say "page not found"
        if close.count():
            close.first.click()
        plot = page.locator(".js-plotly-plot").first
        plot.scroll_into_view_if_needed()
        traces = plot.locator(".scatterlayer .trace")
        queries = traces.nth(traces.count() - 2).locator(".point")  # the left column: the query tokens
        box = queries.nth(2).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x - 6, y)
        time.sleep(0.3)
        page.mouse.move(x, y)  # Plotly picks the hovered point, then the click selects it
        time.sleep(0.5)
        page.mouse.down()
        page.mouse.up()
        deadline = time.time() + 30
        while time.time() < deadline and "focus=2" not in page.url:
            time.sleep(0.3)
        _settle(page)
        _no_exception(page, "real transformer after a click on a token")
        assert "focus=2" in page.url and "tok=2" in page.url, page.url
    finally:
        page.close()
