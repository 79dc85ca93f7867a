"""Big-Model Lab core.

Two sides, kept apart:
- torch side (models, training, export): ``core.models``, ``core.training``, ``core.export``, ``core.train``.
- runtime side (numpy + onnxruntime only): ``core.runtime``, ``core.data``, ``core.atomic``, ``core.figures``.
Nothing in this package imports streamlit, and importing ``core`` imports no torch.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"
RUNS = ROOT / "runs"
