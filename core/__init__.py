"""Big-Model Lab core.

Two sides, kept apart:
- torch side (models, training, export): ``core.models``, ``core.training``, ``core.export``, ``core.train``.
- runtime side (numpy + onnxruntime only): ``core.runtime``, ``core.data``, ``core.atomic``, ``core.figures``.
Nothing in this package imports streamlit, and importing ``core`` imports no torch.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# BML_EXPORTED points the dashboard, the CLIs and the trainers at another artifact folder (tests: a scratch copy).
EXPORTED = Path(os.environ["BML_EXPORTED"]).expanduser().absolute() if os.environ.get("BML_EXPORTED") else (
    ROOT / "exported")
RUNS = ROOT / "runs"
