"""Export the three graphs of the transformers.js LLaVA layout (REFERENCE.md §5):
`vision_encoder`, `embed_tokens`, `decoder_model_merged`, with the ecosystem's tensor
names and dynamic axes.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path

import onnx
import torch
from torch import nn

from .evidence_output import add_attention_output
from .loupe_models import LlamaDecoder
from .tiny_model import TinyConvLlava

OPSET = 17
PROTOBUF_LIMIT = 2**31 - 2**24  # bytes a single .onnx file may hold, with room for the graph


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], axes: dict) -> onnx.ModelProto:
    kwargs = dict(
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=axes,
        opset_version=OPSET,
        do_constant_folding=True,
    )
    # torch >= 2.5 has a dynamo exporter (default in newer releases); the graphs here
    # are written for, and checked against, the TorchScript tracer.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    module.eval()
    # Through a file: torch writes the weights as external data when the graph passes
    # protobuf's 2 GB (a 7B checkpoint's tower), which an in-memory export cannot hold.
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        traced = Path(tmp) / "graph.onnx"
        torch.onnx.export(module, args, str(traced), **kwargs)
        model = onnx.load(str(traced))
    # The tracer names nodes and tensors after Python source lines; keep the graph
    # name stable so the bytes do not depend on where this file lives.
    model.graph.name = path.stem
    path.parent.mkdir(parents=True, exist_ok=True)
    if sum(len(t.raw_data) for t in model.graph.initializer) < PROTOBUF_LIMIT:
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    else:
        onnx.save(model, str(path), save_as_external_data=True, location=path.name + "_data")
        onnx.checker.check_model(str(path))
        onnx.load_external_data_for_model(model, str(path.parent))
    return model


class _DecoderForExport(nn.Module):
    """Flat positional signature: past / present as separate named tensors."""

    def __init__(self, decoder: LlamaDecoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, inputs_embeds, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, present = self.decoder(inputs_embeds, attention_mask, position_ids, past)
        return (logits, *[t for kv in present for t in kv])


def export_vision(
    model: TinyConvLlava, path: Path, trace_size: tuple[int, int] = (128, 192), dynamic_size: bool = True
) -> onnx.ModelProto:
    """trace_size: (height, width) of the trace input; dynamic_size=False keeps them fixed
    (a ViT with learned position embeddings accepts one size only)."""
    # Non-square trace input so neither spatial axis gets baked in as equal to the other.
    dummy = torch.randn(2, 3, *trace_size, generator=torch.Generator().manual_seed(0))
    pixel_axes = {0: "batch_size", 2: "height", 3: "width"} if dynamic_size else {0: "batch_size"}
    feature_axes = {0: "batch_size", 1: "num_image_tokens"} if dynamic_size else {0: "batch_size"}
    return _export(
        model.vision,
        (dummy,),
        path,
        ["pixel_values"],
        ["image_features"],
        {"pixel_values": pixel_axes, "image_features": feature_axes},
    )


def export_embed(model: TinyConvLlava, path: Path) -> onnx.ModelProto:
    dummy = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.long)
    return _export(
        model.embed_tokens,
        (dummy,),
        path,
        ["input_ids"],
        ["inputs_embeds"],
        {"input_ids": {0: "batch_size", 1: "sequence_length"}, "inputs_embeds": {0: "batch_size", 1: "sequence_length"}},
    )


def export_decoder(model: TinyConvLlava, path: Path, evidence: bool = False) -> onnx.ModelProto:
    """evidence: add the `attention_last` output (training/evidence_output.py, issue #16);
    the quantized variants rewritten from the returned graph keep it."""
    cfg = model.text_cfg
    batch, past_len, seq = 2, 3, 5  # a non-empty past in the trace; past 0 is checked in ORT
    gen = torch.Generator().manual_seed(0)
    kv_shape = (batch, cfg.num_key_value_heads, past_len, cfg.head_dim)
    past_flat = [torch.randn(kv_shape, generator=gen) for _ in range(2 * cfg.num_hidden_layers)]
    args = (
        torch.randn(batch, seq, cfg.hidden_size, generator=gen),
        torch.ones(batch, past_len + seq, dtype=torch.long),
        torch.arange(past_len, past_len + seq).repeat(batch, 1),
        *past_flat,
    )
    inputs = ["inputs_embeds", "attention_mask", "position_ids"]
    outputs = ["logits"]
    axes = {
        "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for i in range(cfg.num_hidden_layers):
        for kind in ("key", "value"):
            inputs.append(f"past_key_values.{i}.{kind}")
            outputs.append(f"present.{i}.{kind}")
            axes[inputs[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[outputs[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    graph = _export(_DecoderForExport(model.decoder), args, path, inputs, outputs, axes)
    if evidence:
        graph = add_attention_output(graph)
        onnx.save(graph, str(path))
    return graph
