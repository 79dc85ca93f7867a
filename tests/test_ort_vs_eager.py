"""benchmarks/ort_vs_eager.py runs and prints a row per graph and batch with the load average (a smoke test:
speed figures live in the script's output, never in assertions about time)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_prints_ort_eager_and_int8_rows():
    r = subprocess.run([sys.executable, "benchmarks/ort_vs_eager.py", "--runs", "3", "--no-decoders", "--graphs",
                        "autoencoder.encoder.onnx", "gan.discriminator.onnx"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("torch ") and "load average" in lines[0] and "eager/ORT" in lines[1]
    rows = [line.split() for line in lines if line.startswith(("autoencoder.encoder.onnx", "gan.discriminator"))]
    assert [(x[0], x[1]) for x in rows] == [("autoencoder.encoder.onnx", "1"), ("autoencoder.encoder.onnx", "256"),
                                            ("gan.discriminator.onnx", "1"), ("gan.discriminator.onnx", "256")]
    for x in rows:
        eager, ort = float(x[2]), float(x[3])
        assert eager > 0 and ort > 0 and float(x[4].rstrip("x")) > 0  # printed ms are rounded: no exact ratio
    assert rows[0][5] != "-" and rows[2][5] == "-"  # the autoencoder has an int8 twin, the GAN has none
    assert any(line.startswith("MNIST graphs, batch 1: ORT") for line in lines)
