"""Export a trained PIIP checkpoint (issue 12) as a `llava` bundle with a `piip` vision_config.

    python -m training.vlm.export_piip --ckpt runs/piip/checkpoint --out public/models/loupe-synth-piip/

The runtime's piip family reads it like the tiny random PIIP: `vision_encoder` takes the
padded high-resolution square as `pixel_values` and the bilinear half-size downscale of its
normalised tensor as `pixel_values_low`, and returns one token per 64-pixel cell of the high
input (any size that is a multiple of 64). preprocessor_config.json's `loupe` block says
`pyramid`, the default sizes (1536 / 768) and the trained ones. The rest is export_family.py's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from .. import bundle_config, export_onnx
from ..preprocess_plans import PYRAMID_FILL
from ..tokenizer_bpe import BOS_ID, EOS_ID, IMAGE_ID, PAD_ID
from .data import Strategy, image_pixels, normalize_pixels
from .export import write_f32
from .export_family import CLIP_PIXELS, Family, export_family
from .pyramid import PyramidSpec, low_input

def export_vision(model, path: Path) -> onnx.ModelProto:
    """(pixel_values [B, 3, H, W], pixel_values_low [B, 3, H/2, W/2]) -> [B, (H/64)(W/64), D];
    traced on a non-square input so neither side is baked in."""
    gen = torch.Generator().manual_seed(0)
    dummy = (torch.randn(1, 3, 128, 192, generator=gen), torch.randn(1, 3, 64, 96, generator=gen))
    spatial = {0: "batch_size", 2: "height", 3: "width"}
    axes = {"pixel_values": spatial, "pixel_values_low": {0: "batch_size", 2: "low_height", 3: "low_width"},
            "image_features": {0: "batch_size", 1: "num_image_tokens"}}
    return export_onnx._export(model.vision, dummy, path, ["pixel_values", "pixel_values_low"], ["image_features"], axes)


def _branch(c) -> dict:
    return {"model_type": "convnext", "hidden_sizes": c.hidden_sizes, "depths": c.depths, "patch_size": c.patch_size,
            "layer_norm_eps": c.layer_norm_eps}


def model_json(cfg, dtypes: dict) -> dict:
    spec = PyramidSpec(**cfg.pyramid)
    return {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": IMAGE_ID,
        "vocab_size": cfg.text.vocab_size,
        "vision_config": {
            **_branch(cfg.convnext),
            "model_type": "piip",
            "position_code": cfg.convnext.position_code,
            "low_branch": _branch(spec.low_config),
            "interactions": list(spec.interactions),
            "deform_num_heads": spec.heads,
            "deform_num_points": spec.points,
        },
        "text_config": bundle_config.llama_text_config(cfg.text, BOS_ID, EOS_ID, PAD_ID),
        "transformers.js_config": {"dtype": dtypes},
    }


def preprocessor_json(cfg) -> dict:
    resolutions = PyramidSpec(**cfg.pyramid).resolutions
    high = max(resolutions)
    return {
        "image_processor_type": "CLIPImageProcessor",
        "size": {"height": high, "width": high},
        **CLIP_PIXELS,
        "loupe": {"strategy": "pyramid", "resolution": high, "low_resolution": high // 2, "resolutions": list(resolutions),
                  "stride": cfg.convnext.stride, "pad_color": list(PYRAMID_FILL)},
    }


def default_side(cfg) -> int:
    return max(PyramidSpec(**cfg.pyramid).resolutions)


def golden_inputs(pixels: torch.Tensor, golden_dir: Path) -> dict:
    high = normalize_pixels(pixels[None])
    low = low_input(high)
    write_f32(golden_dir / "pixel_values.f32", high)
    write_f32(golden_dir / "pixel_values_low.f32", low)
    return {"num_image_tokens": (high.shape[2] // 64) * (high.shape[3] // 64),
            "pixel_values": {"file": "pixel_values.f32", "shape": list(high.shape), "sum": float(np.float64(high.double().sum()))},
            "pixel_values_low": {"file": "pixel_values_low.f32", "shape": list(low.shape)}}


PIIP = Family(
    name="PIIP",
    accepts=lambda cfg: cfg.pyramid is not None,
    export_vision=export_vision,
    # The vision dtype is chosen, and the golden scene run, at the bundle's default sizes.
    inputs_of=lambda cfg, image: image_pixels(image, Strategy("pyramid-square", default_side(cfg))),
    files=lambda cfg, dtypes: {"config.json": model_json(cfg, dtypes), "preprocessor_config.json": preprocessor_json(cfg)},
    golden_inputs=golden_inputs,
    about=lambda cfg: {"resolution": default_side(cfg), "low_resolution": default_side(cfg) // 2},
)


def main(argv=None) -> None:
    export_family(PIIP, argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
