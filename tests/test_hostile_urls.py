"""A shared link is a stranger's input: every URL parameter of every page, fuzzed (hypothesis) and with the known
bad values, ends in the right view or a clear message — never an exception, never the router's "something went
wrong", never visitor text rendered as Markdown (a link, an image, a directive)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from core.i18n import t

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GLOBAL = ["lang", "provider"]
PARAMS = {  # every parameter each page reads from the URL
    "app_pages/home.py": [],
    "app_pages/autoencoder.py": ["source", "digit", "n", "z1", "z2", "a", "b", "steps"],
    "app_pages/gan.py": ["seed", "grid", "seed_a", "seed_b", "steps", "epoch", "depoch", "hseed", "source", "digit", "n"],
    "app_pages/attention.py": ["text", "step"],
    "app_pages/transformer.py": ["text", "layer", "head", "heads", "t"],
    "app_pages/real_transformer.py": ["sentence", "rlayer", "rhead", "focus", "tok", "pattern", "sa", "sb", "set",
                                      "text", "a"],
    "app_pages/models.py": ["model", "runs"],
    "app_pages/faq.py": ["q", "params"],
}
EVIL = [
    "1e400", "-1e400", "inf", "-inf", "nan", "NaN", "1e308", "9" * 400, "-1", "0x1f", "", " ", "1,5", "[1]", "%00",
    "\x00", "true", "-0", "1e-400", "[log in again](https://evil.example/login)", "![p](https://evil.example/p.png)",
    "<img src=x onerror=alert(1)>", ":red[**URGENT**]", "zh", "en", "draw", "upload", "cuda", "CUDA", "Auto",
    "classifier.onnx", "../../etc/passwd", "二〇二六年", "2026-11-28", "31 February 2023", "🙂" * 50, "a" * 2000,
]
UNEXPECTED = t("app.unexpected", "en")[:40]
_MARKUP = re.compile(r"[\[\]()!<>:*`_#$]")  # a value with these would be Markdown if shown unescaped


def run(page: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page != "app_pages/home.py" and not at.exception:
        at.switch_page(page).run()
    return at


def check(at: AppTest, query: dict) -> None:
    """No exception, no router catch-all, and no visitor value with Markdown characters verbatim in Markdown (an
    escaped value carries backslashes, so a verbatim copy means it would render as a link, image or directive)."""
    assert not at.exception, (query, [e.value[:300] for e in at.exception])
    payloads = [v for v in query.values() if len(v) >= 4 and _MARKUP.search(v)]
    for kind in ("error", "warning", "info", "success", "markdown", "caption", "title", "header", "subheader"):
        for el in at.get(kind):
            text = str(getattr(el, "value", "") or "")
            assert UNEXPECTED not in text, (query, "the router caught an error")
            for v in payloads:
                assert v not in text, (query, kind, text[:300])


@pytest.mark.parametrize("page", list(PARAMS))
def test_known_bad_values_of_every_parameter(page):
    """Each parameter of the page gets the whole list of bad values at once, rotated so each meets each."""
    keys = PARAMS[page] + GLOBAL
    for shift in range(0, len(EVIL), max(1, len(EVIL) // 4)):
        query = {k: EVIL[(i + shift) % len(EVIL)] for i, k in enumerate(keys)}
        check(run(page, query), query)


_value = hs.one_of(
    hs.sampled_from(EVIL),
    hs.text(max_size=80),
    hs.integers(-10**30, 10**30).map(str),
    hs.floats(allow_nan=True, allow_infinity=True).map(repr),
    hs.text(alphabet="0123456789.eE+-", max_size=40),
)


@pytest.mark.parametrize("page", list(PARAMS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(data=hs.data())
def test_fuzzed_parameters(page, data):
    keys = PARAMS[page] + GLOBAL + ["unknown_param"]
    chosen = data.draw(hs.lists(hs.sampled_from(keys), min_size=1, max_size=len(keys), unique=True))
    query = {k: data.draw(_value) for k in chosen}
    check(run(page, query), query)


def test_nan_latent_coordinate_is_ignored():
    """?z1=nan once decoded an all-NaN image titled "decoded z = (nan, …)"."""
    at = run("app_pages/autoencoder.py", {"z1": "nan", "z2": "inf"})
    check(at, {})
    z1 = next(s for s in at.slider if s.key == "z1").value
    z2 = next(s for s in at.slider if s.key == "z2").value
    assert all(map(lambda v: v == v and abs(v) < 1e6, (z1, z2)))


def test_overflowing_integer_is_dropped_not_a_crash():
    """Streamlit's int number_input raises OverflowError when seeded from ?seed=1e400; the page drops it."""
    at = run("app_pages/gan.py", {"seed": "1e400", "hseed": "-inf", "seed_a": "9" * 400})
    check(at, {})
    assert next(w for w in at.number_input if w.key == "seed").value == 0


def test_markdown_in_the_calculator_box_is_shown_as_text():
    at = run("app_pages/faq.py", {"params": "[log in again](https://evil.example/login)"})
    check(at, {})
    assert at.error, "an unreadable count gives a message"
