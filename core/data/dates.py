"""Date normalisation data: human-written dates -> ISO 8601 ("Saturday, 28 November 2026" -> "2026-11-28").

Pure Python. Every example comes from a seeded generator, so the same seed gives the same data everywhere.
Splits are by *date*: each calendar day from 1900-01-01 to 2099-12-31 belongs to exactly one of train, val and
test (a fixed seeded permutation, independent of the training seed), so a test date never appears in training in
any format or case.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2099, 12, 31)
N_DAYS = (LAST_DAY - FIRST_DAY).days + 1  # 73,049 days

SPLIT_SEED = 20261128  # fixes which dates are val/test; never changes with the training seed
VAL_FRACTION = 0.05
TEST_FRACTION = 0.05
N_VAL = 1_800  # examples, 150 per format
N_TEST = 3_000  # examples, 250 per format: enough to resolve 99.5 %, small enough to decode in seconds

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]  # date.weekday() order
CASES = ("lower", "upper", "title")


def ordinal(n: int) -> str:
    """1 -> 1st, 2 -> 2nd, 11 -> 11th, 23 -> 23rd."""
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _month(d: date) -> str:
    return MONTHS[d.month - 1]


def _mon(d: date) -> str:
    return MONTHS[d.month - 1][:3]


def _weekday(d: date) -> str:
    return WEEKDAYS[d.weekday()]


# name -> writer; names are stable (cards, tests and the dashboard key per-format accuracy by them).
# The numeric formats write day and month with a leading zero ("28.01.2026"); render(..., pad=False) drops it
# ("28.1.2026"), as people often do: half of all examples of those formats are written that way.
FORMATS: dict[str, callable] = {
    "d_month_y": lambda d: f"{d.day} {_month(d)} {d.year}",  # 28 November 2026
    "month_d_y": lambda d: f"{_month(d)} {d.day}, {d.year}",  # November 28, 2026
    "mon_d_y": lambda d: f"{_mon(d)} {d.day} {d.year}",  # Nov 28 2026
    "d_mon_y": lambda d: f"{d.day} {_mon(d)} {d.year}",  # 28 Nov 2026
    "weekday_month_d_y": lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}",  # Saturday, November 28, 2026
    "wkd_d_mon_y": lambda d: f"{_weekday(d)[:3]} {d.day} {_mon(d)} {d.year}",  # Sat 28 Nov 2026
    "dd.mm.yyyy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",  # 28.11.2026
    "yyyy/mm/dd": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",  # 2026/11/28
    "mm/dd/yyyy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",  # 11/28/2026 (US order)
    "dth_of_month_y": lambda d: f"{ordinal(d.day)} of {_month(d)} {d.year}",  # 28th of November 2026
    "month_dth_y": lambda d: f"{_month(d)} {ordinal(d.day)}, {d.year}",  # november 28th, 2026
    "d-mon-y": lambda d: f"{d.day}-{_mon(d)}-{d.year}",  # 28-nov-2026
}
FORMAT_NAMES = list(FORMATS)

_WORD = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]+")  # a word that starts with a letter (not "th" in "28th")


def apply_case(text: str, case: str) -> str:
    if case == "lower":
        return text.lower()
    if case == "upper":
        return text.upper()
    if case == "title":
        return _WORD.sub(lambda m: m.group(0).capitalize(), text.lower())
    raise ValueError(f"unknown case {case!r}; choose one of {CASES}")


def iso(d: date) -> str:
    return d.isoformat()  # YYYY-MM-DD


NUMERIC = ("dd.mm.yyyy", "yyyy/mm/dd", "mm/dd/yyyy")
_LEADING_ZERO = re.compile(r"(?<![0-9])0(?=[1-9](?![0-9]{2}))")  # "01" in "01.02.2026", never in the year


def render(d: date, fmt: str, case: str, pad: bool = True) -> str:
    text = FORMATS[fmt](d)
    if not pad and fmt in NUMERIC:
        text = _LEADING_ZERO.sub("", text)
    return apply_case(text, case)


@dataclass(frozen=True)
class Example:
    source: str  # what a person wrote
    target: str  # YYYY-MM-DD
    fmt: str  # a FORMATS key
    case: str  # a CASES value
    padded: bool = True  # numeric formats: day and month with a leading zero


def _day(i: int) -> date:
    return FIRST_DAY + timedelta(days=i)


def split_days() -> dict[str, list[int]]:
    """Day indices (0 = 1900-01-01) of each split; disjoint, covering every day once, fixed by SPLIT_SEED."""
    order = list(range(N_DAYS))
    random.Random(SPLIT_SEED).shuffle(order)
    n_test, n_val = int(N_DAYS * TEST_FRACTION), int(N_DAYS * VAL_FRACTION)
    return {
        "test": sorted(order[:n_test]),
        "val": sorted(order[n_test:n_test + n_val]),
        "train": sorted(order[n_test + n_val:]),
    }


def sample(days: list[int], n: int, rng: random.Random, balanced: bool = False) -> list[Example]:
    """``n`` examples on dates drawn from ``days``; ``balanced`` cycles the formats (equal count per format)."""
    out = []
    for i in range(n):
        d = _day(rng.choice(days))
        fmt = FORMAT_NAMES[i % len(FORMAT_NAMES)] if balanced else rng.choice(FORMAT_NAMES)
        case = rng.choice(CASES)
        pad = fmt not in NUMERIC or rng.random() < 0.5
        out.append(Example(render(d, fmt, case, pad), iso(d), fmt, case, pad))
    return out


_SPLITS: dict[str, list[int]] | None = None


def _splits() -> dict[str, list[int]]:
    global _SPLITS
    if _SPLITS is None:
        _SPLITS = split_days()
    return _SPLITS


def test_split(n: int = N_TEST) -> list[Example]:
    """The fixed test split (independent of any training seed): ``n`` examples, formats balanced."""
    return sample(_splits()["test"], n, random.Random(SPLIT_SEED + 1), balanced=True)


def val_split(n: int = N_VAL) -> list[Example]:
    return sample(_splits()["val"], n, random.Random(SPLIT_SEED + 2), balanced=True)


def train_examples(n: int, seed: int, epoch: int = 0) -> list[Example]:
    """Fresh training examples for one epoch: dates from the train split only, seeded by (seed, epoch)."""
    return sample(_splits()["train"], n, random.Random(f"train:{seed}:{epoch}"))


def max_source_length() -> int:
    """The longest input any format can produce (a Wednesday in September, the longest words)."""
    longest = 0
    d = date(2026, 9, 30)  # Wednesday, September 30
    for fmt in FORMAT_NAMES:
        longest = max(longest, len(FORMATS[fmt](d)))
    return longest


def split_dates(examples: list[Example]) -> set[str]:
    return {e.target for e in examples}
