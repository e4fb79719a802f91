"""npm run convert -- --from DIR --to public/models/NAME [--dtype fp32|q4] [--vision-tower DIR]

Detects the released model from its config.json and writes a Loupe bundle. Supported
here: ConvLLaVA-sft (LLaVA-llama + ConvNeXt). MC-LLaVA and PIIP-LLaVA are not converted
yet (training/README.md says what is missing).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import export_onnx
from ..make_tiny_bundle import _write_json
from ..quantize import to_int8_weights, to_matmul_nbits
from . import checkpoint, convllava
from .sentencepiece_json import tokenizer_json

import onnx


def convert(source: Path, out: Path, dtype: str, vision_tower: Path | None) -> dict:
    config = json.loads((source / "config.json").read_text())
    if not convllava.is_convllava(config):
        raise SystemExit(f"{source}/config.json: not a checkpoint this converter knows (architectures {config.get('architectures')}, "
                         f"mm_vision_tower {config.get('mm_vision_tower')!r}); supported: ConvLLaVA-sft (LlavaLlamaForCausalLM + ConvNeXt).")
    tower_json = json.loads((vision_tower / "config.json").read_text()) if vision_tower else None
    model, report = convllava.build_model(config, checkpoint.tensors(source), checkpoint.tensors(vision_tower) if vision_tower else None, tower_json)
    onnx_dir = out / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    vision = export_onnx.export_vision(model, onnx_dir / "vision_encoder.onnx")
    export_onnx.export_embed(model, onnx_dir / "embed_tokens.onnx")
    decoder = export_onnx.export_decoder(model, onnx_dir / "decoder_model_merged.onnx")
    dtypes = {"vision_encoder": "fp32", "embed_tokens": "fp32", "decoder_model_merged": "fp32"}
    if dtype == "q4":
        onnx.save(to_int8_weights(vision)[0], str(onnx_dir / "vision_encoder_int8.onnx"))
        onnx.save(to_matmul_nbits(decoder)[0], str(onnx_dir / "decoder_model_merged_q4.onnx"))
        dtypes = {"vision_encoder": "int8", "embed_tokens": "fp32", "decoder_model_merged": "q4"}
    tokenizer = tokenizer_json(str(source / "tokenizer.model"), [convllava.IMAGE_TOKEN])
    for name, content in convllava.json_files(config, model, report, tokenizer, dtypes).items():
        _write_json(out / name, content)
    return {"bundle": str(out), "dtypes": dtypes, **report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, required=True, help="the released checkpoint directory")
    parser.add_argument("--to", dest="out", type=Path, required=True, help="bundle directory to write")
    parser.add_argument("--dtype", choices=["fp32", "q4"], default="fp32")
    parser.add_argument("--vision-tower", type=Path, help="separate ConvNeXt checkpoint when the sft shards hold no tower copy")
    args = parser.parse_args()
    print(json.dumps(convert(args.source, args.out, args.dtype, args.vision_tower)))


if __name__ == "__main__":
    main()
