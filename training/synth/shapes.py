"""The eight shapes: unit outlines, their names in questions, and antialiased drawing.

Outlines are polygons around the origin (y points down). A shape is drawn as a mask
at SUPERSAMPLE x its size, box-filtered down with `Image.reduce`, and pasted with its
colour, so edges are antialiased at every size without depending on PIL's own AA.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "cross", "heart", "arrow")
PLURAL = {shape: shape + ("es" if shape == "cross" else "s") for shape in SHAPES}
ARTICLE = {shape: "an" if shape[0] in "aeiou" else "a" for shape in SHAPES}

# Distractor choices: outlines that blur into the key's at low resolution.
SIMILAR: dict[str, tuple[str, ...]] = {
    "circle": ("hexagon", "heart"),
    "square": ("hexagon", "cross"),
    "triangle": ("arrow", "star"),
    "star": ("cross", "hexagon"),
    "hexagon": ("circle", "square"),
    "cross": ("star", "square"),
    "heart": ("circle", "triangle"),
    "arrow": ("triangle", "cross"),
}
MAX_ROTATION = 20.0  # degrees; more would turn a square into a diamond


def _regular(n: int, radius: float, phase: float) -> list[tuple[float, float]]:
    return [(radius * math.cos(phase + 2 * math.pi * i / n), radius * math.sin(phase + 2 * math.pi * i / n)) for i in range(n)]


def _star() -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = 1.0 if i % 2 == 0 else 0.45
        angle = -math.pi / 2 + math.pi * i / 5
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return points


def _heart() -> list[tuple[float, float]]:
    points = []
    for i in range(48):
        t = 2 * math.pi * i / 48
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((x / 16, -y / 16))
    return points


ARM = 0.34
OUTLINES: dict[str, list[tuple[float, float]]] = {
    "circle": _regular(64, 1.0, 0.0),  # only for the bounding box; drawn as an ellipse
    "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
    "triangle": _regular(3, 1.0, -math.pi / 2),
    "star": _star(),
    "hexagon": _regular(6, 1.0, 0.0),
    "cross": [(-ARM, -1), (ARM, -1), (ARM, -ARM), (1, -ARM), (1, ARM), (ARM, ARM), (ARM, 1), (-ARM, 1),
              (-ARM, ARM), (-1, ARM), (-1, -ARM), (-ARM, -ARM)],
    "heart": _heart(),
    "arrow": [(-1, -0.25), (0.1, -0.25), (0.1, -0.75), (1, 0), (0.1, 0.75), (0.1, 0.25), (-1, 0.25)],
}


@lru_cache(maxsize=4096)
def unit_outline(shape: str, rotation: float) -> tuple[tuple[tuple[float, float], ...], float, float]:
    """Rotated outline scaled so its longer bbox side is 1, shifted to start at (0, 0); returns (points, w, h)."""
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    points = [(x * c - y * s, x * s + y * c) for x, y in OUTLINES[shape]]
    if shape == "circle":
        points = OUTLINES[shape]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys))
    scaled = tuple(((x - min(xs)) / span, (y - min(ys)) / span) for x, y in points)
    return scaled, (max(xs) - min(xs)) / span, (max(ys) - min(ys)) / span


def pixel_size(shape: str, rotation: float, side: int) -> tuple[int, int]:
    """Bounding box (w, h) in pixels when the longer side is `side`."""
    _, w, h = unit_outline(shape, rotation)
    return max(1, round(side * w)), max(1, round(side * h))


def supersample(side: int) -> int:
    return 4 if side <= 64 else 3 if side <= 256 else 2


def draw_shape(image: Image.Image, shape: str, rotation: float, box: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    k = supersample(max(w, h))
    mask = Image.new("L", (w * k, h * k), 0)
    draw = ImageDraw.Draw(mask)
    if shape == "circle":
        draw.ellipse((0, 0, w * k - 1, h * k - 1), fill=255)
    else:
        points, _, _ = unit_outline(shape, rotation)
        span = max(w, h) * k
        draw.polygon([(x * span, y * span) for x, y in points], fill=255)
    image.paste(rgb, (x0, y0, x1, y1), mask.reduce(k))
