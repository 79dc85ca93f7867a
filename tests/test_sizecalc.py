"""The 'how big is big' calculator: arithmetic, units, presets, and this project's model cards."""

import math

import pytest

from core import EXPORTED
from core.errors import UserError
from core.sizecalc import (
    DTYPES, OMITTED, PRESETS, Preset, SizeError, devices_needed, human_bytes, human_count, memory_bytes,
    parse_count, project_presets, table, training_flops, training_memory_bytes,
)


def test_gpt3_weights_by_dtype():
    assert memory_bytes(175e9, "fp16") == 350e9
    assert human_bytes(memory_bytes(175e9, "fp16")) == "350 GB"
    assert human_bytes(memory_bytes(175e9, "fp32")) == "700 GB"
    assert memory_bytes(175e9, "bf16") == memory_bytes(175e9, "fp16")
    assert human_bytes(memory_bytes(175e9, "int8")) == "175 GB"
    assert human_bytes(memory_bytes(175e9, "int4")) == "87.5 GB"
    assert memory_bytes(1, "FP32") == 4 and memory_bytes(0, "int8") == 0


def test_training_memory_is_16_bytes_per_param_with_adam():
    assert training_memory_bytes(1) == 16
    assert human_bytes(training_memory_bytes(175e9)) == "2.8 TB"
    assert human_bytes(training_memory_bytes(7e9)) == "112 GB"
    assert training_memory_bytes(10, "sgd") == 80 and training_memory_bytes(10, "sgd_momentum") == 120
    with pytest.raises(SizeError):
        training_memory_bytes(10, "lion")


def test_training_flops_and_devices():
    assert training_flops(175e9, 300e9) == pytest.approx(3.15e23)  # Brown et al. report 3.14e23
    assert devices_needed(memory_bytes(175e9, "fp16"), 80e9) == 5
    assert devices_needed(0, 80e9) == 0
    with pytest.raises(SizeError):
        devices_needed(1, 0)


@pytest.mark.parametrize("n, decimal, binary", [
    (0, "0 B", "0 B"),
    (999, "999 B", "999 B"),
    (1000, "1 kB", "1000 B"),
    (1024, "1.02 kB", "1 KiB"),
    (1536, "1.54 kB", "1.5 KiB"),
    (350e9, "350 GB", "326 GiB"),
    (999.96e9, "1 TB", "931 GiB"),        # rounds up into the next unit, never "1e+03 GB"
    (2**30, "1.07 GB", "1 GiB"),
    (4.2e15, "4.2 PB", "3.73 PiB"),
])
def test_human_bytes(n, decimal, binary):
    assert human_bytes(n) == decimal
    assert human_bytes(n, binary=True) == binary


def test_human_count_and_parse_count():
    assert human_count(175e9) == "175B"
    assert human_count(25_557_032) == "25.6M"
    assert human_count(1_542_000_000) == "1.54B"
    assert human_count(512) == "512"
    for text, n in [("175B", 175_000_000_000), ("1.5b", 1_500_000_000), (" 340 M ", 340_000_000),
                    ("7e9", 7_000_000_000), ("25,557,032", 25_557_032), ("2T", 2_000_000_000_000), ("12k", 12_000)]:
        assert parse_count(text) == n, text
    for bad in ("", "abc", "-5M", "1.2.3B", "5 GB"):
        with pytest.raises(SizeError):
            parse_count(bad)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "12", None, True])
def test_bad_counts_are_user_errors(bad):
    with pytest.raises(UserError):
        memory_bytes(bad, "fp32")


def test_unknown_dtype_is_a_user_error():
    with pytest.raises(SizeError, match="fp8"):
        memory_bytes(10, "fp8")


def test_presets_are_the_published_counts():
    by_name = {p.name: p for p in PRESETS}
    assert len(by_name) == len(PRESETS)
    assert by_name["BERT-base"].params == 110e6 and by_name["BERT-large"].params == 340e6
    assert by_name["GPT (GPT-1)"].params == 117e6
    assert by_name["GPT-2"].params == pytest.approx(1.5e9, rel=0.03)
    assert by_name["GPT-3"].params == 175e9
    assert 25.5e6 < by_name["ResNet-50"].params < 25.7e6
    assert 23.7e6 < by_name["Inception-v3"].params < 24.0e6
    assert all(p.source and p.kind == "published" for p in PRESETS)
    assert [p.params for p in PRESETS] == sorted(p.params for p in PRESETS)
    assert {"WaveNet", "DeepSpeech"} <= set(OMITTED) and not ({"WaveNet", "DeepSpeech"} & set(by_name))


def test_table_rows():
    rows = table(PRESETS)
    gpt3 = next(r for r in rows if r["name"] == "GPT-3")
    assert gpt3["fp16"] == 350e9 and gpt3["train_adam"] == 2.8e12
    assert set(DTYPES) <= set(gpt3)
    assert len(rows) == len(PRESETS)


def test_project_presets_from_cards_and_manifests():
    cards = [{"name": "gan.generator", "architecture": "Generator", "parameters": 300_000},
             {"name": "classifier", "architecture": "ConvNet", "parameters": 100_000},
             {"name": "classifier", "parameters": 100_000},          # same model twice: kept once
             {"name": "broken"}, {"name": "zero", "parameters": 0}, "junk"]
    got = project_presets(cards)
    assert [(p.name, p.params) for p in got] == [("classifier", 100_000), ("gan.generator", 300_000)]
    assert all(p.kind == "project" for p in got) and "ConvNet" in got[0].note
    as_dict = project_presets({"classifier.onnx": cards[1]})
    assert as_dict == [Preset("classifier", 100_000, "model card of classifier.onnx", "project", "this project's ConvNet")]
    manifest = {"format": 1, "files": {"transformer.onnx": {"sha256": "x", "card": {"name": "transformer",
                                                                                     "parameters": 42}},
                                       "gan.onnx": {"sha256": "y", "parameters": 7},
                                       "history/gan.json": {"sha256": "z"}}}
    assert [(p.name, p.params) for p in project_presets(manifest)] == [("gan", 7), ("transformer", 42)]
    assert project_presets([]) == [] and project_presets(None) == []


def test_project_presets_from_the_real_exported_cards():
    """When models have been exported, their ONNX cards give positive parameter counts the calculator can use."""
    files = sorted(EXPORTED.glob("*.onnx")) if EXPORTED.is_dir() else []
    if not files:
        pytest.skip("no exported ONNX files yet (python -m core.train all)")
    import json

    import onnxruntime as ort

    cards = {}
    for f in files:
        meta = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).get_modelmeta()
        if "model_card" in meta.custom_metadata_map:
            cards[f.name] = json.loads(meta.custom_metadata_map["model_card"])
    presets = project_presets(cards)
    assert presets, "exported ONNX files carry no model card with `parameters`"
    for p in presets:
        assert p.params > 0 and math.isfinite(memory_bytes(p.params, "fp32"))
