"""The int8 twins in exported/: complete cards, fresh fp32 sources, no quantised convolution, and drift figures
that a re-run on part of the test data agrees with. Plus the graph passes and the quantise command itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.atomic import sha256_file
from core.manifest import read_manifest, rebuild_command, write_manifest
from core.quantize import TARGETS, QuantSettings, quantize, stale
from core.quantize.graph import gemm_to_matmul, store_conv_weights_int8
from core.runtime import int8 as q8
from core.runtime.session import load_model

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"
FP32 = [f for files in TARGETS.values() for f in files]
INT8 = [q8.int8_name(f) for f in FP32]
MODEL_OF = {q8.int8_name(f): name for name, files in TARGETS.items() for f in files}
QUANTISED_CONV = {"ConvInteger", "QLinearConv"}


@pytest.fixture(scope="module")
def files():
    return read_manifest(EXPORTED)["files"]


def card_of(name: str) -> dict:
    return load_model(name, "cpu", EXPORTED, threads=1).card  # also checks the sha256 against the manifest


# ------------------------------------------------------------------------------------------- committed files

def test_every_target_has_a_listed_int8_twin_with_its_rebuild_command(files):
    for f in FP32:
        twin = q8.int8_twin(f, files)
        assert twin == q8.int8_name(f), f"{f} has no int8 twin in the manifest"
        model = MODEL_OF[twin]
        assert files[twin]["rebuild"] == rebuild_command(twin) == f"python -m core.quantize {model}"
    assert q8.int8_twin("gan.generator.onnx", files) is None  # not a target: no twin, no error


@pytest.mark.parametrize("name", INT8)
def test_card_is_complete_and_names_the_current_fp32_source(name, files):
    card = card_of(name)
    src_name = q8.fp32_name(name)
    q = card["int8"]
    assert card["variant"] == "int8" and card["rebuild_command"] == f"python -m core.quantize {MODEL_OF[name]}"
    # the fp32 source: named, and its sha256 is the file's and the manifest's now (else the int8 file is stale)
    assert q["source"]["file"] == src_name
    assert q["source"]["sha256"] == sha256_file(EXPORTED / src_name) == files[src_name]["sha256"], (
        f"{name} was quantised from an older {src_name}: run `python -m core.quantize {MODEL_OF[name]}`")
    assert q8.stale_reason(card, files[src_name]["sha256"]) is None
    # quantiser settings, with the selection that chose them
    s = q["quantizer"]
    assert s["tool"] == "onnxruntime.quantization.quantize_dynamic" and s["op_types_to_quantize"] == ["MatMul"]
    assert {type(s["per_channel"]), type(s["reduce_range"])} == {bool} and s["weight_type"] in ("QInt8", "QUInt8")
    assert s["conv_weights"] in ("fp32", "int8") and s["matmul_int8"] > 0
    sel = q["selection"]
    assert sel["grid"] == "full" and len(sel["candidates"]) in (6, 12) and 0 <= sel["chosen"] < len(sel["candidates"])
    # exact on every x86 CPU: no int8 weights with full-range activations (u8s8 overflows without VNNI)
    assert s["weight_type"] == "QUInt8" or s["reduce_range"], s
    chosen = dict(zip(sel["columns"], sel["candidates"][sel["chosen"]]))
    assert all(chosen[k] == s[k] for k in ("per_channel", "reduce_range", "weight_type", "conv_weights"))
    # size: the card's is the file's, and smaller than fp32
    assert q["size"]["bytes"] == (EXPORTED / name).stat().st_size == files[name]["bytes"]
    assert q["size"]["fp32_bytes"] == files[src_name]["bytes"] and q["size"]["bytes"] < q["size"]["fp32_bytes"]
    # speed: both batches, one thread, where and under what load
    sp = q["speed"]
    assert sp["threads"] == 1 and len(sp["load_average"]) == 3
    for b in ("batch_1", "batch_256"):
        assert sp[b]["fp32_ms"] > 0 and sp[b]["int8_ms"] > 0
        assert sp[b]["speedup"] == pytest.approx(sp[b]["fp32_ms"] / sp[b]["int8_ms"], rel=1e-2)
    # drift on the test data, per kind of model
    d = q["drift"]
    kind = MODEL_OF[name]
    if kind == "classifier":
        assert {"accuracy", "predictions_changed", "logits", "features"} <= set(d) and "t10k" in d["data"]
        assert card["metrics"]["test_accuracy"] == d["accuracy"]["int8"]
    elif kind in ("seq2seq_attention", "transformer"):
        assert {"exact_match", "exact_match_per_format", "outputs_changed", "attention"} <= set(d)
        from core.data import dates

        assert d["outputs_changed"]["of"] == dates.N_TEST and len(d["exact_match_per_format"]) == len(dates.FORMATS)
        maps = {"cross", "enc_self", "dec_self"} if kind == "transformer" else {"cross"}
        assert set(d["attention"]) == maps
        assert card["decoding"] == card_of(src_name)["decoding"]  # the twin decodes with the same vocabulary
    else:
        assert {"mse", "mse_encoder_int8_only", "mse_decoder_int8_only", "z", "reconstruction"} <= set(d)
        assert card["metrics"]["test_mse"] == d["mse"]["int8"] and "t10k" in d["data"]
    rows = q8.drift_rows(card)
    assert rows and all({"metric", "fp32", "int8", "change"} <= set(r) for r in rows)


def test_no_int8_file_is_stale():
    assert stale(EXPORTED) == {}


@pytest.mark.parametrize("name", INT8)
def test_convolutions_run_in_fp32_and_matmuls_in_int8(name, tmp_path):
    fp32 = onnx.load(str(EXPORTED / q8.fp32_name(name)))
    model = onnx.load(str(EXPORTED / name))
    ops = [n.op_type for n in model.graph.node]
    assert not QUANTISED_CONV & set(ops)
    n_conv = sum(n.op_type in ("Conv", "ConvTranspose") for n in fp32.graph.node)
    assert sum(o in ("Conv", "ConvTranspose") for o in ops) == n_conv
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops
    assert card_of(name)["int8"]["quantizer"]["matmul_int8"] == ops.count("MatMulInteger")
    # what ORT really runs: every Conv still a (fp32) Conv on a constant weight, the int8-stored ones folded back
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(str(EXPORTED / name), opts, providers=["CPUExecutionProvider"])
    opt = onnx.load(str(tmp_path / "opt.onnx"))
    inits = {i.name for i in opt.graph.initializer}
    convs = [n for n in opt.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert len(convs) == n_conv and not QUANTISED_CONV & {n.op_type for n in opt.graph.node}
    assert all(n.input[1] in inits for n in convs), "a Conv weight was not folded into a constant"
    assert all(i.data_type == TensorProto.FLOAT for i in opt.graph.initializer if i.name in {n.input[1] for n in convs})


def test_exported_stays_within_its_size_budget(files):
    total = sum(e["bytes"] for e in files.values())
    added = sum(files[n]["bytes"] for n in INT8)
    assert total < 25_000_000, f"exported/ is {total:,} bytes (int8 files: {added:,})"
    assert added < 5_000_000


# ------------------------------------------------------------------------------ drift figures, re-measured

@pytest.fixture(scope="module")
def t10k(mnist_dir):
    from core.data.mnist import load_mnist
    from core.runtime.mnist import to_model_input

    m = load_mnist(mnist_dir)
    return to_model_input(m.test_images), m.test_labels


def test_classifier_accuracy_on_t10k_matches_its_card(t10k):
    from core.runtime.mnist import classify

    x, y = t10k
    card = card_of("classifier.int8.onnx")
    d = card["int8"]["drift"]
    logits, _ = classify(load_model("classifier.int8.onnx", "cpu", EXPORTED, threads=1), x)
    acc = float((logits.argmax(1) == y).mean())
    assert abs(acc - d["accuracy"]["int8"]) <= 0.001, (acc, d["accuracy"])
    assert d["accuracy"]["fp32"] == card_of("classifier.onnx")["metrics"]["test_accuracy"]
    assert d["accuracy"]["fp32"] - d["accuracy"]["int8"] <= 0.001  # int8 loses at most 0.1 pp (10 digits)
    ref, _ = classify(load_model("classifier.onnx", "cpu", EXPORTED, threads=1), x[:2000])
    changed = int((ref.argmax(1) != logits[:2000].argmax(1)).sum())
    assert changed <= d["predictions_changed"]["count"] + 2
    assert np.abs(ref - logits[:2000]).max() <= 1.5 * d["logits"]["max_abs_diff"] + 1e-4


@pytest.mark.parametrize("model", ["autoencoder", "autoencoder_2d", "conv_autoencoder"])
def test_autoencoder_mse_drift_on_a_t10k_subset_matches_the_card(model, t10k):
    from core.runtime.mnist import reconstruct

    x = t10k[0][:2000]
    enc, dec = TARGETS[model]
    d = card_of(q8.int8_name(enc))["int8"]["drift"]
    assert card_of(q8.int8_name(dec))["int8"]["drift"] == d  # both halves report the pair's drift
    load = lambda n: load_model(n, "cpu", EXPORTED, threads=1)  # noqa: E731
    z32, rec32 = reconstruct(load(enc), load(dec), x)
    z8, rec8 = reconstruct(load(q8.int8_name(enc)), load(q8.int8_name(dec)), x)
    rel_sub = q8.mse(x, rec8) / q8.mse(x, rec32) - 1
    rel_card = d["mse"]["int8"] / d["mse"]["fp32"] - 1
    assert abs(rel_sub - rel_card) <= 0.005, (rel_sub, rel_card)  # within half a percent of fp32's MSE
    assert rel_card <= 0.02  # int8 costs at most 2 % in MSE
    assert d["mse"]["fp32"] == pytest.approx(card_of(enc)["metrics"]["test_mse"], abs=2e-6)
    assert np.abs(z8 - z32).max() <= 1.5 * d["z"]["max_abs_diff"] + 1e-4


@pytest.mark.parametrize("kind", ["seq2seq_attention", "transformer"])
def test_date_model_drift_on_a_test_subset_matches_the_card(kind):
    from core.data import dates
    from core.runtime.decode import decode_ids, load_seq_model, make_seq_model
    from core.tokenizer import decode_target, encode_source

    fp32 = load_seq_model(kind, "cpu", EXPORTED)
    enc8, step8 = (load_model(q8.int8_name(f), "cpu", EXPORTED, threads=1) for f in TARGETS[kind])
    int8 = make_seq_model(kind, enc8.card, enc8.run, step8.run, enc8, step8)
    d = enc8.card["int8"]["drift"]
    assert step8.card["int8"]["drift"] == d
    tests = dates.test_split()[::5]  # 600 examples, 50 per format
    ids = [encode_source(e.source, fp32.max_src_len, fp32.vocab) for e in tests]
    ref, free = decode_ids(fp32, ids), decode_ids(int8, ids)
    forced = decode_ids(int8, ids, force=[r["ids"] for r in ref])
    eos = fp32.vocab.eos_id
    hits = [decode_target(r["ids"], fp32.vocab) == e.target and r["ids"][-1] == eos for r, e in zip(free, tests)]
    assert np.mean(hits) >= d["exact_match"]["int8"] - 0.005
    changed = sum(a["ids"] != b["ids"] for a, b in zip(ref, free))
    assert changed <= d["outputs_changed"]["count"]
    att = q8.attention_drift(ref, forced)
    for k, v in d["attention"].items():
        assert att[k]["max_abs_diff"] <= 1.05 * v["max_abs_diff"] + 1e-4, (k, att[k], v)
        assert att[k]["mean_abs_diff"] == pytest.approx(v["mean_abs_diff"], rel=0.3, abs=1e-5), (k, att[k], v)


# --------------------------------------------------------------------------------------- stale detection

def test_a_changed_fp32_file_makes_its_int8_twin_stale(tmp_path):
    out = tmp_path / "exported"
    out.mkdir()
    for f in ("classifier.onnx", "classifier.int8.onnx"):
        shutil.copy(EXPORTED / f, out / f)
    write_manifest(out)
    assert stale(out) == {}
    m = onnx.load(str(out / "classifier.onnx"))  # "retrain": same graph, changed card, so another sha256
    m.doc_string += " (retrained)"
    onnx.save(m, str(out / "classifier.onnx"))
    write_manifest(out)
    why = stale(out)["classifier.int8.onnx"]
    assert "sha256" in why and "python -m core.quantize classifier" in why
    files = read_manifest(out)["files"]
    v = q8.variant_from_card("classifier.onnx", files, card_of("classifier.int8.onnx"))
    assert v.stale and v.int8_file == "classifier.int8.onnx"
    r = subprocess.run([sys.executable, "-m", "core.quantize", "--check", "--exported", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "stale: classifier.int8.onnx" in r.stdout and "Traceback" not in r.stderr


# --------------------------------------------------------------------------------- the command, re-run

def test_the_command_reproduces_a_committed_int8_file(tmp_path, mnist_dir):
    """Quantise the committed fp32 autoencoder into a tmp dir with the card's settings: the same int8 weights."""
    out = tmp_path / "exported"
    out.mkdir()
    for f in TARGETS["autoencoder"]:
        shutil.copy(EXPORTED / f, out / f)
    write_manifest(out)
    s = card_of("autoencoder.encoder.int8.onnx")["int8"]["quantizer"]
    settings = QuantSettings(s["per_channel"], s["reduce_range"], s["weight_type"], s["conv_weights"])
    cards = quantize("autoencoder", out, mnist_dir, quiet=True, only=[settings])
    assert set(cards) == {"autoencoder.encoder.int8.onnx", "autoencoder.decoder.int8.onnx"}
    files = read_manifest(out)["files"]
    for name, card in cards.items():
        assert files[name]["rebuild"] == "python -m core.quantize autoencoder"
        assert card["int8"]["source"]["sha256"] == files[q8.fp32_name(name)]["sha256"]
        assert card["int8"]["selection"]["grid"].startswith("restricted")
        new, old = onnx.load(str(out / name)), onnx.load(str(EXPORTED / name))
        a = {i.name: numpy_helper.to_array(i) for i in new.graph.initializer}
        b = {i.name: numpy_helper.to_array(i) for i in old.graph.initializer}
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        assert [n.op_type for n in new.graph.node] == [n.op_type for n in old.graph.node]
    assert stale(out) == {}


