import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXPORTED = ROOT / "exported"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _has_mnist(d: Path) -> bool:
    return all((d / f).exists() or (d / (f + ".gz")).exists() for f in MNIST_FILES)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder: $MNIST_DIR, else ../shared/data/mnist, else the download cache that
    `python -m core.data.mnist --download` fills; the test skips (saying why) without any of them."""
    from core.data.mnist import cache_dir

    env = os.environ.get("MNIST_DIR")
    for cand in ([Path(env)] if env else []) + [SHARED_MNIST, cache_dir()]:
        if cand and _has_mnist(cand):
            return cand
    pytest.skip("no MNIST here: set MNIST_DIR to a folder with the four IDX files (or run `python -m core.data.mnist --download`)")


@pytest.fixture(scope="session")
def exported_dir() -> Path:
    return EXPORTED
