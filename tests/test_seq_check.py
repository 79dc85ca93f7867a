"""The calendar check and the confidence arithmetic of the date models (pure Python + numpy, no model files)."""

import calendar
import itertools
from datetime import date, timedelta

import numpy as np
import pytest

from core.data import dates
from core.runtime.dates_check import (
    NOT_A_DATE,
    OK,
    OUT_OF_RANGE,
    UNSURE,
    auroc,
    check_output,
    choose_threshold,
    days_in_month,
    describe,
    flag_stats,
    is_leap,
    judge,
    softmax_chosen,
)


def test_leap_years_follow_the_gregorian_rule():
    assert not is_leap(1900) and is_leap(2000) and is_leap(2024) and not is_leap(2023) and not is_leap(2100)
    for y in range(1800, 2200):
        assert is_leap(y) == calendar.isleap(y), y
        for m in range(1, 13):
            assert days_in_month(y, m) == calendar.monthrange(y, m)[1], (y, m)


@pytest.mark.parametrize("text, reason", [
    ("2023-02-29", "2023 is not a leap year"),
    ("1900-02-29", "1900 is not a leap year"),
    ("2023-02-31", "February 2023 has 28 days, not 31"),
    ("2024-02-30", "February 2024 has 29 days, not 30"),
    ("2026-04-31", "April 2026 has 30 days, not 31"),
    ("2026-13-01", "no month 13"),
    ("2026-00-10", "no month 00"),
    ("2026-11-00", "no day 00"),
    ("201-11-26", "not shaped YYYY-MM-DD"),
    ("2026-11-2", "not shaped YYYY-MM-DD"),
    ("2026/11/28", "not shaped YYYY-MM-DD"),
    ("2026-11-28 ", "not shaped YYYY-MM-DD"),
    ("２０２６-11-28", "not shaped YYYY-MM-DD"),  # full-width digits are digits to str.isdigit, not here
    ("", "not shaped YYYY-MM-DD"),
    ("2100-01-01", "outside 1900-2099"),
    ("1899-12-31", "outside 1900-2099"),
])
def test_check_output_rejects_with_a_reason(text, reason):
    ok, why = check_output(text)
    assert not ok and reason in why, why


def test_check_output_accepts_every_real_day_in_range_and_only_those():
    for d in (date(1900, 1, 1), date(2000, 2, 29), date(2024, 2, 29), date(2099, 12, 31), date(1999, 12, 31)):
        assert check_output(d.isoformat()) == (True, "")
    day, n = date(1900, 1, 1), 0
    while day <= date(2099, 12, 31):  # every real day passes
        assert check_output(day.isoformat())[0], day
        day += timedelta(days=97)
        n += 1
    assert n > 700
    real = {date(2023, m, d).isoformat() for m in range(1, 13) for d in range(1, days_in_month(2023, m) + 1)}
    shaped = {f"2023-{m:02d}-{d:02d}" for m, d in itertools.product(range(14), range(33))}
    assert {t for t in shaped if check_output(t)[0]} == real  # exactly the 365 real days of 2023
    assert check_output("2100-01-01", years=(1900, 2199)) == (True, "")


def test_judge_puts_the_calendar_before_confidence():
    sure, unsure = [0.9999] * 11, [0.9999] * 9 + [0.4, 0.9999]
    assert judge("2026-11-28", sure, 0.99).status == OK
    v = judge("2010-01-02", unsure, 0.99)  # well-formed and wrong: only confidence can tell
    assert not v.ok and v.status == UNSURE and v.unsure and "0.400" in v.reason and "0.990" in v.reason
    v = judge("2023-02-31", sure, 0.99)
    assert v.status == NOT_A_DATE and "February 2023 has 28 days" in v.reason and not v.unsure
    assert judge("2023-02-31", unsure, 0.99).status == NOT_A_DATE  # a definite reason wins
    assert judge("2150-01-01", sure, 0.99).status == OUT_OF_RANGE
    assert judge("2026-11-28", sure, 0.99, ended=False).status == NOT_A_DATE
    assert judge("2026-11-28", [], 0.0).status == UNSURE  # nothing generated: nan is never "sure"
    assert judge("2026-11-28", unsure, 0.0).ok  # threshold 0 turns the flag off
    line = describe(judge("2023-02-31", sure, 0.99), "2023-02-31")
    assert line.endswith("the model wrote '2023-02-31'") and "28 days" in line


