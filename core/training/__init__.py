"""Torch side: training loops. Imported only by `python -m core.train` and the tests."""
