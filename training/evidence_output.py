"""Give a decoder graph the evidence output of issue #16: `attention_last`
[batch, layers, total_sequence_length], the attention of the last query position to every
key, averaged over heads, one row per layer.

Added after export as a few nodes beside each layer's attention Softmax (Slice the last query
row, ReduceMean over heads): the probabilities already exist, so a run that does not fetch
the output pays for a [B, L, T] mean and nothing else. The runtime reads it, per generated
token, only when an answer asks for its evidence.

    /usr/bin/python3 -m training.evidence_output public/models/loupe-synth/onnx/decoder_model_merged_q4.onnx

Idempotent: a graph that already has the output is left as it is.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper

OUTPUT = "attention_last"
_LAYER = re.compile(r"layers\.(\d+)/self_attn/Softmax")


def attention_softmaxes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Each layer's attention Softmax, in layer order (tracer names: /decoder/layers.N/self_attn/Softmax)."""
    found = {}
    for node in graph.node:
        match = _LAYER.search(node.name) if node.op_type == "Softmax" else None
        if match:
            found[int(match.group(1))] = node
    if sorted(found) != list(range(len(found))) or not found:
        raise ValueError(f"expected one self_attn Softmax per layer, numbered from 0; found layers {sorted(found)}")
    return [found[i] for i in range(len(found))]


def add_attention_output(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    if any(o.name == OUTPUT for o in graph.output):
        return model
    softmaxes = attention_softmaxes(graph)
    prefix = "/evidence"
    graph.initializer.extend([
        helper.make_tensor(f"{prefix}/last_start", TensorProto.INT64, [1], [-1]),
        helper.make_tensor(f"{prefix}/last_end", TensorProto.INT64, [1], [2**62]),
        helper.make_tensor(f"{prefix}/query_axis", TensorProto.INT64, [1], [2]),
        helper.make_tensor(f"{prefix}/layer_axis", TensorProto.INT64, [1], [1]),
    ])
    rows = []
    for i, softmax in enumerate(softmaxes):
        probs = softmax.output[0]  # [B, heads, S, T]
        last, mean, row = f"{prefix}/layer{i}/last", f"{prefix}/layer{i}/mean", f"{prefix}/layer{i}/row"
        graph.node.extend([
            helper.make_node("Slice", [probs, f"{prefix}/last_start", f"{prefix}/last_end", f"{prefix}/query_axis"], [last], name=f"{prefix}/layer{i}/Slice"),
            # [B, heads, 1, T] -> [B, T]: heads and the one query row averaged away.
            helper.make_node("ReduceMean", [last], [mean], name=f"{prefix}/layer{i}/ReduceMean", axes=[1, 2], keepdims=0),
            helper.make_node("Unsqueeze", [mean, f"{prefix}/layer_axis"], [row], name=f"{prefix}/layer{i}/Unsqueeze"),
        ])
        rows.append(row)
    graph.node.append(helper.make_node("Concat", rows, [OUTPUT], name=f"{prefix}/Concat", axis=1))
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch_size", len(rows), "total_sequence_length"]))
    onnx.checker.check_model(model)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("graphs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.graphs:
        model = onnx.load(str(path))
        had = any(o.name == OUTPUT for o in model.graph.output)
        add_attention_output(model)
        if not had:
            onnx.save(model, str(path))
        print(f"{path}: {'already had' if had else 'added'} {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
