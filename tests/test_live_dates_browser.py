"""The date models in the browser give the Python decoder's tokens on the 3,500 test dates, both models.

static/live/dates.mjs tokenises each raw test input (its own port of core/tokenizer.py: Python's strip, the
vocabulary and limits from the model card) and runs its greedy loop over the app-served onnxruntime-web: all 3,500
in batches of 250 (the loop is the same function the live box calls with one input), and 10 per format one at a
time through decodeText, the exact path of a keystroke. Tokens are compared with core.runtime.decode.greedy_decode.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

from tests.support.live_server import CHROMIUM, CHROMIUM_ARGS, demo_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DECODE_JS = """
async ([ort, specs, kind, texts, batch]) => {
  const base = new URL("../../", document.querySelector('script[src*="/static/js/index"]').src).href;
  const D = await import(new URL("app/static/live/dates.mjs", base).href);
  const m = await D.loadSeqModel(ort, specs, kind);
  const t0 = performance.now();
  const out = [];
  if (batch === 1) {
    for (const t of texts) { const r = await D.decodeText(m, t); out.push(r.error ? r : r.ids); }
  } else {
    for (let i = 0; i < texts.length; i += batch) {
      const enc = texts.slice(i, i + batch).map((t) => D.encodeSource(t, m.vocab));
      const bad = enc.find((e) => e.error);
      if (bad) throw new Error(JSON.stringify(bad));
      for (const r of await D.greedy(m, enc.map((e) => e.ids))) out.push(r.ids);
    }
  }
  return { ms: performance.now() - t0, out, vocab: m.vocab.tokens.length, maxSrc: m.vocab.maxSrc };
}
"""


@pytest.fixture(scope="module")
def page():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (python) is not installed: pip install -r requirements-dev.txt")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (Debian: apt-get install chromium); the browser test needs it")
    with demo_server() as (url, _proc), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context()
        pg = ctx.new_page()
        pg.set_default_timeout(120_000)
        pg.goto(f"{url}/?view=none")
        pg.wait_for_selector('[data-testid="stText"]')
        yield pg
        browser.close()


@pytest.mark.parametrize("kind", ["transformer", "seq2seq_attention"])
def test_js_greedy_gives_the_python_tokens_on_the_test_split(page, kind):
    from core.data.dates import N_TEST, test_split
    from core.runtime.decode import greedy_decode, load_seq_model
    from core.web.publish import ort_spec, publish

    examples = test_split()
    texts = [e.source for e in examples]
    assert len(texts) == N_TEST == 3500
    names = [f"{kind}.encoder.onnx", f"{kind}.decoder_step.onnx"]
    ok, bad = publish(names)
    assert not bad
    specs = {"encoder": ok[names[0]], "step": ok[names[1]]}
    want = [d.out_ids for d in greedy_decode(load_seq_model(kind), texts)]

    got = page.evaluate(DECODE_JS, [ort_spec(), specs, kind, texts, 250])
    mismatch = [i for i, (a, b) in enumerate(zip(want, got["out"])) if a != b]
    print(f"{kind}: {N_TEST} test dates in the browser (batches of 250) in {got['ms'] / 1000:.1f} s; "
          f"{N_TEST - len(mismatch)}/{N_TEST} identical token sequences")
    assert len(got["out"]) == N_TEST and not mismatch, [(texts[i], want[i], got["out"][i]) for i in mismatch[:5]]

    per_fmt = defaultdict(list)
    for i, e in enumerate(examples):
        if len(per_fmt[e.fmt]) < 10:
            per_fmt[e.fmt].append(i)
    idx = [i for v in per_fmt.values() for i in v]
    one = page.evaluate(DECODE_JS, [ort_spec(), specs, kind, [texts[i] for i in idx], 1])
    assert one["out"] == [want[i] for i in idx]
    print(f"{kind}: {len(idx)} dates one at a time (the keystroke path): {one['ms'] / len(idx):.1f} ms each")
