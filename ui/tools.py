"""Model-page tools without streamlit: I/O tables, parity against export-time references, latency, and snippets."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core import EXPORTED
from core.errors import UserError
from core.runtime.artifacts import load_reference  # verified against the manifest, checked by schema
from core.runtime.session import LoadedModel

_NP = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
       "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}
_JS = {"tensor(float)": ("float32", "Float32Array"), "tensor(int64)": ("int64", "BigInt64Array"),
       "tensor(int32)": ("int32", "Int32Array"), "tensor(bool)": ("bool", "Uint8Array"),
       "tensor(uint8)": ("uint8", "Uint8Array"), "tensor(double)": ("float64", "Float64Array")}
_CS = {"tensor(float)": "float", "tensor(int64)": "long", "tensor(int32)": "int", "tensor(bool)": "bool",
       "tensor(uint8)": "byte", "tensor(double)": "double"}


def io_table(m: LoadedModel) -> list[dict]:
    """Inputs and outputs as ORT reports them: kind, name, shape (symbolic axes by name), element type."""
    rows = []
    for kind, items in (("input", m.session.get_inputs()), ("output", m.session.get_outputs())):
        for a in items:
            shape = ["?" if d is None else d for d in (a.shape or [])]
            rows.append({"kind": kind, "name": a.name, "shape": str(shape), "type": a.type})
    return rows


def parity(m: LoadedModel, root: Path = EXPORTED, atol: float = 1e-4, reference_of: str | None = None
           ) -> list[dict]:
    """Run the stored reference inputs through ORT; max |ORT - PyTorch| for each stored output.

    ``reference_of`` names the file whose references to use (an int8 twin has none of its own: it is compared with
    its fp32 source's PyTorch outputs, which measures its drift)."""
    ins, outs = load_reference(reference_of or m.path.name, root)
    got = m.run(ins, [k for k in outs if k in m.outputs] or None)
    rows = []
    for name, ref in outs.items():
        if name not in got:
            rows.append({"output": name, "shape": str(list(ref.shape)), "max_abs_diff": None, "ok": False})
            continue
        a, b = np.asarray(got[name]), np.asarray(ref)
        same = a.shape == b.shape
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if same and a.size else (
            0.0 if same else float("inf"))
        rows.append({"output": name, "shape": str(list(b.shape)), "max_abs_diff": diff,
                     "ok": bool(same and diff <= atol)})
    return rows


def make_feeds(m: LoadedModel, batch: int = 1, root: Path = EXPORTED) -> dict[str, np.ndarray]:
    """Inputs for a latency run: the stored reference inputs when there are any, else zeros of the right type."""
    try:
        ins, _ = load_reference(m.path.name, root)
        if set(m.inputs) <= set(ins):
            return {k: ins[k] for k in m.inputs}
    except (UserError, OSError, ValueError):
        pass
    feeds = {}
    for a in m.session.get_inputs():
        shape = [batch if i == 0 and not isinstance(d, int) else (d if isinstance(d, int) else 8)
                 for i, d in enumerate(a.shape or [])]
        feeds[a.name] = np.zeros(shape, dtype=_NP.get(a.type, np.float32))
    return feeds


def latency(m: LoadedModel, feeds: dict[str, np.ndarray], n: int = 50, warmup: int = 3) -> dict:
    """p50 / p95 / mean wall time of ``session.run`` in milliseconds, after a few warm-up runs."""
    for _ in range(warmup):
        m.run(feeds)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        m.run(feeds)
        times.append((time.perf_counter() - t0) * 1000.0)
    t = np.asarray(times)
    return {"runs": n, "p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)),
            "mean_ms": float(t.mean()), "min_ms": float(t.min())}


def _example_shape(shape) -> list[int]:
    return [d if isinstance(d, int) else 1 for d in (shape or [])]


def snippets(m: LoadedModel) -> dict[str, str]:
    """Ready-to-paste code that runs this file in Python onnxruntime, onnxruntime-web (JavaScript) and C#."""
    name = m.path.name
    ins = m.session.get_inputs()
    outs = [o.name for o in m.session.get_outputs()]
    out_cs = _CS.get(m.session.get_outputs()[0].type, "float")
    py_feeds = ",\n".join(
        f'    "{a.name}": np.zeros({tuple(_example_shape(a.shape))}, '
        f'dtype=np.{np.dtype(_NP.get(a.type, np.float32)).name})' for a in ins)
    py = (
        "import numpy as np\nimport onnxruntime as ort\n\n"
        f'sess = ort.InferenceSession("{name}", providers=["CPUExecutionProvider"])\n'
        "feeds = {\n" + py_feeds + "\n}\n"
        f"{', '.join(outs)} = sess.run(None, feeds)\n"
        f"print({outs[0]}.shape)\n"
    )
    js_lines = []
    for a in ins:
        dtype, arr = _JS.get(a.type, ("float32", "Float32Array"))
        shape = _example_shape(a.shape)
        size = int(np.prod(shape)) if shape else 1
        js_lines.append(f'  {a.name}: new ort.Tensor("{dtype}", new {arr}({size}), {shape}),')
    js = (
        '<script src="https://cdn.jsdelivr.net/npm/onnxruntime-web/dist/ort.min.js"></script>\n<script>\n'
        "(async () => {\n"
        f'  const session = await ort.InferenceSession.create("{name}");\n'
        "  const feeds = {\n" + "\n".join("  " + l for l in js_lines) + "\n  };\n"
        "  const results = await session.run(feeds);\n"
        f'  console.log(results["{outs[0]}"].dims, results["{outs[0]}"].data);\n'
        "})();\n</script>\n"
    )
    cs_lines = []
    for a in ins:
        t = _CS.get(a.type, "float")
        shape = _example_shape(a.shape)
        dims = ", ".join(map(str, shape))
        cs_lines.append(f'    NamedOnnxValue.CreateFromTensor("{a.name}", new DenseTensor<{t}>(new[] {{ {dims} }})),')
    cs = (
        "// dotnet add package Microsoft.ML.OnnxRuntime\n"
        "using Microsoft.ML.OnnxRuntime;\nusing Microsoft.ML.OnnxRuntime.Tensors;\n\n"
        f'using var session = new InferenceSession("{name}");\n'
        "var inputs = new List<NamedOnnxValue> {\n" + "\n".join(cs_lines) + "\n};\n"
        "using var results = session.Run(inputs);\n"
        f'var {_cs_ident(outs[0])} = results.First(r => r.Name == "{outs[0]}").AsTensor<{out_cs}>();\n'
        f"Console.WriteLine(string.Join(\",\", {_cs_ident(outs[0])}.Dimensions.ToArray()));\n"
    )
    return {"Python (onnxruntime)": py, "JavaScript (onnxruntime-web)": js, "C# (Microsoft.ML.OnnxRuntime)": cs}


def _cs_ident(name: str) -> str:
    ident = "".join(c if c.isalnum() else "_" for c in name)
    return ident if ident and not ident[0].isdigit() else "_" + ident


def flat_metrics(metrics: dict, prefix: str = "", limit: int = 200) -> list[tuple[str, object]]:
    """A model card's metrics as (dotted name, value) rows: nested sections flattened ("per_format.iso"), short
    lists written out, long ones summarised by their length, so nothing shows as an unlabelled "{...}"."""
    rows: list[tuple[str, object]] = []
    for k, v in metrics.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            rows.extend(flat_metrics(v, name + ".", limit))
        elif isinstance(v, (list, tuple)):
            if len(v) <= 12 and all(isinstance(x, (int, float, str, bool)) for x in v):
                rows.append((name, ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v)))
            else:
                rows.append((name, f"[{len(v)} values]"))
        else:
            rows.append((name, v))
        if len(rows) >= limit:
            break
    return rows[:limit]
