"""Is a date model's output an answer? The calendar check, the confidence verdict, and how well confidence works.

Pure Python + numpy (no onnxruntime, no torch): the CLI, the dashboard, the export and the confidence benchmark
all judge an output here, so a non-date is never shown as an answer anywhere.

Two independent checks, in this order:
1. ``check_output(text)``: is the text a real calendar date, written YYYY-MM-DD, in the years the models were
   trained on (1900-2099)? "2023-02-31", "2026-13-01" and "201-11-26" fail with a reason.
2. Confidence: the probability the model gave each token it chose (softmax of the step's logits). An output
   whose least sure token is below the model's threshold is flagged. This is what catches a well-formed but
   wrong date, e.g. "2100-01-01" -> "2010-01-02": the calendar cannot know that one is wrong.
The threshold is measured per model on the validation split (``choose_threshold``) and stored in its card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

YEARS = (1900, 2099)  # what the date models were trained on (core.data.dates.FIRST_DAY .. LAST_DAY)
DEFAULT_THRESHOLD = 0.5  # only for a card without a measured threshold (models exported before it existed)
FALSE_ALARM_BUDGET = 0.005  # at most this share of correct validation outputs may be flagged as unsure
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")

_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# verdict statuses; "ok" is the only one shown as an answer
OK, NOT_A_DATE, OUT_OF_RANGE, UNSURE = "ok", "not_a_date", "out_of_range", "low_confidence"


def is_leap(year: int) -> bool:
    """Gregorian: every 4th year, except centuries, except every 4th century (1900 is not, 2000 is)."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _status(text: str, years: tuple[int, int]) -> tuple[str, str]:
    if not isinstance(text, str) or not _ISO.fullmatch(text):
        return NOT_A_DATE, "it is not shaped YYYY-MM-DD"
    y, m, d = int(text[:4]), int(text[5:7]), int(text[8:])
    if not 1 <= m <= 12:
        return NOT_A_DATE, f"there is no month {m:02d}"
    n = days_in_month(y, m)
    if not 1 <= d <= n:
        if d == 0:
            return NOT_A_DATE, "there is no day 00"
        if m == 2 and d == 29:
            return NOT_A_DATE, f"{y} is not a leap year, so February {y} has 28 days"
        return NOT_A_DATE, f"{MONTH_NAMES[m - 1]} {y} has {n} days, not {d}"
    if not years[0] <= y <= years[1]:
        return OUT_OF_RANGE, (f"the year {y} is outside {years[0]}-{years[1]}, the years the model was trained on "
                              "(it cannot be trusted there)")
    return OK, ""


def check_output(text: str, years: tuple[int, int] = YEARS) -> tuple[bool, str]:
    """(True, "") for a real calendar date written YYYY-MM-DD within ``years``; else (False, the reason)."""
    status, reason = _status(text, years)
    return status == OK, reason


@dataclass(frozen=True)
class Verdict:
    """Whether an output may be shown as an answer, and if not, why (plain text, fit to show a person)."""

    ok: bool
    status: str  # "ok" | "not_a_date" | "out_of_range" | "low_confidence"
    reason: str  # "" when ok; never contains the model's output (describe() adds it)
    min_prob: float  # the least sure chosen token's probability (nan when nothing was generated)
    threshold: float

    @property
    def unsure(self) -> bool:
        return self.min_prob < self.threshold


def fmt_p(p: float) -> str:
    """A probability as text: 3 decimals, or 6 where it is above 0.999 (thresholds sit very close to 1)."""
    return f"{p:.3f}" if not p > 0.999 else f"{min(p, 0.999999):.6f}" if p < 1.0 else "1"


def min_probability(probs) -> float:
    return float(min(probs)) if len(probs) else float("nan")


def judge(output: str, probs, threshold: float, ended: bool = True, years: tuple[int, int] = YEARS) -> Verdict:
    """The verdict on one output: the calendar first (a definite reason), then the model's confidence.

    ``probs``: the chosen token's probability at every step, the final <eos> included; ``ended``: whether an
    <eos> was produced within the length limit.
    """
    low = min_probability(probs)
    status, reason = _status(output, years)
    if status == OK and not ended:
        status, reason = NOT_A_DATE, "the model did not finish its answer within the length limit"
    if status == OK and not low >= threshold:
        status = UNSURE
        reason = (f"the model is unsure: its least sure character has probability {fmt_p(low)}, below this "
                  f"model's threshold {fmt_p(threshold)}")
    return Verdict(ok=status == OK, status=status, reason=reason, min_prob=low, threshold=float(threshold))


