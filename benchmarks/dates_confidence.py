"""How well the date models' low confidence predicts a wrong answer, recomputed from the committed ONNX files.

    python benchmarks/dates_confidence.py [--model transformer|seq2seq_attention|both] [--json out.json]
        [--threshold P] [--markdown]

Uses onnxruntime only. The threshold is measured again on the validation split (as the export does) unless
--threshold is given; the figures per group are then compared with what the model card says (they must match:
the same seeded inputs, the same greedy loop). Prints one row per group: n, wrong, flagged (by the calendar /
year check, by confidence), wrong answers still shown, precision and recall of the flag, AUROC of min p.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.runtime.confidence import measure
from core.runtime.decode import KINDS, load_seq_model

COLS = ("n", "wrong", "flagged", "flagged_by_calendar", "flagged_by_confidence_only", "wrong_shown_as_answer",
        "right_but_flagged", "precision", "recall", "auroc_min_p")


def _cell(v) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def table(section: dict, markdown: bool) -> str:
    rows = [("group", *COLS)]
    groups = {**section["groups"], "never_trained_pooled": section["never_trained_pooled"]}
    for g, st in groups.items():
        rows.append((g, *(_cell(st.get(c)) for c in COLS)))
    if markdown:
        head = "| " + " | ".join(rows[0]) + " |"
        sep = "|" + "---|" * len(rows[0])
        return "\n".join([head, sep] + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=[*KINDS, "both"], default="both")
    p.add_argument("--threshold", type=float, default=None, help="use this threshold instead of measuring it")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = p.parse_args(argv)
    kinds = KINDS if args.model == "both" else (args.model,)
    out, mismatch = {}, False
    for kind in kinds:
        model = load_seq_model(kind, "cpu")
        t0 = time.perf_counter()
        section = measure(model, args.threshold)
        card = (model.card.get("metrics") or {}).get("confidence")
        print(f"\n{kind}: threshold {section['threshold']} (card: {card and card.get('threshold')}), "
              f"{time.perf_counter() - t0:.1f} s")
        if "chosen_on" in section:
            print(f"  chosen on the {section['chosen_on']}")
        print(table(section, args.markdown))
        if card and args.threshold is None:
            same = all(card["groups"].get(g, {}).get(c) == st.get(c) for g, st in section["groups"].items()
                       for c in COLS) and card.get("threshold") == section["threshold"]
            print(f"  card figures {'match' if same else 'DIFFER from'} this run")
            mismatch |= not same
        out[kind] = section
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 1 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
