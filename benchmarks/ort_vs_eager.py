"""ONNX Runtime against PyTorch eager, one thread, on this machine: every exported graph at batch 1 and 256, the
int8 twin where there is one, the Transformer's key/value-cache decoder against recomputing the prefix at every
step, and the GRU model's step loop against its full-sequence (teacher-forced) run.

    python benchmarks/ort_vs_eager.py [--runs 200] [--graphs classifier.onnx ...] [--no-decoders]

A script, not a test: it prints measured figures and the load average beside them (a shared machine makes them
noisy; re-measure on a quiet one before quoting). Every timing is the median of N runs after warm-up, the
contenders timed in alternating rounds so a change in load hits them alike.

The eager modules are built from each card's config with fresh weights (checkpoints are not committed; the time
of these graphs does not depend on the weights' values), in eval mode under torch.inference_mode(), with the same
inputs as ORT. ORT runs the committed files (CPUExecutionProvider, intra-op threads 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core import EXPORTED  # noqa: E402
from core.manifest import read_manifest  # noqa: E402
from core.runtime.int8 import int8_twin, is_int8  # noqa: E402
from core.runtime.session import open_session  # noqa: E402

BATCHES = (1, 256)


def load() -> str:
    a = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"{a[0]:.2f} {a[1]:.2f} {a[2]:.2f}"


def timed(fns: dict, runs: int, rounds: int = 5, warmup: int = 3) -> dict[str, float]:
    """Median ms of each callable, in alternating rounds."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    acc: dict[str, list[float]] = {k: [] for k in fns}
    per = max(1, runs // rounds)
    for _ in range(rounds):
        for k, f in fns.items():
            for _ in range(per):
                t = time.perf_counter()
                f()
                acc[k].append(time.perf_counter() - t)
    return {k: float(np.median(v) * 1e3) for k, v in acc.items()}


def _cfg(cls, card: dict):
    """The config dataclass from a card (JSON lists back to tuples)."""
    fields = cls.__dataclass_fields__
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in card["config"].items() if k in fields})


def eager_module(name: str, card: dict) -> torch.nn.Module:
    from core.models import (autoencoder, autoencoder_2d, classifier, conv_autoencoder, dcgan, fid_features, gan,
                             seq2seq_attention, transformer)

    stem, _, part = name.removesuffix(".onnx").partition(".")
    if stem == "classifier":
        return classifier.Classifier(_cfg(classifier.ClassifierConfig, card))
    if stem in ("autoencoder", "autoencoder_2d", "conv_autoencoder"):
        cls, cfg = {
            "autoencoder": (autoencoder.Autoencoder, autoencoder.AutoencoderConfig),
            "autoencoder_2d": (autoencoder_2d.Autoencoder2D, autoencoder_2d.Autoencoder2DConfig),
            "conv_autoencoder": (conv_autoencoder.ConvAutoencoder, conv_autoencoder.ConvAutoencoderConfig),
        }[stem]
        return getattr(cls(_cfg(cfg, card)), part)
    if stem == "fid_features":
        return fid_features.FidFeatures(_cfg(fid_features.FidFeaturesConfig, card))
    if stem == "dcgan":
        cfg = _cfg(dcgan.DcganConfig, card)
        if part == "generator":
            return dcgan.GeneratorUnit(dcgan.Generator(cfg))
        return dcgan.DiscriminatorUnit(dcgan.Discriminator(cfg).fold_spectral_norm())
    if stem == "gan":
        cfg = _cfg(gan.GanConfig, card)
        if part == "generator":
            return gan.GeneratorUnit(gan.Generator(cfg))
        return gan.DiscriminatorUnit(gan.Discriminator(cfg).fold_spectral_norm())
    if stem == "transformer":
        m = transformer.Transformer(_cfg(transformer.TransformerConfig, card))
        return transformer.Encoder(m) if part == "encoder" else transformer.DecoderStep(m)
    if stem == "seq2seq_attention":
        m = seq2seq_attention.Seq2SeqAttention(_cfg(seq2seq_attention.Seq2SeqConfig, card))
        return seq2seq_attention.Encoder(m) if part == "encoder" else seq2seq_attention.DecoderStep(m)
    raise KeyError(name)


