"""HF `CLIPImageProcessor` (the slow, PIL one) step by step, with the geometry it used, for
the pixel golden values: convert to RGB, resize the shortest edge to S with PIL bicubic,
center crop, rescale, normalise.

Geometry (transformers `image_processing_utils.get_resize_output_image_size` with
`default_to_square=False` and `image_transforms.center_crop`):
- resized: short side = S, long side = int(S * long / short) (truncated);
- crop: top = (h - crop_h) // 2, left = (w - crop_w) // 2 (floor: an odd surplus leaves
  the extra pixel on the right / bottom).
transformers.js 4.3 computes the same: floor(toFixed(2)(side * S / short)) and
Math.floor((w - crop_w) / 2). (The torchvision-backed "fast" processor rounds the crop
offset instead: int(round(surplus / 2)), one pixel further for odd surpluses ending
in .5 that round up.)

Arithmetic as HF's numpy code: rescale in float64 then cast to float32; normalise in
float32 with mean and std cast to float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class ClipProcessorConfig:
    shortest_edge: int
    crop_height: int
    crop_width: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    rescale_factor: float = 1 / 255

    def json(self) -> dict:
        return {
            "image_processor_type": "CLIPImageProcessor",
            # HF's ProcessorMixin.save_pretrained writes this, and transformers.js's
            # AutoProcessor reads it (not processor_config.json) to pick LlavaProcessor.
            "processor_class": "LlavaProcessor",
            "do_resize": True,
            "size": {"shortest_edge": self.shortest_edge},
            "do_center_crop": True,
            "crop_size": {"height": self.crop_height, "width": self.crop_width},
            "resample": 3,  # PIL bicubic
            "do_rescale": True,
            "rescale_factor": self.rescale_factor,
            "do_normalize": True,
            "image_mean": list(self.image_mean),
            "image_std": list(self.image_std),
            "do_convert_rgb": True,
        }


def resized_size(width: int, height: int, shortest_edge: int) -> tuple[int, int]:
    """(width, height) after the shortest-edge resize."""
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(shortest_edge * long / short)
    return (shortest_edge, new_long) if width <= height else (new_long, shortest_edge)


def crop_offsets(width: int, height: int, crop_width: int, crop_height: int) -> tuple[int, int]:
    """(left, top) of the center crop; the image is at least the crop size here."""
    if width < crop_width or height < crop_height:
        raise ValueError(f"{width}x{height} is smaller than the crop {crop_width}x{crop_height}: HF would zero-pad")
    return (width - crop_width) // 2, (height - crop_height) // 2


def preprocess(image: Image.Image, cfg: ClipProcessorConfig) -> tuple[np.ndarray, dict]:
    """-> (float32 NCHW [1, 3, crop_h, crop_w], geometry record for golden.json)."""
    rgb = image.convert("RGB")
    size = resized_size(*rgb.size, cfg.shortest_edge)
    resized = rgb.resize(size, Image.BICUBIC)
    left, top = crop_offsets(*size, cfg.crop_width, cfg.crop_height)
    cropped = resized.crop((left, top, left + cfg.crop_width, top + cfg.crop_height))
    pixels = (np.asarray(cropped, dtype=np.float64) * cfg.rescale_factor).astype(np.float32)
    mean = np.array(cfg.image_mean, dtype=np.float32)
    std = np.array(cfg.image_std, dtype=np.float32)
    pixels = (pixels - mean) / std
    geometry = {
        "source_size": {"width": rgb.size[0], "height": rgb.size[1]},
        "resized_size": {"width": size[0], "height": size[1]},
        "resampled": size != rgb.size,
        "crop_offset": {"left": left, "top": top},
    }
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32), geometry
