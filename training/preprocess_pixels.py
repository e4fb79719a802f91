"""Execute a geometry plan (`preprocess_plans.py`) on an image with PIL and torch: the
reference the browser's pixel code must reproduce."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .preprocess import IMAGENET_MEAN, IMAGENET_STD, flatten_alpha, normalise, pad_to_square
from .preprocess_plans import Canvas, Plan


@dataclass
class InputPixels:
    rgb: Image.Image | None  # the 8-bit stage, before normalisation
    tensor: np.ndarray | None = None  # float32 NCHW, where the stage is float


def execute(plan: Plan, image: Image.Image) -> list[InputPixels]:
    rgb = flatten_alpha(image, plan.fill)
    if plan.strategy == "convllava-square":
        (only,) = plan.inputs
        return [InputPixels(pad_to_square(rgb, plan.fill).resize((only.width, only.height), Image.BICUBIC))]
    if plan.strategy == "convllava-native":
        (only,) = plan.inputs
        return [InputPixels(rgb.resize((only.width, only.height), Image.BICUBIC))]
    if plan.strategy == "multicrop":
        return [InputPixels(rgb.crop(tuple(i.crop_box)).resize((i.width, i.height), Image.BICUBIC)) for i in plan.inputs]
    if plan.strategy == "pyramid":
        return _pyramid(plan, rgb)
    if plan.strategy == "tiles":
        return _tiles(plan, rgb)
    raise ValueError(f"Unknown strategy: {plan.strategy}")


def _pyramid(plan: Plan, rgb: Image.Image) -> list[InputPixels]:
    high, low = plan.inputs
    high_rgb = pad_to_square(rgb, plan.fill).resize((high.width, high.height), Image.BICUBIC)
    high_tensor = normalise(high_rgb, IMAGENET_MEAN, IMAGENET_STD)
    # The low branch sees a downscale of the *normalised* tensor (REFERENCE §3), no antialias.
    low_tensor = torch.nn.functional.interpolate(
        torch.from_numpy(high_tensor), size=(low.height, low.width), mode="bilinear", align_corners=False
    ).numpy()
    return [InputPixels(high_rgb, high_tensor), InputPixels(None, low_tensor)]


def draw_canvas(rgb: Image.Image, canvas: Canvas) -> Image.Image:
    out = Image.new("RGB", (canvas.width, canvas.height), canvas.fill)
    out.paste(rgb.resize(tuple(canvas.resized), Image.BICUBIC), tuple(canvas.paste))
    return out


def _tiles(plan: Plan, rgb: Image.Image) -> list[InputPixels]:
    thumbnail, *tiles = plan.inputs
    out = [InputPixels(rgb.resize((thumbnail.width, thumbnail.height), Image.BICUBIC))]
    padded = draw_canvas(rgb, plan.canvas)
    for tile in tiles:
        x, y, w, h = tile.tile_box
        out.append(InputPixels(padded.crop((x, y, x + w, y + h))))
    return out
