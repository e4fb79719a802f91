"""fp32 -> fp16 graph conversion with float32 graph inputs and outputs, written against
the ONNX format (onnxconverter_common is not installed here). What the ecosystem's
`_fp16` / `_q4f16` files are: weights and activations in float16, a Cast after every
float input and before every float output (`keep_io_types`), so the KV cache a runtime
feeds back stays float32, unless `fp16_io` names the cache's inputs and outputs (then
they are float16 themselves, as in bundles that declare a float16 KV cache).

Only the computation that depends on a float graph input runs in float16. Float values
computed from integers alone (rotary angles from `position_ids`, masks from shapes) stay
float32 and are cast where they meet float16 activations: rotary angles of a few hundred
radians would lose their phase in float16. Every conversion saturates to the float16
range: a -1e9 mask fill becomes -65504, not -inf, so a fully masked (left-padding) row
softmaxes to a uniform row instead of NaN.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_MAX = float(np.finfo(np.float16).max)


def _float_values(model: onnx.ModelProto) -> set[str]:
    """Names of every float32 tensor in `model` (shape inference on standard ops)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    infos = list(g.input) + list(g.output) + list(g.value_info)
    names = {v.name for v in infos if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    names |= {t.name for t in g.initializer if t.data_type == TensorProto.FLOAT}
    return names


def _to_fp16_array(t: onnx.TensorProto, name: str) -> onnx.TensorProto:
    a = np.clip(numpy_helper.to_array(t), -FP16_MAX, FP16_MAX).astype(np.float16)
    return numpy_helper.from_array(a, name)


def _constant_value(node: onnx.NodeProto) -> onnx.TensorProto | None:
    for attr in node.attribute:
        if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
            return attr.t
    return None


def _makes_float(node: onnx.NodeProto) -> bool:
    """A float output from no float input: Cast(to=FLOAT) of integers, ConstantOfShape."""
    if node.op_type == "Cast":
        return any(a.name == "to" and a.i == TensorProto.FLOAT for a in node.attribute)
    return node.op_type == "ConstantOfShape"


def to_fp16(
    model: onnx.ModelProto, type_reference: onnx.ModelProto | None = None, fp16_io: Collection[str] = ()
) -> onnx.ModelProto:
    """`type_reference`: a graph with the same tensor names made of standard ops only,
    used to find which tensors are float (the fp32 graph a q4 graph was rewritten from:
    shape inference knows no com.microsoft ops). `fp16_io`: float graph inputs and outputs
    that become float16 themselves, no Cast (a float16 KV cache: `past_key_values.*` in,
    `present.*` out)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    floats = _float_values(type_reference or model) | {
        t.name for t in g.initializer if t.data_type == TensorProto.FLOAT
    }
    inits = {t.name: t for t in g.initializer}
    constants = {n.output[0]: n for n in g.node if n.op_type == "Constant" and _constant_value(n) is not None}

    rename: dict[str, str] = {}
    head: list[onnx.NodeProto] = []
    half: set[str] = set()  # float16 activations
    for inp in g.input:
        if inp.name in floats and inp.name in fp16_io:
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
            half.add(inp.name)
        elif inp.name in floats:
            rename[inp.name] = f"{inp.name}_fp16"
            half.add(rename[inp.name])
            head.append(helper.make_node("Cast", [inp.name], [rename[inp.name]], name=f"{inp.name}_to_fp16", to=TensorProto.FLOAT16))
    outputs = {o.name for o in g.output if o.name in floats and o.name not in fp16_io}
    for o in g.output:
        if o.name in floats and o.name in fp16_io:
            o.type.tensor_type.elem_type = TensorProto.FLOAT16
    for name in outputs:
        rename[name] = f"{name}_fp16"

    new_inits: dict[str, onnx.TensorProto] = {}
    casts: dict[str, str] = {}
    body: list[onnx.NodeProto] = []

    def fp16_input(name: str) -> str:
        """The float16 version of a float32 value a float16 node reads."""
        if name in inits or name in constants:
            key = f"{name}_fp16"
            if key not in new_inits:
                source = inits[name] if name in inits else _constant_value(constants[name])
                new_inits[key] = _to_fp16_array(source, key)
            return key
        if name not in casts:
            # Saturating: Clip first, or a -1e9 mask fill (ConstantOfShape) would become -inf.
            if "fp16_range_min" not in new_inits:
                new_inits["fp16_range_min"] = numpy_helper.from_array(np.array(-FP16_MAX, np.float32), "fp16_range_min")
                new_inits["fp16_range_max"] = numpy_helper.from_array(np.array(FP16_MAX, np.float32), "fp16_range_max")
            clipped, casts[name] = f"{name}_clipped_fp16_range", f"{name}_to_fp16"
            body.append(helper.make_node("Clip", [name, "fp16_range_min", "fp16_range_max"], [clipped], name=f"{name}_Clip_fp16_range"))
            body.append(helper.make_node("Cast", [clipped], [casts[name]], name=f"{name}_Cast_fp16", to=TensorProto.FLOAT16))
        return casts[name]

    from_ints: set[str] = set()  # float32 values computed from integers: stay float32
    for node in g.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        float_inputs = [i for i in node.input if i in floats or i in half]
        if node.op_type == "Constant" or not float_inputs and not _makes_float(node):
            node.output[:] = [rename.get(o, o) for o in node.output]
            body.append(node)
            continue
        if not any(i in half for i in float_inputs) and (
            any(i in from_ints for i in float_inputs) or not float_inputs
        ):
            from_ints.update(o for o in node.output if o in floats)
            node.output[:] = [rename.get(o, o) for o in node.output]
            body.append(node)
            continue
        # Float16: reads a float16 activation, or weights / constants only (an
        # embedding lookup, a CLS token expanded to the batch).
        for k, name in enumerate(node.input):
            if name and name not in half and name in floats:
                node.input[k] = fp16_input(name)
        if node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16
        originals = list(node.output)
        node.output[:] = [rename.get(o, o) for o in node.output]
        half.update(new for orig, new in zip(originals, node.output) if orig in floats)
        body.append(node)

    tail = [
        helper.make_node("Cast", [rename[name]], [name], name=f"{name}_to_fp32", to=TensorProto.FLOAT)
        for name in (o.name for o in g.output)
        if name in outputs
    ]
    del g.node[:]
    g.node.extend(head + body + tail)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    live = [n for n in g.node if n.op_type != "Constant" or n.output[0] in used]
    del g.node[:]
    g.node.extend(live)
    kept = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept + [new_inits[k] for k in sorted(new_inits)])
    del g.value_info[:]
    return out
