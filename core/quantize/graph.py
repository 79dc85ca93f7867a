"""Graph passes around onnxruntime's dynamic quantiser (onnx + numpy; no torch).

- ``gemm_to_matmul``: ORT's dynamic (IntegerOps) quantiser handles MatMul but not Gemm, and every nn.Linear of a
  2-D input exports as Gemm; rewritten as MatMul (+ Add for the bias) with the weight pre-transposed, it is
  quantised (ORT fuses it back into one DynamicQuantizeMatMul at session load).
- ``store_conv_weights_int8``: convolutions must *run* in fp32 (ConvInteger is ~11x slower on CPU,
  microsoft/onnxruntime#12854), but their weights can still be *stored* in int8: ``Mul(Cast(q, float), scale)``
  with a per-output-channel scale. Both inputs are constants, so ORT folds the product back into an fp32
  initializer when the session is created and the Conv runs, pre-packed, at fp32 speed. (A DequantizeLinear
  would not do: ORT deliberately leaves it unfolded for QDQ fusion, and the Conv then runs ~2.5x slower on
  unpacked weights, measured here.)
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONV_OPS = ("Conv", "ConvTranspose")


def _initializers(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    return {i.name: i for i in graph.initializer}


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _unique(graph: onnx.GraphProto, base: str) -> str:
    taken = {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output} | \
        {i.name for i in graph.input}
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def gemm_to_matmul(model: onnx.ModelProto) -> int:
    """Rewrite, in place, each Gemm whose B is an initializer (alpha = beta = 1, no transA) as MatMul [+ Add].

    Returns how many were rewritten. Gemm on a non-constant B is left as it is (the quantiser skips it anyway).
    """
    g = model.graph
    inits = _initializers(g)
    nodes, n = [], 0
    for node in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "Gemm" or node.input[1] not in inits or attrs.get("transA", 0)
                or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])  # (N, K) with transB, else (K, N)
        if attrs.get("transB", 0):
            w = w.T
        w_name = _unique(g, node.input[1] + "_kn")
        g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w), w_name))  # (K, N)
        out = node.output[0]
        has_bias = len(node.input) > 2 and node.input[2]
        mm_out = _unique(g, out + "_matmul") if has_bias else out
        nodes.append(helper.make_node("MatMul", [node.input[0], w_name], [mm_out], name=(node.name or out) + "_matmul"))
        if has_bias:
            nodes.append(helper.make_node("Add", [mm_out, node.input[2]], [out], name=(node.name or out) + "_bias"))
        n += 1
    del g.node[:]
    g.node.extend(nodes)
    _drop_unused_initializers(g)
    return n


def store_conv_weights_int8(model: onnx.ModelProto) -> int:
    """Store each Conv/ConvTranspose weight initializer as int8 + a per-output-channel fp32 scale (symmetric,
    -127..127), rebuilt by Cast and Mul that ORT constant-folds at load. Returns how many weights were stored so."""
    g = model.graph
    inits = _initializers(g)
    consumers = Counter(name for node in g.node for name in node.input)
    front, n = [], 0
    for node in g.node:
        if node.op_type not in CONV_OPS or len(node.input) < 2 or node.input[1] not in inits:
            continue
        name = node.input[1]
        if consumers[name] != 1:  # shared weight: leave it (not seen in these graphs)
            continue
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        axis = 0 if node.op_type == "Conv" else 1  # output channels: Conv (M, C, kh, kw), ConvTranspose (C, M, kh, kw)
        reduce = tuple(i for i in range(w.ndim) if i != axis)
        scale = np.abs(w).max(axis=reduce, keepdims=True) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        q_name, s_name = _unique(g, name + "_int8"), _unique(g, name + "_scale")
        g.initializer.extend([numpy_helper.from_array(q, q_name), numpy_helper.from_array(scale, s_name)])
        cast_out, w_out = _unique(g, name + "_cast"), _unique(g, name + "_dequant")
        front.append(helper.make_node("Cast", [q_name], [cast_out], to=TensorProto.FLOAT, name=cast_out))
        front.append(helper.make_node("Mul", [cast_out, s_name], [w_out], name=w_out))
        node.input[1] = w_out
        n += 1
    nodes = front + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    _drop_unused_initializers(g)
    return n


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(Counter(node.op_type for node in model.graph.node).items()))


def initializer_dtypes(model: onnx.ModelProto) -> dict[str, int]:
    """Bytes of initializer data per element type, e.g. {'FLOAT': 260000, 'INT8': 401000}."""
    out: Counter = Counter()
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        out[TensorProto.DataType.Name(init.data_type)] += int(arr.nbytes)
    return dict(sorted(out.items()))
