"""How well a date model's confidence predicts a wrong answer: the threshold, and its figures per input group.

numpy + whatever runs the graphs (ONNX Runtime for the committed files, PyTorch during export through the same
greedy loop). Used by the export (the figures go into the cards as ``metrics.confidence``) and by
``python benchmarks/dates_confidence.py``, which recomputes them from the committed ONNX files.

Method:
- threshold: the validation split (in-range dates, trained formats) decoded greedily; among its correct outputs,
  the highest threshold on the least sure character's probability that flags at most FALSE_ALARM_BUDGET of them
  (core.runtime.dates_check.choose_threshold). Nothing out of range is used to choose it.
- figures: per group of inputs (core.data.dates.PROBE_GROUPS, and the test split as the in-range control), how
  many answers are wrong, how many are flagged (by the calendar / year check or by low confidence), the flag's
  precision and recall as a predictor of "wrong", and the AUROC of the least sure probability alone.
"""

from __future__ import annotations

import numpy as np

from core.data import dates
from core.runtime.dates_check import FALSE_ALARM_BUDGET, OK, UNSURE, choose_threshold, flag_stats
from core.runtime.decode import SeqModel, greedy_decode


def _decode(model: SeqModel, texts: list[str], threshold: float):
    return greedy_decode(model, texts, maps=False, threshold=threshold)


def validation_threshold(model: SeqModel, budget: float = FALSE_ALARM_BUDGET) -> dict:
    val = dates.val_split()
    decoded = _decode(model, [e.source for e in val], 0.0)
    right = np.array([d.output == e.target and d.out_tokens[-1:] == ["<eos>"] for d, e in zip(decoded, val)])
    low = np.array([d.min_prob for d in decoded])
    t = choose_threshold(low[right], budget)
    return {
        "threshold": round(t, 6),
        "statistic": "min over the output steps (the final <eos> included) of p(chosen token), softmax of the logits",
        "chosen_on": f"validation split ({len(val)} examples, {int(right.sum())} correct): the highest threshold "
                     f"that flags at most {budget:.1%} of the correct outputs (flagged: min p < threshold)",
        "false_alarm_budget": budget,
        "validation_correct_flagged": int((low[right] < t).sum()),
        "validation_wrong": int((~right).sum()),
        "validation_wrong_flagged": int((low[~right] < t).sum()),
        "validation_min_p_quantiles": {q: round(float(np.quantile(low[right], float(q))), 6)
                                       for q in ("0.001", "0.005", "0.01", "0.05", "0.5")} if right.any() else {},
    }


def group_figures(model: SeqModel, sources: list[str], targets: list[str | None], threshold: float,
                  pool: dict | None = None) -> dict:
    decoded = _decode(model, sources, threshold)
    rows = {
        "wrong": [t is None or d.output != t for d, t in zip(decoded, targets)],
        "flagged": [not d.ok for d in decoded],
        "min_p": [d.min_prob for d in decoded],
        "calendar": [d.verdict.status not in (OK, UNSURE) for d in decoded],
    }
    if pool is not None:
        for k, v in rows.items():
            pool.setdefault(k, []).extend(v)
    stats = flag_stats(rows["wrong"], rows["flagged"], rows["min_p"], rows["calendar"])
    stats["examples"] = [{"input": s, "output": d.output, "min_p": round(d.min_prob, 4), "verdict": d.verdict.status}
                         for s, d in list(zip(sources, decoded))[:3]]
    return stats


def measure(model: SeqModel, threshold: float | None = None, n: int = dates.PROBE_N) -> dict:
    """The confidence section of a card: threshold (measured unless given) and the figures per group."""
    section = validation_threshold(model) if threshold is None else {"threshold": float(threshold)}
    t = section["threshold"]
    test = dates.test_split()
    groups = {"test_split_in_range": group_figures(model, [e.source for e in test], [e.target for e in test], t)}
    pool: dict = {}
    for g in dates.PROBE_GROUPS:
        probes = dates.probe_examples(g, n)
        groups[g] = group_figures(model, [p.source for p in probes], [p.target for p in probes], t, pool)
    section["groups"] = groups
    section["never_trained_pooled"] = flag_stats(pool["wrong"], pool["flagged"], pool["min_p"], pool["calendar"])
    section["how_to_read"] = (
        "wrong: the output is not the input's date (impossible_dates: every output is wrong, there is no right "
        "answer). flagged: not shown as an answer, because it is no calendar date in 1900-2099 "
        "(flagged_by_calendar) or the model is unsure (min p below the threshold). precision = wrong_and_flagged "
        "/ flagged, recall = wrong_and_flagged / wrong; auroc_min_p ranks wrongness by min p alone (0.5 = chance, "
        "null where a group has no right or no wrong answers). Recompute: python benchmarks/dates_confidence.py")
    return section