def test_cli_rejects_an_unknown_model_and_a_missing_fp32_file(tmp_path):
    r = subprocess.run([sys.executable, "-m", "core.quantize", "gan"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "unknown model 'gan'" in r.stderr
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "files": {}}))
    r = subprocess.run([sys.executable, "-m", "core.quantize", "transformer", "--exported", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("error:") and "transformer.encoder.onnx" in r.stderr
    assert "Traceback" not in r.stderr


# --------------------------------------------------------------------------------------------- graph passes

def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_gemm_to_matmul_gives_the_same_outputs():
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    w2 = rng.standard_normal((5, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
         helper.make_node("Gemm", ["h", "w2"], ["y"]),  # no bias, no transB
         helper.make_node("Gemm", ["x", "xt"], ["g"])],  # B not constant: left alone
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 7]),
              helper.make_tensor_value_info("xt", TensorProto.FLOAT, [7, "B"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 3]),
         helper.make_tensor_value_info("g", TensorProto.FLOAT, ["B", "B"])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = rng.standard_normal((4, 7)).astype(np.float32)
    feeds = {"x": x, "xt": x.T.copy()}
    before = _run(model, feeds)
    assert gemm_to_matmul(model) == 2
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add", "MatMul", "Gemm"]
    onnx.checker.check_model(model)
    for a, c in zip(before, _run(model, feeds)):
        np.testing.assert_allclose(a, c, atol=1e-5)


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
def test_conv_weights_stored_in_int8_come_back_within_half_a_step(op):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 6, 3, 3)).astype(np.float32) * np.arange(1, 5, dtype=np.float32)[:, None, None, None]
    c_in = 4 if op == "ConvTranspose" else 6
    graph = helper.make_graph([helper.make_node(op, ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", c_in, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", None, None, None])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = rng.random((2, 4 if op == "ConvTranspose" else 6, 5, 5)).astype(np.float32)
    before = _run(model, {"x": x})[0]
    assert store_conv_weights_int8(model) == 1
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    q = next(v for v in inits.values() if v.dtype == np.int8)
    scale = next(v for k, v in inits.items() if k.endswith("_scale"))
    back = q.astype(np.float32) * scale
    assert np.all(np.abs(back - w) <= scale / 2 + 1e-7) and "w" not in inits
    axis = 0 if op == "Conv" else 1
    assert scale.shape[axis] == scale.size == w.shape[axis]  # one scale per output channel
    np.testing.assert_allclose(_run(model, {"x": x})[0], before, atol=0.05 * np.abs(before).max())


# ------------------------------------------------------------------------------------------- pure functions

def test_names_and_variant_rows_for_the_models_page(files):
    assert q8.int8_name("transformer.decoder_step.onnx") == "transformer.decoder_step.int8.onnx"
    assert q8.fp32_name("transformer.decoder_step.int8.onnx") == "transformer.decoder_step.onnx"
    with pytest.raises(ValueError):
        q8.int8_name("classifier.int8.onnx")
    assert q8.int8_twin("classifier.int8.onnx", files) is None
    v = q8.load_variant("classifier.onnx", EXPORTED)
    assert v.int8_file == "classifier.int8.onnx" and v.stale is None and 0 < v.size_ratio < 0.5
    assert [r["batch"] for r in v.speed] == [1, 256] and v.settings["op_types_to_quantize"] == ["MatMul"]
    acc = next(r for r in v.drift if r["metric"] == "accuracy")
    assert acc["fp32"] == 0.9938 or acc["fp32"] == card_of("classifier.onnx")["metrics"]["test_accuracy"]
    assert acc["change"] == pytest.approx(acc["int8"] - acc["fp32"])
    assert q8.load_variant("gan.generator.onnx", EXPORTED) is None
    t = q8.load_variant("transformer.encoder.onnx", EXPORTED)
    metrics = [r["metric"] for r in t.drift]
    assert "exact match" in metrics and any(m.startswith("cross-attention: largest") for m in metrics)
    assert any(m.startswith("exact match, dd.mm.yyyy") for m in metrics)
    json.dumps([r for r in t.drift])  # plain data, fit for a table


def test_runtime_side_imports_no_torch():
    code = ("import sys, core.runtime.int8, core.quantize, core.quantize.graph; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "core.runtime.int8 or core.quantize imports torch"
