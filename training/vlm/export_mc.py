"""Export a trained MC-LLaVA checkpoint (issue 12) as an `mc-llava` bundle.

    python -m training.vlm.export_mc --ckpt runs/mcllava/checkpoint --out public/models/loupe-synth-mc/

The runtime's mc-llava family reads it like MC-LLaVA's own release: `vision_encoder`
takes a batch of squashed crops and their `coords` and returns every token but patch 0
([M, grid^2 - 1, D], coordinates added, projected); the runtime keeps each input's last
tokens (REFERENCE §2). preprocessor_config.json's `loupe` block carries the crop side and
the default knobs (`max_crops`, `num_tokens`); the tokenizer and the vicuna_v1 prompt are
Loupe-Synth's. The rest is export_family.py's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from .. import bundle_config, export_onnx
from ..tokenizer_bpe import BOS_ID, EOS_ID, IMAGE_ID, PAD_ID
from .config import VitConfig
from .data import normalize_pixels
from .export import write_f32
from .export_family import CLIP_PIXELS, Family, export_family
from .multicrop import crop_inputs, tokens_per_input


def export_vision(model, path: Path) -> onnx.ModelProto:
    """(pixel_values [M, 3, S, S], coords [M, 2]) -> image_features [M, grid^2 - 1, D]; the
    side is fixed (the ViT's positions are for one grid), the batch is not."""
    side = model.vision_cfg.image_size
    gen = torch.Generator().manual_seed(0)
    dummy = (torch.randn(2, 3, side, side, generator=gen), torch.rand(2, 2, generator=gen))
    axes = {"pixel_values": {0: "batch_size"}, "coords": {0: "batch_size"}, "image_features": {0: "batch_size"}}
    return export_onnx._export(model.vision, dummy, path, ["pixel_values", "coords"], ["image_features"], axes)


def vit_config_json(vit: VitConfig) -> dict:
    """vision_config of Loupe-Synth's ViT (vit.py): pre-norm, no CLS, 2-D sin-cos positions."""
    return {
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
    }


def model_json(vit: VitConfig, text, dtypes: dict) -> dict:
    return {
        "model_type": "mc-llava",
        "architectures": ["LlavaForCausalLM"],
        "image_token_index": IMAGE_ID,
        "vision_embed_dim": vit.hidden_size,
        "projector_hidden_act": "gelu",
        "vocab_size": text.vocab_size,
        "vision_config": vit_config_json(vit),
        "text_config": bundle_config.llama_text_config(text, BOS_ID, EOS_ID, PAD_ID),
        "transformers.js_config": {"dtype": dtypes},
    }


def preprocessor_json(vit: VitConfig, knobs: dict) -> dict:
    return {
        "image_processor_type": "SiglipImageProcessor",
        "do_resize": True,
        "size": {"height": vit.image_size, "width": vit.image_size},
        **CLIP_PIXELS,
        # The crop grid starts at the tower's input side, as MC-LLaVA's does at 384; what the
        # kept tokens stand for is how the tower was taught (multicrop.py).
        "loupe": {"strategy": "multicrop", "max_crops": knobs["max_crops"], "num_tokens": knobs["num_tokens"],
                  "crop_size": vit.image_size, "token_extent": knobs.get("token_extent", "cell")},
    }


def golden_inputs(inputs, golden_dir: Path) -> dict:
    write_f32(golden_dir / "pixel_values.f32", normalize_pixels(inputs.pixels))
    write_f32(golden_dir / "coords.f32", inputs.coords)
    return {"crop_boxes": inputs.boxes, "keep": inputs.keep, "num_image_tokens": sum(inputs.keep),
            "pixel_values": {"file": "pixel_values.f32", "shape": list(inputs.pixels.shape),
                             "sum": float(np.float64(normalize_pixels(inputs.pixels).double().sum()))},
            "coords": {"file": "coords.f32", "shape": list(inputs.coords.shape)}}


MC_LLAVA = Family(
    name="MC-LLaVA",
    accepts=lambda cfg: cfg.multicrop is not None,
    export_vision=export_vision,
    inputs_of=lambda cfg, image: crop_inputs(image, cfg.multicrop["max_crops"], cfg.multicrop["num_tokens"], cfg.vit),
    files=lambda cfg, dtypes: {
        "config.json": model_json(cfg.vit, cfg.text, dtypes),
        "preprocessor_config.json": preprocessor_json(cfg.vit, cfg.multicrop),
        "processor_config.json": {"processor_class": "MCLlavaProcessor", "image_token": "<image>"},
    },
    golden_inputs=golden_inputs,
    about=lambda cfg: {"knobs": cfg.multicrop, "tokens_per_input": tokens_per_input(cfg.vit)},
)


def main(argv=None) -> None:
    export_family(MC_LLAVA, argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
