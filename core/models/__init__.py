"""Torch side: one model per file, each with a frozen config dataclass beside it."""
