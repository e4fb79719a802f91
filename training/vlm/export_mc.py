"""Export a trained MC-LLaVA checkpoint (issue 12) as an `mc-llava` bundle.

    python -m training.vlm.export_mc --ckpt runs/mcllava/checkpoint --out public/models/loupe-synth-mc/

The runtime's mc-llava family reads it like MC-LLaVA's own release: `vision_encoder`
takes a batch of squashed crops and their `coords` and returns every token but patch 0
([M, grid^2 - 1, D], coordinates added, projected); the runtime keeps each input's last
tokens (REFERENCE §2). preprocessor_config.json's `loupe` block carries the crop side and
the default knobs (`max_crops`, `num_tokens`); the tokenizer and the vicuna_v1 prompt are
Loupe-Synth's. Dtypes, the size limit, golden values and the onnxruntime-web check are
export.py's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import torch

from .. import bundle_config, export_onnx
from ..make_tiny_bundle import _write_json
from ..preprocess import CLIP_MEAN, CLIP_STD
from ..tokenizer_bpe import BOS_ID, EOS_ID, IMAGE_ID, PAD_ID, tokenizer_config
from .config import VitConfig
from .data import load_source, normalize_pixels, question_text, scene_questions
from .export import (answer, choose_vision_dtype, export_arguments, finish, golden_answers, place_graphs, quantized_variants,
                     shipped_variant, write_f32)
from .model import load_checkpoint
from .multicrop import crop_inputs, tokens_per_input
from .tokenizer import load_tokenizer, prompt_ids, prompt_text


def export_vision(model, path: Path) -> onnx.ModelProto:
    """(pixel_values [M, 3, S, S], coords [M, 2]) -> image_features [M, grid^2 - 1, D]; the
    side is fixed (the ViT's positions are for one grid), the batch is not."""
    side = model.vision_cfg.image_size
    gen = torch.Generator().manual_seed(0)
    dummy = (torch.randn(2, 3, side, side, generator=gen), torch.rand(2, 2, generator=gen))
    axes = {"pixel_values": {0: "batch_size"}, "coords": {0: "batch_size"}, "image_features": {0: "batch_size"}}
    return export_onnx._export(model.vision, dummy, path, ["pixel_values", "coords"], ["image_features"], axes)


def model_json(vit: VitConfig, text, dtypes: dict) -> dict:
    return {
        "model_type": "mc-llava",
        "architectures": ["LlavaForCausalLM"],
        "image_token_index": IMAGE_ID,
        "vision_embed_dim": vit.hidden_size,
        "projector_hidden_act": "gelu",
        "vocab_size": text.vocab_size,
        "vision_config": {
            "model_type": "vit",
            "hidden_size": vit.hidden_size,
            "intermediate_size": int(vit.hidden_size * vit.mlp_ratio),
            "num_hidden_layers": vit.depth,
            "num_attention_heads": vit.num_heads,
            "image_size": vit.image_size,
            "patch_size": vit.patch_size,
            "position_embedding": vit.pos_embed,
            "layer_norm_eps": vit.layer_norm_eps,
            "hidden_act": "gelu",
        },
        "text_config": bundle_config.llama_text_config(text, BOS_ID, EOS_ID, PAD_ID),
        "transformers.js_config": {"dtype": dtypes},
    }


def preprocessor_json(vit: VitConfig, knobs: dict) -> dict:
    return {
        "image_processor_type": "SiglipImageProcessor",
        "do_resize": True,
        "size": {"height": vit.image_size, "width": vit.image_size},
        "resample": 3,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(CLIP_MEAN),
        "image_std": list(CLIP_STD),
        # The crop grid starts at the tower's input side, as MC-LLaVA's does at 384.
        "loupe": {"strategy": "multicrop", "max_crops": knobs["max_crops"], "num_tokens": knobs["num_tokens"],
                  "crop_size": vit.image_size},
    }


def main(argv=None) -> None:
    a = export_arguments(__doc__.split("\n\n")[0]).parse_args(argv)

    model, cfg, meta = load_checkpoint(a.ckpt)
    if cfg.multicrop is None:
        raise SystemExit(f"{cfg.name}: not an MC-LLaVA checkpoint (export.py exports ConvLLaVA)")
    tok = load_tokenizer(a.ckpt / "tokenizer.json")
    source = load_source(a.source or meta["data"]["source"], meta["data"]["fake_long_side"])
    vit, knobs = cfg.vit, cfg.multicrop
    fp32_dir = a.fp32_dir or a.ckpt / "bundle-fp32"
    golden_dir = a.golden_dir or a.ckpt / "golden"
    inputs_of = lambda image: crop_inputs(image, knobs["max_crops"], knobs["num_tokens"], vit)  # noqa: E731

    quality = {**choose_vision_dtype(model, tok, source, inputs_of, a.quality_scenes), "knobs": knobs}
    print(f"[export] {json.dumps(quality)}", flush=True)
    staging = a.ckpt / "export-staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "onnx").mkdir(parents=True)
    fp32 = {
        "vision_encoder": export_vision(model, staging / "onnx/vision_encoder.onnx"),
        "embed_tokens": export_onnx.export_embed(model, staging / "onnx/embed_tokens.onnx"),
        "decoder_model_merged": export_onnx.export_decoder(model, staging / "onnx/decoder_model_merged.onnx", evidence=True),
    }
    counts = quantized_variants(fp32, staging / "onnx")
    dtypes = {"vision_encoder": quality["vision_dtype"], "embed_tokens": "int8", "decoder_model_merged": "q4"}
    max_length = cfg.text.max_position_embeddings
    moved = place_graphs(staging, a.out, fp32_dir, dtypes, {
        "config.json": model_json(vit, cfg.text, dtypes),
        "generation_config.json": bundle_config.generation_config(max_length),
        "preprocessor_config.json": preprocessor_json(vit, knobs),
        "processor_config.json": {"processor_class": "MCLlavaProcessor", "image_token": "<image>"},
        "tokenizer.json": tok.tokenizer_json(),
        "tokenizer_config.json": tokenizer_config(max_length),
    })

    # ---- golden values for one held-out scene at the default knobs ----------------------
    scene = source.sample("val", 0)
    item = scene_questions(scene)[0]
    question = question_text(item)
    inputs = inputs_of(scene.image)
    ids32, feats, logits32 = answer(model, tok, inputs, question)
    ids_q, _, logits_q = answer(shipped_variant(model, quality["vision_dtype"]), tok, inputs, question)
    golden_dir.mkdir(parents=True, exist_ok=True)
    scene.image.save(golden_dir / "image.png")
    write_f32(golden_dir / "pixel_values.f32", normalize_pixels(inputs.pixels))
    write_f32(golden_dir / "coords.f32", inputs.coords)
    write_f32(golden_dir / "image_features.f32", feats)
    write_f32(golden_dir / "first_logits.f32", logits32)
    write_f32(golden_dir / "first_logits_shipped_reference.f32", logits_q)
    kept = sum(inputs.keep)
    golden = {
        "checkpoint": str(a.ckpt), "split": "val", "index": 0, "source": source.name,
        "image": {"file": "image.png", "width": scene.image.size[0], "height": scene.image.size[1]},
        "knobs": knobs, "crop_boxes": inputs.boxes, "keep": inputs.keep, "tokens_per_input": tokens_per_input(vit),
        "question": question, "answer": item.answer, "type": item.type,
        "prompt_text": prompt_text(question), "prompt_ids": tok.encode(prompt_text(question)), "image_token_id": IMAGE_ID,
        "num_image_tokens": kept, "input_ids_expanded": prompt_ids(tok, question, kept),
        "pixel_values": {"file": "pixel_values.f32", "shape": list(inputs.pixels.shape),
                         "sum": float(np.float64(normalize_pixels(inputs.pixels).double().sum()))},
        "coords": {"file": "coords.f32", "shape": list(inputs.coords.shape)},
        "image_features": {"file": "image_features.f32", "shape": list(feats.shape), "slice": feats.flatten()[:16].tolist()},
        **golden_answers(tok, ids32, logits32, ids_q, dtypes, quality, counts),
    }
    _write_json(golden_dir / "golden.json", golden)
    finish(a.out, golden_dir, fp32_dir, golden, dtypes, moved, a.skip_node)


if __name__ == "__main__":
    main()
