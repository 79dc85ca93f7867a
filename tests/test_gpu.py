"""CUDA paths: ORT's CUDAExecutionProvider (fp32 and int8 graphs, parity against CPU) and a torch training step on
cuda. Each test skips, saying why, where this machine has no CUDA (the CI machine and the dev machine have none)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from core.quantize import TARGETS
from core.runtime import int8 as q8
from core.runtime.session import load_model

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"
MNIST_GRAPHS = ["classifier.onnx", "autoencoder.encoder.onnx", "autoencoder.decoder.onnx",
                "autoencoder_2d.encoder.onnx", "autoencoder_2d.decoder.onnx", "conv_autoencoder.encoder.onnx",
                "conv_autoencoder.decoder.onnx", "gan.generator.onnx", "gan.discriminator.onnx"]

ORT_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
needs_ort_cuda = pytest.mark.skipif(
    not ORT_CUDA, reason=f"onnxruntime {ort.__version__} has no CUDAExecutionProvider here (providers: "
                         f"{', '.join(ort.get_available_providers())}); install requirements-gpu.txt on a CUDA machine")


def _torch_cuda() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} sees no CUDA device (a CPU build or no GPU)"
    return True, ""


def _feeds(name: str, batch: int = 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    if name.startswith("gan.generator"):
        return {"z": rng.standard_normal((batch, 100)).astype(np.float32)}
    if ".decoder" in name:
        dim = 2 if name.startswith("autoencoder_2d") else 32
        return {"z": rng.standard_normal((batch, dim)).astype(np.float32)}
    from core.runtime.mnist import load_examples, to_model_input

    return {"image": to_model_input(load_examples(EXPORTED)["images"][:batch])}


@needs_ort_cuda
@pytest.mark.parametrize("name", MNIST_GRAPHS)
def test_ort_cuda_session_matches_cpu(name):
    gpu = load_model(name, "cuda", EXPORTED)
    assert gpu.on_cuda and gpu.note is None, gpu.providers
    cpu = load_model(name, "cpu", EXPORTED)
    feeds = _feeds(name)
    a, b = gpu.run(feeds), cpu.run(feeds)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-3, rtol=1e-3, err_msg=f"{name}:{k} CUDA vs CPU")


@needs_ort_cuda
@pytest.mark.parametrize("name", [q8.int8_name(f) for f in TARGETS["classifier"] + TARGETS["autoencoder"]])
def test_ort_cuda_runs_the_int8_graphs(name):
    """MatMulInteger/DynamicQuantizeLinear on CUDA (or ORT places them on CPU): outputs agree with the CPU int8 run
    to within int8 rounding, and the classifier's predictions with at most one change in 64."""
    gpu, cpu = load_model(name, "cuda", EXPORTED), load_model(name, "cpu", EXPORTED)
    assert gpu.providers[0] == "CUDAExecutionProvider"
    feeds = _feeds(name)
    a, b = gpu.run(feeds), cpu.run(feeds)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=0.05, err_msg=f"{name}:{k}")
    if name.startswith("classifier"):
        assert (a["logits"].argmax(1) != b["logits"].argmax(1)).sum() <= 1


@needs_ort_cuda
@pytest.mark.parametrize("kind", ["transformer", "seq2seq_attention"])
def test_date_models_decode_the_same_on_cuda(kind):
    from core.data import dates
    from core.runtime.decode import greedy_decode, load_seq_model

    tests = dates.test_split()[::10]
    gpu, cpu = load_seq_model(kind, "cuda", EXPORTED), load_seq_model(kind, "cpu", EXPORTED)
    assert gpu.providers[0] == "CUDAExecutionProvider"
    a, b = greedy_decode(gpu, [e.source for e in tests]), greedy_decode(cpu, [e.source for e in tests])
    assert [d.output for d in a] == [d.output for d in b]
    assert max(float(np.abs(x.cross - y.cross).max()) for x, y in zip(a, b)) < 1e-3


def test_cuda_request_without_cuda_falls_back_to_cpu_and_says_so():
    """The CPU-only path of the same code: always runs (on a CUDA machine it checks the opposite)."""
    m = load_model("classifier.onnx", "cuda", EXPORTED)
    if ORT_CUDA:
        assert m.on_cuda and m.note is None
    else:
        assert m.providers == ["CPUExecutionProvider"] and "CUDA was requested" in m.note


def test_torch_training_step_on_cuda_matches_cpu():
    ok, why = _torch_cuda()
    if not ok:
        pytest.skip(why)
    import torch
    import torch.nn.functional as F

    from core.models.classifier import Classifier, ClassifierConfig

    torch.manual_seed(0)
    cpu = Classifier(ClassifierConfig(dropout=0.0))
    gpu = Classifier(ClassifierConfig(dropout=0.0)).cuda()
    gpu.load_state_dict(cpu.state_dict())
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for model, dev in ((cpu, "cpu"), (gpu, "cuda")):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = F.cross_entropy(model(x.to(dev))[0], y.to(dev))
        loss.backward()
        opt.step()
    for (k, a), b in zip(cpu.state_dict().items(), gpu.state_dict().values()):
        torch.testing.assert_close(a, b.cpu(), atol=1e-4, rtol=1e-4, msg=lambda m: f"{k}: {m}")


def test_trainer_runs_one_epoch_on_cuda(tmp_path, mnist_dir):
    ok, why = _torch_cuda()
    if not ok:
        pytest.skip(why)
    from core.train import main

    out = tmp_path / "o"
    assert main(["autoencoder", "--epochs", "1", "--device", "cuda", "--data-dir", str(mnist_dir), "--out", str(out),
                 "--runs", str(tmp_path / "r"), "--quiet"]) == 0
    m = load_model("autoencoder.encoder.onnx", "cpu", out)
    assert m.card["metrics"]["test_mse"] < 0.12


def _reqs(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = line.split("=")[0].split(">")[0].split("<")[0].strip()
            out[name] = line[len(name):]
    return out


def test_gpu_requirements_are_the_dashboards_with_onnxruntime_gpu():
    cpu, gpu = _reqs(ROOT / "requirements.txt"), _reqs(ROOT / "requirements-gpu.txt")
    assert "onnxruntime" not in gpu and "onnxruntime-gpu" in gpu  # never both: they are one module
    cpu.pop("onnxruntime")
    gpu.pop("onnxruntime-gpu")
    assert cpu == gpu
    assert "torch" not in gpu  # the dashboard never needs torch
