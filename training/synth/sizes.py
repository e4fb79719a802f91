"""Size classes and how an object of a class is sized, relative to its image.

Classes are defined on the bounding box (area fraction = w*h / (W*H)):
  tiny   shapes: both sides 10-30 px; signs: height 10-30 px; and area < 0.1 % (the V* condition)
  small  not tiny, area < 0.3 %
  medium 0.3 % <= area < 1 %
  large  area >= 1 %
A tiny object's side is at least long_side/150 (capped at 26 px), so at a 1536 px
model input it still spans ~10 px, and ~5 px at 768: resolvable only at high resolution.
Sign text is 10-40 px for tiny and small signs; medium and large signs scale the font
with the image (up to a few hundred px), since a 40 px word cannot cover 1 % of 12 MP.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from .shapes import MAX_ROTATION, pixel_size, unit_outline

CLASSES = ("tiny", "small", "medium", "large")
TINY_AREA, SMALL_AREA, LARGE_AREA = 0.001, 0.003, 0.01
AREA_RANGES = {"small": (0.0003, 0.0029), "medium": (0.0032, 0.0095), "large": (0.011, 0.035)}
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
TRIES = 24


@lru_cache(maxsize=1024)
def font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / FONT_FILES[bold]
    if not path.exists():
        raise SystemExit(f"expected the DejaVu font at {path}; install it with: apt-get install -y fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)


def classify(kind: str, w: int, h: int, width: int, height: int) -> str:
    area = w * h / (width * height)
    sides_ok = 10 <= h <= 30 if kind == "sign" else 10 <= min(w, h) and max(w, h) <= 30
    if sides_ok and area < TINY_AREA:
        return "tiny"
    return "small" if area < SMALL_AREA else "medium" if area < LARGE_AREA else "large"


def tiny_floor(width: int, height: int) -> int:
    return max(10, min(26, math.ceil(max(width, height) / 150)))


def size_shape(rng: random.Random, shape: str, cls: str, width: int, height: int) -> tuple[float, int, int] | None:
    """(rotation, w, h) of a shape in class `cls`, or None when none fits this image."""
    fit = 0.6 * min(width, height)
    for _ in range(TRIES):
        # half-degree steps keep unit_outline's cache useful
        rotation = round(2 * rng.uniform(-MAX_ROTATION, MAX_ROTATION)) / 2 + (90 * rng.randrange(4) if shape == "arrow" else 0)
        _, aw, ah = unit_outline(shape, rotation)
        if cls == "tiny":
            side = rng.randint(tiny_floor(width, height), 30)
        elif cls == "small":
            side = math.exp(rng.uniform(math.log(31), math.log(max(32, math.sqrt(SMALL_AREA * width * height)))))
        else:
            frac = math.exp(rng.uniform(*map(math.log, AREA_RANGES[cls])))
            side = math.sqrt(frac * width * height / (aw * ah))
        w, h = pixel_size(shape, rotation, round(min(side, fit)))
        if classify("shape", w, h, width, height) == cls:
            return rotation, w, h
    return None


def sign_box(word: str, bold: bool, size: int) -> tuple[int, int]:
    border, pad = max(1, round(size / 14)), max(2, round(size / 5))
    return math.ceil(font(bold, size).getlength(word)) + 2 * (pad + border), round(1.2 * size) + 2 * border


def size_sign(rng: random.Random, word: str, cls: str, width: int, height: int) -> tuple[bool, int, int, int] | None:
    """(bold, font size, w, h) of a sign in class `cls`, or None when none fits this image."""
    for _ in range(TRIES):
        bold = rng.random() < 0.5
        if cls == "tiny":
            size = rng.randint(max(10, min(20, math.ceil(max(width, height) / 200))), 22)
        elif cls == "small":
            size = rng.randint(14, 40)
        else:
            w40, h40 = sign_box(word, bold, 40)
            frac = math.exp(rng.uniform(*map(math.log, AREA_RANGES[cls])))
            size = round(40 * math.sqrt(frac * width * height / (w40 * h40)))
        w, h = sign_box(word, bold, size)
        if w < 0.8 * width and h < 0.5 * height and classify("sign", w, h, width, height) == cls:
            return bold, size, w, h
    return None
