"""Datasets (numpy / pure Python only): MNIST IDX files and the date-normalisation task."""
