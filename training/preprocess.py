"""The golden test image and the reference preprocessing steps (REFERENCE.md §1-3).

This is the Python side the browser's pixel code is compared against, so it uses
PIL exactly as the released processors do: pad to square, bicubic resize, normalise.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PAD_COLOR = (122, 116, 104)  # int(CLIP_MEAN * 255)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Fill = tuple[int, int, int]


def make_test_image(width: int = 200, height: int = 150) -> Image.Image:
    """Deterministic, non-square (so padding shows), with gradients and hard edges
    (so resampling differences show)."""
    x = np.linspace(0.0, 1.0, width, dtype=np.float64)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float64)[:, None]
    rgb = np.stack(
        [
            255 * x * np.ones_like(y),
            255 * y * np.ones_like(x),
            255 * (1 - 0.5 * x - 0.5 * y),
        ],
        axis=-1,
    )
    image = Image.fromarray(np.round(rgb).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 80, 80), fill=(220, 30, 30))
    draw.rectangle((120, 30, 180, 90), fill=(30, 60, 220))
    draw.polygon([(60, 140), (110, 95), (160, 140)], fill=(240, 220, 40))
    draw.line((0, 0, width - 1, height - 1), fill=(255, 255, 255), width=3)
    return image


def flatten_alpha(image: Image.Image, fill: Fill) -> Image.Image:
    """RGB of `image`; transparent pixels become `fill` (Loupe's stated behaviour).

    Integer maths, round half up: (c*a + fill*(255-a) + 127) // 255, so the browser can
    reproduce it exactly instead of inheriting a canvas's premultiplied rounding."""
    if "A" not in image.getbands() and "transparency" not in image.info:
        return image.convert("RGB")
    rgba = np.asarray(image.convert("RGBA"), dtype=np.int32)
    alpha = rgba[..., 3:4]
    rgb = (rgba[..., :3] * alpha + np.array(fill, dtype=np.int32) * (255 - alpha) + 127) // 255
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def pad_to_square(image: Image.Image, fill: Fill = PAD_COLOR) -> Image.Image:
    w, h = image.size
    if w == h:
        return image
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - w) // 2, (side - h) // 2))
    return canvas


def preprocess_square(image: Image.Image, resolution: int) -> np.ndarray:
    """-> float32 NCHW [1, 3, resolution, resolution]."""
    square = pad_to_square(image.convert("RGB")).resize((resolution, resolution), Image.BICUBIC)
    return normalise(square, CLIP_MEAN, CLIP_STD)


def normalise(image: Image.Image, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """8-bit RGB -> float32 NCHW [1, 3, H, W]: /255, then (x - mean) / std, all in float32."""
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = (pixels - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)
