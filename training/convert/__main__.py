"""npm run convert -- --from DIR --to public/models/NAME [--dtype fp32|q4] [--vision-tower DIR]

Detects the released model from its config.json and writes a Loupe bundle. Supported
here: ConvLLaVA-sft (LLaVA-llama + ConvNeXt), MC-LLaVA (SigLIP crops + Phi-2) and
PIIP-LLaVA (LLaVA-llama + a CLIP / ConvNeXt pyramid described by a config .py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .. import export_onnx
from ..make_tiny_bundle import _write_json
from ..quantize import to_int8_weights
from . import checkpoint, convllava, mcllava, piip, piip_config, stream_decoder
from .sentencepiece_json import tokenizer_json

import onnx
import torch


def _phase(name: str) -> None:
    """With LOUPE_CONVERT_PHASES=1: the peak RSS so far after each phase, on stderr
    (measure_memory.py reads it to say which phase sets the peak). VmHWM, not ru_maxrss:
    the latter keeps the parent's peak across fork + exec."""
    if os.environ.get("LOUPE_CONVERT_PHASES"):
        print(f"PHASE {name} {peak_rss_bytes()}", file=sys.stderr, flush=True)


def peak_rss_bytes() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024


def convert(source: Path, out: Path, dtype: str, vision_tower: Path | None) -> dict:
    """fp32: every graph through PyTorch (the whole model in memory). q4: the int8 encoder
    and fp32 embeddings through PyTorch, and the decoder (Llama or Phi-2) streamed tensor by
    tensor into MatMulNBits blocks (stream_decoder.py), never held as a module."""
    config = json.loads((source / "config.json").read_text())
    streamed = dtype == "q4"  # every q4 decoder is written tensor by tensor (stream_decoder.py)
    if piip.detect(config):
        kind = "piip"
        tower_py = piip_config.read_tower_config(piip_config.find_tower_config(source, config["mm_vision_tower"], vision_tower))
        model, report = piip.build_model(config, tower_py, checkpoint.tensors(source), decoder=not streamed)
    elif convllava.is_convllava(config):
        kind = "convllava"
        tower_json = json.loads((vision_tower / "config.json").read_text()) if vision_tower else None
        model, report = convllava.build_model(config, checkpoint.tensors(source), checkpoint.tensors(vision_tower) if vision_tower else None,
                                              tower_json, decoder=not streamed)
    elif mcllava.detect(config):
        kind = "mc-llava"
        model, report = mcllava.build_model(config, checkpoint.tensors(source), decoder=not streamed)
    else:
        raise SystemExit(f"{source}/config.json: not a checkpoint this converter knows (model_type {config.get('model_type')!r}, "
                         f"architectures {config.get('architectures')}, mm_vision_tower {config.get('mm_vision_tower')!r}); "
                         "supported: ConvLLaVA-sft (LlavaLlamaForCausalLM + ConvNeXt), MC-LLaVA (mc-llava), "
                         "PIIP-LLaVA (LlavaLlamaForCausalLM + a PIIP config .py).")
    _phase("weights read")
    onnx_dir = out / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.TemporaryDirectory()  # fp32 graphs that only feed a quantised one
    traced = onnx_dir if dtype == "fp32" else Path(scratch.name)
    if kind == "convllava":
        vision = export_onnx.export_vision(model, traced / "vision_encoder.onnx")
    elif kind == "piip":
        vision = _export_piip_vision(model, traced / "vision_encoder.onnx")
    else:
        size = model.vision.encoder.cfg.image_size
        gen = torch.Generator().manual_seed(0)
        dummy = (torch.randn(2, 3, size, size, generator=gen), torch.rand(2, 2, generator=gen))
        axes = {"pixel_values": {0: "batch_size"}, "coords": {0: "batch_size"}, "image_features": {0: "batch_size"}}
        vision = export_onnx._export(model.vision, dummy, traced / "vision_encoder.onnx", ["pixel_values", "coords"], ["image_features"], axes)
    _phase("vision exported")
    export_onnx.export_embed(model, onnx_dir / "embed_tokens.onnx")
    _phase("embeddings exported")
    external: dict[str, int] = {}
    if dtype == "fp32":
        export_onnx.export_decoder(model, onnx_dir / "decoder_model_merged.onnx")
        dtypes = {"vision_encoder": "fp32", "embed_tokens": "fp32", "decoder_model_merged": "fp32"}
    else:
        onnx.save(to_int8_weights(vision, copy=False)[0], str(onnx_dir / "vision_encoder_int8.onnx"))
        _phase("vision int8")
        # Neither the fp32 vision graph, the tower nor the embeddings stay in memory while
        # the decoder streams.
        del vision
        model.vision = model.embed_tokens = None
        if kind == "mc-llava":
            text = {**config["text_config"], "vocab_size": model.text_cfg.vocab_size}
            written = stream_decoder.write_phi_q4(text, checkpoint.tensors(source), onnx_dir / "decoder_model_merged_q4.onnx")
        else:
            vocab = config["vocab_size"]
            written = stream_decoder.write_llama_q4(config, checkpoint.tensors(source), onnx_dir / "decoder_model_merged_q4.onnx",
                                                    extra_rows=1, never={vocab: convllava.NEVER})
        external["decoder_model_merged_q4.onnx"] = len(written["data_files"])
        _phase("decoder streamed")
        dtypes = {"vision_encoder": "int8", "embed_tokens": "fp32", "decoder_model_merged": "q4"}
    if kind == "mc-llava":
        tokenizer = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
        tokenizer_config = json.loads((source / "tokenizer_config.json").read_text()) if (source / "tokenizer_config.json").exists() else {}
        files = mcllava.json_files(config, model, report, tokenizer, tokenizer_config, dtypes, external)
    else:  # LLaVA-llama: tokenizer.json made from the SentencePiece model, with <image> appended
        tokenizer = tokenizer_json(str(source / "tokenizer.model"), [convllava.IMAGE_TOKEN])
        files = (piip.json_files(config, tower_py, model, report, tokenizer, dtypes, external) if kind == "piip"
                 else convllava.json_files(config, model, report, tokenizer, dtypes, external))
    for name, content in files.items():
        _write_json(out / name, content)
    scratch.cleanup()
    return {"bundle": str(out), "kind": kind, "dtypes": dtypes, **report}


