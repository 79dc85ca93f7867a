"""The committed date models through ONNX Runtime: accuracy bars, attention maps, cards, and the decode CLI."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.data import dates
from core.runtime.decode import Decoded, alignment_table, decode, greedy_decode, load_seq_model
from core.runtime.session import ModelError
from core.tokenizer import TokenizeError

ROOT = Path(__file__).resolve().parent.parent

BARS = {"transformer": 0.995, "seq2seq_attention": 0.990}


@pytest.fixture(scope="module", params=list(BARS))
def committed(request, exported_dir):
    kind = request.param
    try:
        model = load_seq_model(kind, "cpu", exported_dir)
    except ModelError as exc:
        pytest.fail(f"the committed {kind} graphs are missing or corrupt: {exc}")
    tests = dates.test_split()
    decoded = greedy_decode(model, [e.source for e in tests])
    return kind, model, tests, decoded


def test_accuracy_bar_on_the_test_split(committed):
    kind, model, tests, decoded = committed
    hits = [d.output == e.target and d.out_tokens[-1] == "<eos>" for d, e in zip(decoded, tests)]
    acc = float(np.mean(hits))
    assert acc >= BARS[kind], f"{kind}: {acc:.4f} exact match through ORT, bar {BARS[kind]}"
    # the card reports what this test measures
    metrics = model.card["metrics"]
    assert metrics["test_examples"] == len(tests)
    assert abs(metrics["test_exact_match"] - acc) < 1e-9
    assert {"yyyy-mm-dd", "yyyy/mm/dd", "yyyy.mm.dd"} <= set(dates.FORMAT_NAMES) and len(dates.FORMAT_NAMES) == 14
    for fmt in dates.FORMAT_NAMES:  # the bar holds on every format, ISO 8601 included
        per = float(np.mean([h for h, e in zip(hits, tests) if e.fmt == fmt]))
        assert abs(metrics["test_exact_match_per_format"][fmt] - per) < 1e-9
        assert per >= BARS[kind], f"{kind}: format {fmt} only {per:.4f}, bar {BARS[kind]}"


def test_correct_answers_pass_the_check_and_the_card_records_confidence(committed, exported_dir):
    """In range, nearly every right answer is shown (a real date the model is sure of); the card's confidence
    figures are what this loop measures on the validation split and on the impossible-dates probes."""
    from core.runtime.confidence import group_figures, validation_threshold

    kind, model, tests, decoded = committed
    conf = model.card["metrics"]["confidence"]
    assert 0.5 < model.threshold == conf["threshold"] < 1.0
    right = [d.output == e.target for d, e in zip(decoded, tests)]
    shown = [d.ok for d in decoded]
    assert sum(r and not s for r, s in zip(right, shown)) <= 0.01 * len(tests)  # false alarms in range
    assert conf["groups"]["test_split_in_range"]["wrong_shown_as_answer"] == sum(
        s and not r for r, s in zip(right, shown))
    assert conf["groups"]["test_split_in_range"]["right_but_flagged"] == sum(r and not s for r, s in zip(right, shown))
    again = validation_threshold(model)
    assert again["threshold"] == conf["threshold"] and again["validation_correct_flagged"] <= 0.005 * dates.N_VAL
    probes = dates.probe_examples("impossible_dates")
    fig = group_figures(model, [p.source for p in probes], [p.target for p in probes], model.threshold)
    assert {k: v for k, v in fig.items() if k != "examples"} == \
        {k: v for k, v in conf["groups"]["impossible_dates"].items() if k != "examples"}
    assert fig["recall"] >= 0.95, f"{kind}: {fig['wrong_shown_as_answer']} impossible dates shown as answers"
    assert set(conf["groups"]) == {"test_split_in_range", *dates.PROBE_GROUPS}


def test_the_issues_three_inputs(committed):
    """"2026-11-28" was read as "201-11-26"; "2100-01-01" and "31 February 2023" were shown as answers."""
    _, model, _, _ = committed
    iso, future, impossible = greedy_decode(model, ["2026-11-28", "2100-01-01", "31 February 2023"])
    assert iso.output == "2026-11-28" and iso.ok
    assert not future.ok and future.verdict.status in ("out_of_range", "low_confidence", "not_a_date")
    assert not impossible.ok
    assert len(iso.probs) == len(iso.out_tokens) == 11 and all(0 < p <= 1 for p in iso.probs)


def test_cards_record_parity_vocab_and_limits(committed):
    kind, model, _, _ = committed
    card = model.card
    assert card["parity"]["passed"] and card["parity"]["same_tokens"] == card["parity"]["examples"] == dates.N_TEST
    assert card["parity"]["max_attention_abs_diff"] <= 1e-4
    assert card["decoding"]["max_src_len"] == 32 and card["decoding"]["special_ids"]["eos"] == 2
    assert card["data"]["formats"] == dates.FORMAT_NAMES
    assert model.step.card["metrics"] == card["metrics"]
    assert card["train_command"].startswith(f"python -m core.train {kind}")


def test_attention_maps_are_distributions(committed):
    kind, model, _, decoded = committed
    for d in decoded[:: len(decoded) // 40]:
        T, S = len(d.out_tokens), len(d.src_tokens)
        assert S == len(d.input)
        if kind == "transformer":
            L, H = model.cache_shape[0], model.cache_shape[1]
            assert d.cross.shape == (L, H, T, S) and d.dec_self.shape == (L, H, T, T)
            assert d.enc_self.shape[2:] == (S, S)
            np.testing.assert_allclose(d.enc_self.sum(-1), 1.0, atol=1e-5)
            np.testing.assert_allclose(d.dec_self.sum(-1), 1.0, atol=1e-5)
            assert np.allclose(np.triu(d.dec_self, k=1), 0)  # row t only over positions <= t
        else:
            assert d.cross.shape == (T, S) and d.enc_self is None
        np.testing.assert_allclose(d.cross.sum(-1), 1.0, atol=1e-5)


def test_padding_positions_get_zero_weight(committed):
    """A short input batched with a long one: its rows over the padded columns are exactly 0 (raw ORT run)."""
    kind, model, _, _ = committed
    from core.runtime.decode import _greedy_batch
    from core.tokenizer import encode_source

    short, long = encode_source("1.1.1900"), encode_source("Wednesday, September 30, 2026")
    res = _greedy_batch(model, [short, long])
    alone = decode(model, "1.1.1900")
    assert res[0]["ids"] == alone.out_ids and alone.output == "1900-01-01"
    np.testing.assert_allclose(res[0]["cross"], alone.cross, atol=1e-5)
    src = np.full((1, len(long)), 0, dtype=np.int64)
    src[0, :len(short)] = short
    enc = model.run_encoder({"src": src})
    if kind == "transformer":
        assert (enc["enc_self_attn"][:, 0, :, :, len(short):] == 0).all()
    else:
        assert (enc["enc_states"][0, len(short):] == 0).all()


def test_decode_api_and_alignment_table(committed):
    _, model, _, _ = committed
    d = decode(model, "  Sat 28 Nov 2026 \n")
    assert isinstance(d, Decoded) and d.input == "Sat 28 Nov 2026" and d.output == "2026-11-28"
    assert d.src_tokens == list("Sat 28 Nov 2026") and d.out_tokens == [*"2026-11-28", "<eos>"]
    table = alignment_table(d)
    assert len(table.splitlines()) == 2 + len(d.out_tokens)
    with pytest.raises(TokenizeError):
        decode(model, "28 Novembre 2026 — lundi")


def run_cli(*args, stdin=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "core.decode", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("kind", list(BARS))
def test_cli_reads_stdin_and_survives_a_bad_line(kind):
    lines = ["Nov 28 2026", "28.11.2026", "28 Novembre 2026 — lundi", "", "1st of january 1900",
             "x" * 40, "12/31/2099"]
    r = run_cli("--model", kind, "--provider", "cpu", stdin="\n".join(lines) + "\n")
    assert r.returncode == 1, r.stderr  # some lines could not be read
    out = r.stdout.splitlines()
    assert len(out) == len(lines)
    assert out[0] == out[1] == "2026-11-28"
    assert out[2].startswith("error:") and "'—'" in out[2]
    assert out[3].startswith("error:") and "empty" in out[3]
    assert out[4] == "1900-01-01"
    assert out[5].startswith("error:") and "40 characters" in out[5]
    assert out[6] == "2099-12-31"
    assert "Traceback" not in r.stderr


def test_cli_argument_and_attention_table():
    r = run_cli("--model", "transformer", "--attention", "Sat 28 Nov 2026")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "2026-11-28" and "cross-attention" in out[1]
    r = subprocess.run([sys.executable, "-c", "import sys, core.decode, core.runtime.decode, core.tokenizer, "
                        "core.data.dates; sys.exit('torch' in sys.modules)"], cwd=ROOT, capture_output=True)
    assert r.returncode == 0, "the decode CLI imports torch"


def test_cli_missing_or_corrupt_model_is_one_line(tmp_path):
    import shutil

    work = tmp_path / "repo"
    shutil.copytree(ROOT / "core", work / "core", ignore=shutil.ignore_patterns("__pycache__"))
    r = run_cli("--model", "transformer", "Nov 28 2026", cwd=work)  # no exported/ at all
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "python -m core.train transformer" in r.stderr
    (work / "exported").mkdir()
    for name in ("manifest.json", "transformer.encoder.onnx", "transformer.decoder_step.onnx"):
        shutil.copy(ROOT / "exported" / name, work / "exported" / name)
    victim = work / "exported" / "transformer.decoder_step.onnx"
    victim.write_bytes(victim.read_bytes()[:1000])
    r = run_cli("--model", "transformer", "Nov 28 2026", cwd=work)
    assert r.returncode == 1 and "corrupt" in r.stderr and len(r.stderr.strip().splitlines()) == 1