class Feeds:
    """Real inputs for every graph, built with ORT from the committed files: validation digits, encoder codes,
    date test sources and the feeds of the 6th greedy decoding step (a cache of 5 positions)."""

    def __init__(self, exported: Path):
        from core.data import dates
        from core.runtime.mnist import load_examples, to_model_input

        self.exported = exported
        imgs = to_model_input(load_examples(exported)["images"])
        self.images = np.concatenate([imgs] * (1 + max(BATCHES) // len(imgs)))[:max(BATCHES)]
        self.sources = [e.source for e in dates.test_split()[:max(BATCHES)]]
        self._cache: dict = {}

    def session(self, name):
        if name not in self._cache:
            self._cache[name] = open_session(self.exported / name, "cpu", threads=1)
        return self._cache[name]

    def for_graph(self, name: str, batch: int) -> dict[str, np.ndarray]:
        stem, _, part = name.removesuffix(".onnx").partition(".")
        if part == "decoder" and stem not in ("gan", "dcgan"):
            z = self.session(f"{stem}.encoder.onnx").run({"image": self.images[:batch]})["z"]
            return {"z": z}
        if name in ("gan.generator.onnx", "dcgan.generator.onnx"):
            return {"z": np.random.default_rng(0).standard_normal((batch, 100)).astype(np.float32)}
        if stem in ("transformer", "seq2seq_attention"):
            return self.seq_feeds(stem, part, batch)
        return {"image": self.images[:batch]}

    def seq_model(self, kind):
        from core.runtime.decode import make_seq_model

        enc, step = self.session(f"{kind}.encoder.onnx"), self.session(f"{kind}.decoder_step.onnx")
        return make_seq_model(kind, enc.card, enc.run, step.run, enc, step)

    def src(self, kind, batch):
        from core.tokenizer import encode_source, pad_batch

        m = self.seq_model(kind)
        return pad_batch([encode_source(s, m.max_src_len, m.vocab) for s in self.sources[:batch]], m.vocab.pad_id)

    def seq_feeds(self, kind, part, batch, steps: int = 5):
        m = self.seq_model(kind)
        src = self.src(kind, batch)
        if part == "encoder":
            return {"src": src}
        enc = m.run_encoder({"src": src})
        mask = src != m.vocab.pad_id
        token = np.full((batch,), m.vocab.bos_id, dtype=np.int64)
        if kind == "transformer":
            L, H, d_k = m.cache_shape
            feeds = {"token": token, "memory": enc["memory"], "src_mask": mask,
                     "cache": np.zeros((L, 2, batch, H, 0, d_k), np.float32)}
        else:
            feeds = {"token": token, "state": enc["state"], "enc_states": enc["enc_states"],
                     "enc_keys": enc["enc_keys"], "src_mask": mask}
        for _ in range(steps):
            out = m.run_step(feeds)
            feeds["token"] = out["logits"].argmax(-1).astype(np.int64)
            if kind == "transformer":
                feeds["cache"] = out["new_cache"]
            else:
                feeds["state"] = out["new_state"]
        return feeds


def graph_rows(exported: Path, graphs: list[str], runs: int) -> list[dict]:
    files = read_manifest(exported).get("files", {})
    feeds = Feeds(exported)
    rows = []
    for name in graphs:
        card = feeds.session(name).card
        module = eager_module(name, card).eval()
        twin = int8_twin(name, files)
        for b in BATCHES:
            f = feeds.for_graph(name, b)
            sess = feeds.session(name).session
            inputs = [torch.from_numpy(np.ascontiguousarray(f[i.name])) for i in sess.get_inputs()]
            fns = {"ort": lambda s=sess, f=f: s.run(None, f)}

            def eager(m=module, x=inputs):
                with torch.inference_mode():
                    m(*x)

            fns["eager"] = eager
            if twin:
                s8 = feeds.session(twin).session
                fns["int8"] = lambda s=s8, f=f: s.run(None, f)
            n = runs if b == 1 else max(10, runs // 10)
            t = timed(fns, n)
            rows.append({"graph": name, "batch": b, "eager_ms": t["eager"], "ort_ms": t["ort"],
                         "int8_ms": t.get("int8"), "load": load()})
            print(fmt_row(rows[-1]), flush=True)
    return rows


def fmt_row(r: dict) -> str:
    ratio = r["eager_ms"] / r["ort_ms"]
    i8 = f"{r['int8_ms']:9.3f} {r['ort_ms'] / r['int8_ms']:6.2f}x" if r.get("int8_ms") else f"{'-':>9} {'':>7}"
    return (f"{r['graph']:38s} {r['batch']:>5d} {r['eager_ms']:10.3f} {r['ort_ms']:9.3f} {ratio:7.2f}x "
            f"{i8}   {r['load']}")


HEADER = (f"{'graph':38s} {'batch':>5s} {'eager ms':>10s} {'ORT ms':>9s} {'eager/ORT':>8s} {'int8 ms':>9s} "
          f"{'fp32/int8':>7s}   load (1, 5, 15 min)")


# ------------------------------------------------------------------------------ decoders: cache vs recompute

def transformer_decoders(exported: Path, runs: int) -> list[dict]:
    """Greedy decoding of max_tgt_len steps (no early stop, so every contender does the same work)."""
    import warnings

    from core.export import export_onnx
    from core.models import transformer as tfm

    warnings.filterwarnings("ignore")  # the exporter's chatter about dynamic axes and torchvision
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)

    feeds = Feeds(exported)
    m = feeds.seq_model("transformer")
    model = tfm.Transformer(_cfg(tfm.TransformerConfig, m.card)).eval()
    steps, bos = m.max_tgt_len, m.vocab.bos_id
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # the prefix-recomputing decoder as one ONNX graph of the same module (teacher-forced decode of the prefix)
        class Prefix(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, memory, src, tgt_in):
                return self.model.decode(memory, src, tgt_in)[0][:, -1]  # (B, V): the last position's logits

        src4 = torch.from_numpy(feeds.src("transformer", 4))  # export examples: every dynamic axis >= 2
        with torch.no_grad():
            mem4 = model.encode(src4)[0]
        B, S = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("src_len", min=1, max=256)
        T, C = torch.export.Dim("tgt_len", min=1, max=64), torch.export.Dim("cache_len", min=0, max=255)
        L, H, d_k = m.cache_shape
        prefix_path = Path(tmp) / "prefix.onnx"
        export_onnx(Prefix(model), (mem4, src4, torch.ones(4, 3, dtype=torch.long)), prefix_path,
                    ["memory", "src", "tgt_in"], ["logits"], {"memory": {0: B, 1: S}, "src": {0: B, 1: S},
                                                              "tgt_in": {0: B, 1: T}}, {"name": "prefix"})
        step_path = Path(tmp) / "step.onnx"
        step_in = (torch.ones(4, dtype=torch.long), mem4, src4 != 0, torch.randn(L, 2, 4, H, 5, d_k))
        export_onnx(tfm.DecoderStep(model), step_in, step_path, ["token", "memory", "src_mask", "cache"],
                    ["logits", "new_cache", "dec_self_attn", "cross_attn"],
                    {"token": {0: B}, "memory": {0: B, 1: S}, "src_mask": {0: B, 1: S}, "cache": {2: B, 4: C}},
                    {"name": "step"})
        prefix = open_session(prefix_path, "cpu", threads=1).session
        step = open_session(step_path, "cpu", threads=1).session
        for b in BATCHES:
            src = feeds.src("transformer", b)
            src_t = torch.from_numpy(src)
            with torch.inference_mode():
                memory_t = model.encode(src_t)[0]
            memory, mask = memory_t.numpy(), src != m.vocab.pad_id

            def ort_cache():
                tok = np.full((b,), bos, np.int64)
                cache = np.zeros((L, 2, b, H, 0, d_k), np.float32)
                out_ids = []
                for _ in range(steps):
                    lg, cache, _, _ = step.run(None, {"token": tok, "memory": memory, "src_mask": mask, "cache": cache})
                    tok = lg.argmax(-1).astype(np.int64)
                    out_ids.append(tok)
                return np.stack(out_ids, 1)

            def ort_prefix():
                tgt = np.full((b, 1), bos, np.int64)
                for _ in range(steps):
                    lg = prefix.run(None, {"memory": memory, "src": src, "tgt_in": tgt})[0]
                    tgt = np.concatenate([tgt, lg.argmax(-1)[:, None].astype(np.int64)], 1)
                return tgt[:, 1:]

            def eager_cache():
                with torch.inference_mode():
                    tok = torch.full((b,), bos, dtype=torch.long)
                    cache = model.empty_cache(b)
                    out_ids = []
                    for _ in range(steps):
                        lg, cache, _, _ = model.step(tok, memory_t, src_t != 0, cache)
                        tok = lg.argmax(-1)
                        out_ids.append(tok)
                    return torch.stack(out_ids, 1).numpy()

            def eager_prefix():
                with torch.inference_mode():
                    tgt = torch.full((b, 1), bos, dtype=torch.long)
                    for _ in range(steps):
                        lg = model.decode(memory_t, src_t, tgt)[0][:, -1]
                        tgt = torch.cat([tgt, lg.argmax(-1)[:, None]], 1)
                    return tgt[:, 1:].numpy()

            same = all(np.array_equal(ort_cache(), f()) for f in (ort_prefix, eager_cache, eager_prefix))
            n = max(5, runs // 5) if b == 1 else max(3, runs // 40)
            t = timed({"ORT, KV cache": ort_cache, "ORT, recompute prefix": ort_prefix,
                       "eager, KV cache": eager_cache, "eager, recompute prefix": eager_prefix}, n, rounds=min(5, n))
            for k, v in t.items():
                rows.append({"what": f"transformer {k}", "batch": b, "ms": v, "steps": steps, "same_tokens": same,
                             "load": load()})
    return rows


def gru_decoders(exported: Path, runs: int) -> list[dict]:
    """seq2seq_attention: the step graph in a greedy loop (ORT, eager) against one teacher-forced forward over
    the whole target (eager; the only full-sequence run this model has: scoring known targets, as in training)."""
    from core.data import dates
    from core.models import seq2seq_attention as s2s
    from core.tokenizer import encode_target, pad_batch

    feeds = Feeds(exported)
    m = feeds.seq_model("seq2seq_attention")
    model = s2s.Seq2SeqAttention(_cfg(s2s.Seq2SeqConfig, m.card)).eval()
    steps, bos = m.max_tgt_len, m.vocab.bos_id
    rows = []
    targets = [e.target for e in dates.test_split()[:max(BATCHES)]]
    for b in BATCHES:
        src = feeds.src("seq2seq_attention", b)
        src_t = torch.from_numpy(src)
        tgt_in = torch.from_numpy(pad_batch([[bos] + encode_target(t, m.vocab)[:-1] for t in targets[:b]], 0))
        enc = m.run_encoder({"src": src})
        mask = src != m.vocab.pad_id

        def ort_steps():
            tok, state = np.full((b,), bos, np.int64), enc["state"]
            for _ in range(steps):
                out = m.run_step({"token": tok, "state": state, "enc_states": enc["enc_states"],
                                  "enc_keys": enc["enc_keys"], "src_mask": mask})
                tok, state = out["logits"].argmax(-1).astype(np.int64), out["new_state"]

        with torch.inference_mode():
            h, keys, s0 = model.encode(src_t)

        def eager_steps():
            with torch.inference_mode():
                s = s0
                tok = torch.full((b,), bos, dtype=torch.long)
                for _ in range(steps):
                    lg, s, _ = model.step(tok, s, h, keys, src_t != 0)
                    tok = lg.argmax(-1)

        def eager_full():
            with torch.inference_mode():
                model(src_t, tgt_in)

        n = max(5, runs // 5) if b == 1 else max(3, runs // 40)
        t = timed({"ORT, step graph x11 (greedy)": ort_steps, "eager, step x11 (greedy)": eager_steps,
                   "eager, teacher-forced full sequence (+ encoder)": eager_full}, n, rounds=min(5, n))
        for k, v in t.items():
            rows.append({"what": f"seq2seq_attention {k}", "batch": b, "ms": v, "steps": steps, "load": load()})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=200, help="timed runs at batch 1 (batch 256: a tenth, >= 10)")
    p.add_argument("--graphs", nargs="*", help="only these files (default: every fp32 .onnx in the manifest)")
    p.add_argument("--no-decoders", action="store_true", help="skip the cache-vs-recompute decoding comparison")
    p.add_argument("--exported", default=str(EXPORTED))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process (a second call from a test)
        pass
    exported = Path(args.exported)
    files = read_manifest(exported).get("files", {})
    graphs = args.graphs or sorted(f for f in files if f.endswith(".onnx") and not is_int8(f))
    import onnxruntime

    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, 1 thread each, {os.cpu_count()} cores; "
          f"load average at start {load()}")
    print(HEADER)
    rows = graph_rows(exported, graphs, args.runs)
    mnist = [r for r in rows if not r["graph"].startswith(("transformer", "seq2seq"))]
    for b in BATCHES:
        ratios = [r["eager_ms"] / r["ort_ms"] for r in mnist if r["batch"] == b]
        if ratios:
            print(f"MNIST graphs, batch {b}: ORT {min(ratios):.2f}-{max(ratios):.2f}x faster than eager")
    if not args.no_decoders:
        print("\nGreedy decoding, 11 steps, no early stop (ms per batch):")
        dec = transformer_decoders(exported, args.runs) + gru_decoders(exported, args.runs)
        for r in dec:
            same = f"  same tokens: {'yes' if r['same_tokens'] else 'NO'}" if "same_tokens" in r else ""
            print(f"{r['what']:58s} batch {r['batch']:>3d} {r['ms']:10.3f} ms{same}   load {r['load']}")
    print(f"load average at end {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
