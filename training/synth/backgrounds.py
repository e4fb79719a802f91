"""Backgrounds: gradients, value noise, stripes, checker, blotches, with optional clutter and grain.

Background colours are muted (saturation <= 0.28) so every saturated named colour on
an object stays unambiguous against them. Smooth layers are computed at 1/8 size and
upscaled by PIL; sharp ones (stripes, checker) are drawn at full size with PIL, so a
12-megapixel background stays in the tens of milliseconds.
"""

from __future__ import annotations

import colorsys
import math
import random
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

KINDS = ("gradient", "noise", "stripes", "checker", "blotches")
LOW = 8  # smooth layers are computed at 1/LOW of the image size
GRAIN_TILE = 256
GRAIN_SIGMA = 5.0


def muted(rng: random.Random, value: tuple[float, float] = (0.3, 0.85)) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.03, 0.28), rng.uniform(*value))
    return round(r * 255), round(g * 255), round(b * 255)


def _upscale(low: np.ndarray, size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(np.clip(low, 0, 255).astype(np.uint8), "RGB").resize(size, Image.Resampling.BILINEAR)


def _gradient(rng: random.Random, npr: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = max(2, size[0] // LOW), max(2, size[1] // LOW)
    a, b = np.array(muted(rng), np.float32), np.array(muted(rng), np.float32)
    x, y = np.meshgrid(np.linspace(-1, 1, w, dtype=np.float32), np.linspace(-1, 1, h, dtype=np.float32))
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * math.pi)
        t = (x * math.cos(angle) + y * math.sin(angle)) * 0.5 + 0.5
    else:
        cx, cy = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)
        t = np.clip(np.hypot(x - cx, y - cy) / 1.6, 0, 1)
    return _upscale(a + (b - a) * t[..., None], size)


def _noise(rng: random.Random, npr: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = max(2, size[0] // LOW), max(2, size[1] // LOW)
    base = np.array(muted(rng), np.float32)
    cells = rng.choice((6, 12, 24))
    grid = (max(2, h // cells), max(2, w // cells))
    # mostly lightness, a little chroma: coloured noise would put named-looking hues in the background
    coarse = (npr.normal(0, 26, (*grid, 1)) + npr.normal(0, 8, (*grid, 3))).astype(np.float32)
    coarse_img = Image.fromarray(np.clip(coarse + 128, 0, 255).astype(np.uint8), "RGB").resize((w, h), Image.Resampling.BICUBIC)
    return _upscale(base + np.asarray(coarse_img, np.float32) - 128, size)


def _stripes(rng: random.Random, npr: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, muted(rng))
    draw = ImageDraw.Draw(image)
    colour, period = muted(rng), rng.uniform(30, 160)
    angle = math.radians(rng.uniform(0, 180))
    ux, uy = math.cos(angle), math.sin(angle)  # across the stripes
    vx, vy = -uy, ux  # along them
    reach = math.hypot(*size)
    cx, cy = size[0] / 2, size[1] / 2
    for i in range(-int(reach / period) - 1, int(reach / period) + 2):
        a, b = i * period, i * period + period * rng.uniform(0.3, 0.6)
        corners = [(cx + ux * d + vx * s * reach, cy + uy * d + vy * s * reach) for d, s in ((a, -1), (a, 1), (b, 1), (b, -1))]
        draw.polygon(corners, fill=colour)
    return image


def _checker(rng: random.Random, npr: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    cell = rng.randint(25, 150)
    cols, rows = math.ceil(size[0] / cell), math.ceil(size[1] / cell)
    a, b = np.array(muted(rng), np.uint8), np.array(muted(rng), np.uint8)
    parity = (np.add.outer(np.arange(rows), np.arange(cols)) % 2).astype(bool)
    small = Image.fromarray(np.where(parity[..., None], a, b), "RGB")
    return small.resize((cols * cell, rows * cell), Image.Resampling.NEAREST).crop((0, 0, *size))


def _blotches(rng: random.Random, npr: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = max(2, size[0] // LOW), max(2, size[1] // LOW)
    low = Image.new("RGB", (w, h), muted(rng))
    draw = ImageDraw.Draw(low)
    for _ in range(rng.randint(8, 30)):
        r = rng.uniform(0.03, 0.2) * max(w, h)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        draw.ellipse((x - r, y - r * rng.uniform(0.4, 1), x + r, y + r), fill=muted(rng))
    return low.filter(ImageFilter.GaussianBlur(max(1.0, 0.01 * max(w, h)))).resize(size, Image.Resampling.BICUBIC)


BUILDERS = {"gradient": _gradient, "noise": _noise, "stripes": _stripes, "checker": _checker, "blotches": _blotches}


def add_clutter(image: Image.Image, rng: random.Random, density: float) -> None:
    """Short strokes and jagged blobs in muted colours: visual noise that no question is about."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    for _ in range(int(density * w * h / 10_000)):
        x, y, colour = rng.uniform(0, w), rng.uniform(0, h), muted(rng, (0.2, 0.9))
        if rng.random() < 0.6:
            points = [(x, y)]
            for _ in range(rng.randint(1, 4)):
                x, y = x + rng.uniform(-25, 25), y + rng.uniform(-25, 25)
                points.append((x, y))
            draw.line(points, fill=colour, width=rng.randint(1, 3))
        else:
            r = rng.uniform(3, 12)
            blob = [(x + r * rng.uniform(0.4, 1.6) * math.cos(a), y + r * rng.uniform(0.4, 1.6) * math.sin(a))
                    for a in np.linspace(0, 2 * math.pi, rng.randint(5, 9), endpoint=False)]
            draw.polygon(blob, fill=colour)


@lru_cache(maxsize=1)
def _grain_tile() -> np.ndarray:
    noise = np.random.default_rng(20240601).normal(128, GRAIN_SIGMA, (GRAIN_TILE, GRAIN_TILE))
    return np.clip(np.round(noise), 0, 255).astype(np.uint8)


def add_grain(image: Image.Image, rng: random.Random) -> Image.Image:
    """Grey grain from one fixed tile at a random offset (fresh per-pixel noise at 12 MP would cost ~100 ms)."""
    w, h = image.size
    ox, oy = rng.randrange(GRAIN_TILE), rng.randrange(GRAIN_TILE)
    reps = (h // GRAIN_TILE + 2, w // GRAIN_TILE + 2)
    grain = Image.fromarray(np.ascontiguousarray(np.tile(_grain_tile(), reps)[oy:oy + h, ox:ox + w]), "L")
    return ImageChops.add(image, Image.merge("RGB", (grain, grain, grain)), 1.0, -128)


def make_background(rng: random.Random, npr: np.random.Generator, size: tuple[int, int]) -> tuple[Image.Image, dict]:
    kind = rng.choice(KINDS)
    image = BUILDERS[kind](rng, npr, size)
    clutter = rng.choice((0.0, 0.0, 0.3, 1.0))
    if clutter:
        add_clutter(image, rng, clutter)
    grain = rng.random() < 0.25
    if grain:
        image = add_grain(image, rng)
    return image, {"kind": kind, "clutter": clutter, "grain": grain}
