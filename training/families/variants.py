"""The four dtype variants per module the onnx-community bundles ship: `""` (fp32), `_q4`
(every MatMul with a weight as 4-bit MatMulNBits; convolutions and the embedding Gather
stay float), `_fp16` and `_q4f16` (float16 weights and compute, float32 I/O).

A family can give single variants features that real large bundles have (FEATURES):
- `external_data`: weights in `<file>_data` beside the graph (`onnx.save` with
  `save_as_external_data`), declared in config.json's `transformers.js_config`
  `use_external_data_format` (see `external_data_format`);
- `num_logits_to_keep`: an int64 scalar input; N > 0 keeps the logits of the last N
  positions ([B, N, vocab]), 0 all of them (Optimum's exports; transformers.js feeds 1
  when generating);
- `float16_kv_cache`: `past_key_values.*` / `present.*` are float16 graph inputs and
  outputs (transformers.js reads the cache dtype from the session's input metadata).
The fp32 and q4 graphs never change: features only go on fp16 / q4f16 variants.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..quantize import to_matmul_nbits
from .fp16 import to_fp16

SUFFIXES = {"fp32": "", "q4": "_q4", "fp16": "_fp16", "q4f16": "_q4f16"}
FEATURES = ("external_data", "num_logits_to_keep", "float16_kv_cache")
FEATURE_DTYPES = ("fp16", "q4f16")  # the fp32 and q4 graphs stay as they are
INT64_MAX = np.iinfo(np.int64).max


def external_data_format(features: dict[str, dict[str, tuple[str, ...]]]) -> dict[str, int]:
    """transformers.js v4's `use_external_data_format`: {graph file name: chunk count}."""
    return {
        f"{module}{SUFFIXES[dtype]}.onnx": 1
        for module, per_dtype in features.items()
        for dtype, names in per_dtype.items()
        if "external_data" in names
    }


def kv_cache_names(model: onnx.ModelProto) -> set[str]:
    values = list(model.graph.input) + list(model.graph.output)
    return {v.name for v in values if v.name.startswith(("past_key_values.", "present."))}


def keep_last_logits(model: onnx.ModelProto) -> onnx.ModelProto:
    """Adds the int64 scalar input `num_logits_to_keep` and slices the hidden states
    before lm_head (the MatMul / MatMulNBits behind the `logits` output, through the
    float16 -> float32 Cast) to the last N positions: Slice(starts = -N, ends = INT64_MAX,
    axes = 1). N = 0 gives start -0 = 0, every position; N > seq_len clamps to 0 too
    (Python's `hidden[:, -N:]`)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    producer = {o: n for n in g.node for o in n.output}
    lm_head = producer["logits"]
    while lm_head.op_type == "Cast":
        lm_head = producer[lm_head.input[0]]
    if lm_head.op_type not in ("MatMul", "MatMulNBits"):
        raise ValueError(f"logits come from {lm_head.op_type}, not an lm_head MatMul")
    hidden = lm_head.input[0]
    kept = f"{hidden}_last_num_logits_to_keep"
    g.initializer.extend(
        [
            numpy_helper.from_array(np.array([1], np.int64), "num_logits_to_keep_shape"),
            numpy_helper.from_array(np.array([INT64_MAX], np.int64), "num_logits_to_keep_ends"),
            numpy_helper.from_array(np.array([1], np.int64), "num_logits_to_keep_axes"),
        ]
    )
    nodes = [
        helper.make_node("Neg", ["num_logits_to_keep"], ["num_logits_to_keep_neg"], name="num_logits_to_keep_Neg"),
        helper.make_node(
            "Reshape",
            ["num_logits_to_keep_neg", "num_logits_to_keep_shape"],
            ["num_logits_to_keep_starts"],
            name="num_logits_to_keep_Reshape",
        ),
        helper.make_node(
            "Slice",
            [hidden, "num_logits_to_keep_starts", "num_logits_to_keep_ends", "num_logits_to_keep_axes"],
            [kept],
            name="num_logits_to_keep_Slice",
        ),
    ]
    at = list(g.node).index(lm_head)
    for k, node in enumerate(nodes):
        g.node.insert(at + k, node)
    lm_head.input[0] = kept
    g.input.append(helper.make_tensor_value_info("num_logits_to_keep", TensorProto.INT64, []))
    logits = next(o for o in g.output if o.name == "logits")
    dim = logits.type.tensor_type.shape.dim[1]
    dim.Clear()
    dim.dim_param = "num_logits"
    return out


def _save(graph: onnx.ModelProto, path: Path, external: bool) -> int:
    """Saves `graph`; returns the external data file's size (0 without one). onnx.save
    appends to an existing data file, so a stale one is deleted first."""
    data = path.with_name(f"{path.name}_data")
    data.unlink(missing_ok=True)
    if not external:
        onnx.save(graph, str(path))
        return 0
    onnx.save(
        graph, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data.name, size_threshold=0
    )
    return data.stat().st_size


def write_variants(
    fp32: onnx.ModelProto, onnx_dir: Path, module: str, features: dict[str, tuple[str, ...]] | None = None
) -> dict[str, dict]:
    """fp32 is already saved as `<module>.onnx`; writes the three others beside it and
    returns {dtype: {file, bytes, matmuls_q4, features[, external_data: {file, bytes}]}}.
    `features`: {dtype: feature names} for this module."""
    features = features or {}
    for dtype, names in features.items():
        for name in names:
            if name not in FEATURES or dtype not in FEATURE_DTYPES:
                raise ValueError(f"{module} {dtype}: {name} is not one of {FEATURES} or {dtype} not one of {FEATURE_DTYPES}")
    q4, count = to_matmul_nbits(fp32)

    def half(graph: onnx.ModelProto, dtype: str) -> onnx.ModelProto:
        names = features.get(dtype, ())
        fp16_io = kv_cache_names(graph) if "float16_kv_cache" in names else ()
        out = to_fp16(graph, type_reference=fp32 if graph is not fp32 else None, fp16_io=fp16_io)
        return keep_last_logits(out) if "num_logits_to_keep" in names else out

    graphs = {"fp32": fp32, "q4": q4, "fp16": half(fp32, "fp16"), "q4f16": half(q4, "q4f16")}
    report = {}
    for dtype, graph in graphs.items():
        path = onnx_dir / f"{module}{SUFFIXES[dtype]}.onnx"
        names = list(features.get(dtype, ()))
        data_bytes = 0
        if dtype != "fp32":
            onnx.checker.check_model(graph)
            data_bytes = _save(graph, path, "external_data" in names)
        report[dtype] = {
            "file": path.name,
            "bytes": path.stat().st_size,
            "matmuls_q4": count if "q4" in dtype else 0,
            "features": names,
        }
        if data_bytes:
            report[dtype]["external_data"] = {"file": f"{path.name}_data", "bytes": data_bytes}
    return report
