"""Export the trained ViT-336 control (issue 12) as a `llava` bundle the runtime's ViT family
reads, so the control is measured in the browser beside the others.

    python -m training.vlm.export_vit --ckpt runs/vit336/checkpoint --out public/models/loupe-synth-vit336/

The graph takes the padded 336-pixel square (`pixel_values` [B, 3, 336, 336]) and returns all
576 tokens (no CLS: nothing to select). preprocessor_config.json says what LLaVA-1.5's
processor does with `image_aspect_ratio: pad`: expand to a square with the mean colour, then
bicubic to 336; processor_config.json gives the patch. The rest is export_family.py's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from .. import bundle_config, export_onnx
from .data import Strategy, image_pixels, normalize_pixels
from .export import write_f32
from .export_family import CLIP_PIXELS, Family, export_family
from .export_mc import vit_config_json


def export_vision(model, path: Path) -> onnx.ModelProto:
    side = model.vision_cfg.image_size
    dummy = (torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(0)),)
    axes = {"pixel_values": {0: "batch_size"}, "image_features": {0: "batch_size"}}
    return export_onnx._export(model.vision, dummy, path, ["pixel_values"], ["image_features"], axes)


def model_json(cfg, dtypes: dict) -> dict:
    return {**bundle_config.llava_config(vit_config_json(cfg.vit), cfg.text), "transformers.js_config": {"dtype": dtypes}}


def preprocessor_json(cfg) -> dict:
    side = cfg.vit.image_size
    return {"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"height": side, "width": side},
            "do_center_crop": False, "do_pad": True, "image_aspect_ratio": "pad", **CLIP_PIXELS}


def golden_inputs(pixels: torch.Tensor, golden_dir: Path) -> dict:
    x = normalize_pixels(pixels[None])
    write_f32(golden_dir / "pixel_values.f32", x)
    return {"num_image_tokens": (x.shape[2] // 14) * (x.shape[3] // 14),
            "pixel_values": {"file": "pixel_values.f32", "shape": list(x.shape), "sum": float(np.float64(x.double().sum()))}}


VIT_336 = Family(
    name="ViT-336 control",
    accepts=lambda cfg: cfg.vit is not None and cfg.multicrop is None,
    export_vision=export_vision,
    inputs_of=lambda cfg, image: image_pixels(image, Strategy("vit-square", cfg.vit.image_size)),
    files=lambda cfg, dtypes: {
        "config.json": model_json(cfg, dtypes),
        "preprocessor_config.json": preprocessor_json(cfg),
        "processor_config.json": {"processor_class": "LlavaProcessor", "image_token": "<image>", "patch_size": cfg.vit.patch_size,
                                  "num_additional_image_tokens": 0, "vision_feature_select_strategy": "full"},
    },
    golden_inputs=golden_inputs,
    about=lambda cfg: {"resolution": cfg.vit.image_size, "tokens_per_input": cfg.vit.num_tokens},
)


def main(argv=None) -> None:
    export_family(VIT_336, argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