def _export_piip_vision(model: piip.PiipLlava, path: Path) -> onnx.ModelProto:
    """Traced at a size pair other than the model's (and non-square), so no size is baked in."""
    v = model.vision_cfg
    high, low = 2 * v.stride, 3 * v.clip.patch_size
    gen = torch.Generator().manual_seed(0)
    dummy = (torch.randn(1, 3, high, high + v.stride, generator=gen), torch.randn(1, 3, low, low + v.clip.patch_size, generator=gen))
    axes = {"pixel_values": {0: "batch_size", 2: "height", 3: "width"}, "pixel_values_low": {0: "batch_size", 2: "low_height", 3: "low_width"},
            "image_features": {0: "batch_size", 1: "num_image_tokens"}}
    return export_onnx._export(model.vision, dummy, path, ["pixel_values", "pixel_values_low"], ["image_features"], axes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, required=True, help="the released checkpoint directory")
    parser.add_argument("--to", dest="out", type=Path, required=True, help="bundle directory to write")
    parser.add_argument("--dtype", choices=["fp32", "q4"], default="q4",
                        help="q4: int8 encoder, fp32 embeddings, q4 decoder (streamed: memory-safe at 7B); fp32: everything in fp32 "
                             "(the whole model in memory). Run both into one directory for both.")
    parser.add_argument("--vision-tower", type=Path, help="ConvLLaVA: the separate ConvNeXt checkpoint when the sft shards hold no tower copy; "
                             "PIIP-LLaVA: the tower's config .py when the checkpoint directory has none")
    args = parser.parse_args()
    print(json.dumps(convert(args.source, args.out, args.dtype, args.vision_tower)))


if __name__ == "__main__":
    main()
