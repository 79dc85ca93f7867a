"""What visitors do on each page of this dashboard: the views the serving benchmark and the concurrency test drive.

Each page has URL queries a shared link might carry, and widget changes a visitor might make (by widget key, else
label). Values come from small pools, as in a class where the teacher says "try seed 3": some views repeat (their
caches hit), some are new. A change whose widget is not on the page is skipped and counted, so the driver keeps
working while the pages change; ``resolve_page`` matches page names to whatever url paths the app has.
"""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

DATES = ["14 March 1987", "July 4, 2021", "Saturday, November 28, 2026", "03/15/1999", "1st of May 1900",
         "dec 25 2000", "2049/02/28", "31.12.1999", "Feb 29, 2004", "7 Jun 1955", "Wed 1 Jan 2020", "30-Sep-2010"]


@lru_cache(maxsize=4)
def drawing(variant: int = 0) -> dict:
    """The drawing pad's state after a visitor drew a digit: {"png": a PNG data URL}, like the browser's canvas."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (224, 224), "black")
    d = ImageDraw.Draw(img)
    if variant % 2 == 0:  # a "1"
        d.line([(120, 30), (105, 190)], fill="white", width=18)
    else:  # a "7"
        d.line([(60, 45), (170, 45), (95, 195)], fill="white", width=18, joint="curve")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return {"png": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}


@dataclass
class PageViews:
    name: str  # page name; "" is the main (Home) page
    queries: list[str]  # query strings a shared link might carry
    changes: list[dict[str, Any]]  # one widget interaction each: {key or label: value}
    weight: float = 1.0


PAGES: list[PageViews] = [  # widget keys and URL parameters as the pages bind them (bind="query-params")
    PageViews("", ["", "lang=zh", "lang=en"], [
        {"lang": "中文"}, {"lang": "English"}, {"provider": "CPU"}, {"provider": "Auto"},
    ]),
    PageViews("Autoencoder", ["", "digit=7&n=2", "digit=0&n=5&steps=6", "z1=0.5&z2=-0.5"], [
        {"digit": "5"}, {"digit": "1"}, {"n": 3}, {"n": 1}, {"z1": 0.25}, {"z2": 1.0}, {"b": 12}, {"steps": 8},
        {"source": "Draw"}, {"autoencoder.pad": drawing(0)}, {"autoencoder.pad": drawing(1)}, {"source": "Example"},
    ]),
    PageViews("GAN", ["", "seed=3", "seed=11&grid=6", "seed_a=4&seed_b=9&steps=8"], [
        {"seed": 1}, {"seed": 2}, {"seed": 5}, {"seed": 42}, {"grid": 6}, {"grid": 3}, {"seed_b": 7}, {"steps": 12},
        {"epoch": "35"}, {"epoch": "70"}, {"depoch": "12"}, {"depoch": "100"}, {"hseed": 1}, {"gan.pad": drawing(1)},
    ]),
    PageViews("Attention", ["", "text=July+4%2C+2021", "text=31.12.1999&step=4"], [
        {"text": DATES[0]}, {"text": DATES[3]}, {"text": DATES[6]}, {"text": DATES[9]}, {"step": 3}, {"step": 6},
    ]),
    PageViews("Transformer", ["", "text=Feb+29%2C+2004&layer=2&head=3", "text=7+Jun+1955&heads=enc"], [
        {"text": DATES[1]}, {"text": DATES[4]}, {"text": DATES[7]}, {"layer": "2"}, {"head": "4"}, {"head": "2"},
        {"t": 5}, {"heads": "encoder self-attention"}, {"heads": "cross-attention"},
    ]),
    PageViews("RealTransformer", ["", "sentence=Electroencephalography+is+hard+to+spell.&rlayer=2&rhead=7",
                                  "tok=3&pattern=cls&focus=2"], [
        {"sentence": "The bank raised interest rates."}, {"sentence": "A man is eating food."}, {"rlayer": "3"},
        {"rhead": "H2"}, {"pattern": "next token"}, {"sb": "Shares dropped on Wall Street."},
    ]),
    PageViews("Models", ["", "model=classifier.onnx", "model=transformer.encoder.onnx&precision=int8"], [
        {"model": "gan.generator.onnx"}, {"model": "classifier.onnx"}, {"precision": "int8"}, {"precision": "fp32"},
        {"model": "seq2seq_attention.decoder_step.onnx"}, {"model": "autoencoder.encoder.onnx"},
    ]),
    PageViews("FAQ", ["", "q=GAN", "lang=zh&q=%E8%BF%87%E6%8B%9F%E5%90%88", "params=7B"], [
        {"q": "attention"}, {"q": ""}, {"q": "BERT"}, {"params": "340M"}, {"params": "1.5e9"}, {"lang": "中文"},
        {"lang": "English"},
    ]),
]
BY_NAME = {p.name: p for p in PAGES}


def label(name: str) -> str:
    return name or "Home"


def resolve_page(name: str, url_paths: list[str]) -> str:
    """The app's url path for page ``name`` ("" = the default page), matched loosely (case, _ and -)."""
    if not name:
        return ""
    norm = lambda s: s.lower().replace("_", "").replace("-", "").replace(" ", "")  # noqa: E731
    for p in url_paths:
        if norm(p) == norm(name):
            return p
    for p in url_paths:  # "1_Autoencoder"-like paths
        if norm(p).endswith(norm(name)):
            return p
    return name  # let the server answer page_not_found


@dataclass
class Plan:
    """A seeded walk through the app: (page, query) loads, each followed by a few widget changes."""

    seed: int
    pages: list[PageViews] = field(default_factory=lambda: list(PAGES))
    changes_per_page: tuple[int, int] = (1, 3)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def next_page(self) -> tuple[PageViews, str]:
        p = self.rng.choices(self.pages, weights=[x.weight for x in self.pages])[0]
        return p, self.rng.choice(p.queries)

    def changes(self, p: PageViews) -> list[dict[str, Any]]:
        if not p.changes:
            return []
        k = self.rng.randint(*self.changes_per_page)
        return [self.rng.choice(p.changes) for _ in range(k)]
