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
PER_FORMAT_VAL = 150
PER_FORMAT_TEST = 250  # enough to resolve 99.5 % per format, small enough to decode the split in seconds

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
    # ISO 8601 itself, and the same order with dots: what many people type first (the first 12 formats' names and
    # order are unchanged; these two were added later, so per-format figures of older cards stay comparable)
    "yyyy-mm-dd": lambda d: f"{d.year}-{d.month:02d}-{d.day:02d}",  # 2026-11-28
    "yyyy.mm.dd": lambda d: f"{d.year}.{d.month:02d}.{d.day:02d}",  # 2026.11.28
}
FORMAT_NAMES = list(FORMATS)
N_VAL = PER_FORMAT_VAL * len(FORMATS)  # 2,100 examples
N_TEST = PER_FORMAT_TEST * len(FORMATS)  # 3,500 examples

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


NUMERIC = ("dd.mm.yyyy", "yyyy/mm/dd", "mm/dd/yyyy", "yyyy-mm-dd", "yyyy.mm.dd")
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


# ---------------------------------------------------------------------------------------------------------------
# Inputs the models were never trained on: how well does low confidence predict a wrong answer there?
# Each group is seeded (the same inputs everywhere); ``target`` is the right ISO date, or None where no date is
# right (an impossible date: every answer shown is wrong).

PROBE_SEED = 18_000_101
PROBE_N = 400  # per group


@dataclass(frozen=True)
class Probe:
    source: str
    target: str | None
    group: str


@dataclass(frozen=True)
class _YMD:
    """A day that may not exist (31 February): what the FORMATS writers read, without a weekday."""

    year: int
    month: int
    day: int


GERMAN_MONTHS = ["Januar", "Februar", "Maerz", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                 "November", "Dezember"]  # "März" is written "Maerz": "ä" is outside the vocabulary
FRENCH_MONTHS = ["janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre",
                 "novembre", "decembre"]  # accents dropped, as above
_NO_WEEKDAY = [f for f in FORMAT_NAMES if "weekday" not in f and "wkd" not in f]


def _in_years(rng: random.Random, first: int, last: int) -> date:
    lo, hi = date(first, 1, 1).toordinal(), date(last, 12, 31).toordinal()
    return date.fromordinal(rng.randint(lo, hi))


def _trained_format(d, rng: random.Random, formats=None) -> str:
    fmt = rng.choice(formats or FORMAT_NAMES)
    return render(d, fmt, rng.choice(CASES), fmt not in NUMERIC or rng.random() < 0.5)


def _impossible(rng: random.Random) -> str:
    y = rng.randint(1900, 2099)
    if rng.random() < 0.2:  # month 13 in a numeric format
        m, d = 13, rng.randint(1, 28)
        return render(_YMD(y, m, d), rng.choice(["dd.mm.yyyy", "yyyy-mm-dd", "yyyy/mm/dd", "yyyy.mm.dd"]), "lower")
    m = rng.choice([2, 4, 6, 9, 11])
    if m == 2:
        d = rng.choice([30, 31] + ([29] * 3 if not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else []))
    else:
        d = 31
    return _trained_format(_YMD(y, m, d), rng, _NO_WEEKDAY)


def _known_day(rng: random.Random) -> date:
    return _day(rng.choice(_splits()["test"]))  # a day the models never saw in training


def _probe(group: str, rng: random.Random) -> Probe:
    if group == "years_1800_1899":
        d = _in_years(rng, 1800, 1899)
        return Probe(_trained_format(d, rng), iso(d), group)
    if group == "years_2100_2199":
        d = _in_years(rng, 2100, 2199)
        return Probe(_trained_format(d, rng), iso(d), group)
    if group == "impossible_dates":
        return Probe(_impossible(rng), None, group)
    d = _known_day(rng)
    if group == "day_first_slashes":  # 28/11/2026; day >= 13 so the day-first reading is the only one
        d = d.replace(day=rng.randint(13, 28))
        text = f"{d.day}/{d.month:02d}/{d.year}" if rng.random() < 0.5 else f"{d.day}/{d.month}/{d.year}"
    elif group == "compact_yyyymmdd":  # 20261128
        text = f"{d.year}{d.month:02d}{d.day:02d}"
    elif group == "month_dot_ordinal":  # Nov. 28th, 2026 / Nov. 28 2026
        text = f"{_mon(d)}. {ordinal(d.day) if rng.random() < 0.5 else d.day}{',' if rng.random() < 0.5 else ''} {d.year}"
        text = apply_case(text, rng.choice(CASES))
    elif group == "german_months":  # 28. Dezember 2026
        text = f"{d.day}. {GERMAN_MONTHS[d.month - 1]} {d.year}"
    elif group == "french_months":  # 28 decembre 2026
        text = f"{'1er' if d.day == 1 else d.day} {FRENCH_MONTHS[d.month - 1]} {d.year}"
    else:
        raise ValueError(f"unknown probe group {group!r}; choose one of {PROBE_GROUPS}")
    return Probe(text, iso(d), group)


PROBE_GROUPS = ("years_1800_1899", "years_2100_2199", "day_first_slashes", "compact_yyyymmdd", "month_dot_ordinal",
                "german_months", "french_months", "impossible_dates")


def probe_examples(group: str, n: int = PROBE_N) -> list[Probe]:
    """``n`` seeded inputs of one group (PROBE_GROUPS): never-trained years, formats or impossible dates."""
    rng = random.Random(f"probe:{PROBE_SEED}:{group}")
    return [_probe(group, rng) for _ in range(n)]