def test_softmax_of_the_chosen_token():
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [1000.0, 0.0, -5.0, 3.0], [2.0, 1.0, 0.0, -1.0]], np.float32)
    p = softmax_chosen(logits, [3, 0, 1])
    expected = [0.25, 1.0, np.exp(1) / np.exp([2, 1, 0, -1]).sum()]
    np.testing.assert_allclose(p, expected, rtol=1e-9)  # no overflow at logit 1000


def test_threshold_flags_at_most_the_budget():
    rng = np.random.default_rng(0)
    x = 1 - rng.exponential(1e-4, size=2000)
    for budget in (0.0, 0.001, 0.005, 0.05):
        t = choose_threshold(x, budget)
        assert (x < t).sum() <= budget * len(x)
        assert (x <= t).sum() > budget * len(x) - 1  # and no higher threshold would do
    assert choose_threshold([0.3, 0.9, 0.99], 0.0) == 0.3


def _brute_auroc(scores, pos):
    p = [s for s, y in zip(scores, pos) if y]
    n = [s for s, y in zip(scores, pos) if not y]
    return sum((a > b) + 0.5 * (a == b) for a in p for b in n) / (len(p) * len(n))


def test_auroc_matches_the_pairwise_definition():
    rng = np.random.default_rng(1)
    for _ in range(20):
        s = rng.integers(0, 6, size=40).astype(float)  # many ties
        y = rng.random(40) < 0.3
        if y.any() and (~y).any():
            assert auroc(s, y) == pytest.approx(_brute_auroc(s, y))
    assert auroc([1, 2, 3], [False, False, True]) == 1.0 and auroc([3, 2, 1], [False, False, True]) == 0.0
    assert auroc([1, 2], [True, True]) is None


def test_flag_stats_counts():
    wrong = [True, True, False, False, True]
    flagged = [True, False, True, False, True]
    st = flag_stats(wrong, flagged, [0.1, 0.9, 0.5, 0.99, 0.2], by_calendar=[True, False, False, False, False])
    assert (st["n"], st["wrong"], st["flagged"], st["wrong_and_flagged"]) == (5, 3, 3, 2)
    assert st["wrong_shown_as_answer"] == 1 and st["right_but_flagged"] == 1
    assert st["precision"] == pytest.approx(2 / 3, abs=1e-4) and st["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert st["flagged_by_calendar"] == 1 and st["flagged_by_confidence_only"] == 2
    assert 0 <= st["auroc_min_p"] <= 1


def test_probe_groups_are_seeded_and_out_of_range():
    assert dates.probe_examples("german_months", 50) == dates.probe_examples("german_months", 50)
    for g in dates.PROBE_GROUPS:
        probes = dates.probe_examples(g, 200)
        assert len(probes) == 200 and all(p.group == g for p in probes)
        for p in probes:
            if g == "impossible_dates":
                assert p.target is None
                continue
            d = date.fromisoformat(p.target)
            if g == "years_1800_1899":
                assert 1800 <= d.year <= 1899
            elif g == "years_2100_2199":
                assert 2100 <= d.year <= 2199
            else:
                assert 1900 <= d.year <= 2099
            if g == "day_first_slashes":
                assert d.day >= 13 and p.source.startswith(str(d.day) + "/")  # only the day-first reading
    compact = dates.probe_examples("compact_yyyymmdd", 5)
    assert all(p.source.isdigit() and len(p.source) == 8 for p in compact)