def explain(verdict: Verdict, output: str) -> tuple[str, dict]:
    """The verdict's reason as a catalogue key and its fields (``verdict.*`` in core/i18n/strings/dates.toml), so a
    page can say it in the visitor's language; ``("", {})`` for an answer. The same codes as the browser's judge
    (static/live/dates.mjs)."""
    if verdict.ok:
        return "", {}
    if verdict.status == UNSURE:
        return "verdict.unsure", {"p": fmt_p(verdict.min_prob), "threshold": fmt_p(verdict.threshold)}
    if not isinstance(output, str) or not _ISO.fullmatch(output):
        return "verdict.not_shaped", {}
    y, m, d = int(output[:4]), int(output[5:7]), int(output[8:])
    if not 1 <= m <= 12:
        return "verdict.no_month", {"m": f"{m:02d}"}
    if not 1 <= d <= days_in_month(y, m):
        if d == 0:
            return "verdict.no_day", {}
        if m == 2 and d == 29:
            return "verdict.not_leap", {"y": y}
        return "verdict.days", {"y": y, "m": f"{m:02d}", "n": days_in_month(y, m), "d": d}
    if verdict.status == OUT_OF_RANGE:
        return "verdict.out_of_range", {"y": y, "lo": YEARS[0], "hi": YEARS[1]}
    return "verdict.unfinished", {}


def describe(verdict: Verdict, output: str) -> str:
    """One line for a rejected output: the reason and what the model wrote (for the CLI's `error: ...`)."""
    return f"{verdict.reason}; the model wrote {output!r}"


# ---------------------------------------------------------------------------------------------------------------
# Measuring confidence


def softmax_chosen(logits: np.ndarray, ids) -> np.ndarray:
    """p(chosen token) per step: logits (T, V), ids (T,) -> (T,), a numerically stable softmax."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.size == 0:
        return np.zeros(0)
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return np.exp(logp[np.arange(len(ids)), np.asarray(ids, dtype=np.int64)])


def choose_threshold(min_probs_of_correct, budget: float = FALSE_ALARM_BUDGET) -> float:
    """The highest threshold that flags at most ``budget`` of these (correct, in-distribution) outputs.

    Flagged means min p < threshold, so the threshold is the k-th smallest value with k = floor(budget * n): at
    most k values lie strictly below it.
    """
    x = np.sort(np.asarray(min_probs_of_correct, dtype=np.float64))
    if x.size == 0:
        return DEFAULT_THRESHOLD
    k = int(np.floor(budget * x.size))
    return float(x[min(k, x.size - 1)])


def auroc(scores, positives) -> float | None:
    """Area under the ROC curve of ``scores`` (higher = more likely positive); ties count one half.

    The Mann-Whitney U statistic over average ranks; None when either class is empty (undefined).
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def flag_stats(wrong, flagged, min_probs, by_calendar=None) -> dict:
    """How well ``flagged`` predicts ``wrong`` in one group of outputs (counts, precision, recall, AUROC)."""
    wrong = np.asarray(wrong, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    caught = int((wrong & flagged).sum())
    out = {
        "n": int(wrong.size), "wrong": int(wrong.sum()), "flagged": int(flagged.sum()), "wrong_and_flagged": caught,
        "wrong_shown_as_answer": int((wrong & ~flagged).sum()),
        "right_but_flagged": int((~wrong & flagged).sum()),
        "precision": round(caught / int(flagged.sum()), 4) if flagged.any() else None,
        "recall": round(caught / int(wrong.sum()), 4) if wrong.any() else None,
    }
    a = auroc(-np.asarray(min_probs, dtype=np.float64), wrong)  # low min p = "wrong" predicted
    out["auroc_min_p"] = None if a is None else round(a, 4)
    if by_calendar is not None:
        out["flagged_by_calendar"] = int(np.asarray(by_calendar, dtype=bool).sum())
        out["flagged_by_confidence_only"] = int((flagged & ~np.asarray(by_calendar, dtype=bool)).sum())
    return out
