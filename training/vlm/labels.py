"""Dense ground truth for the encoder: what every cell of the model's input shows.

A generated scene knows every object (shape, colour, rotation, bbox, word), so instead of
four answers per scene the encoder can be told, for each place in the input, what is there:

  fine maps (stride 8 and 16): the kind (8 shapes, sign) and colour of the object covering
      each cell, rasterised from the object's own outline; a large object's kind is
      `IGNORE` at a fine stride (its interior does not show its outline);
  cells (stride 64, one per visual token): which (kind, colour) pairs have their centre in
      the cell, and the word of a sign centred there.

Geometry goes through a `Frame`: the affine map from image pixels to model-input pixels of
one preprocessing strategy (padded square, native aspect, the ViT's square), so labels
line up with exactly what the reference preprocessing feeds the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..preprocess_plans import CONVLLAVA_FILL, native_grid
from ..synth import colours, shapes
from ..synth.scene import SceneObject
from ..synth.words import WORDS

KINDS = shapes.SHAPES + ("sign",)
COLOURS = colours.ALL_NAMES
NUM_KINDS = len(KINDS) + 1  # + none
NUM_COLOURS = len(COLOURS) + 1  # + none
NUM_PAIRS = len(KINDS) * len(COLOURS)
NUM_WORDS = len(WORDS) + 1  # + none
IGNORE = 255
WORD_INDEX = {w: i + 1 for i, w in enumerate(WORDS)}
CELL = 64
# At a fine stride, an object wider than this many cells is labelled by colour only.
FINE_KIND_MAX_CELLS = 8


@dataclass(frozen=True)
class Frame:
    """x_in = sx * x + ox, y_in = sy * y + oy, for an input of width x height pixels."""

    width: int
    height: int
    sx: float
    sy: float
    ox: float
    oy: float

    def box(self, b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return (self.sx * b[0] + self.ox, self.sy * b[1] + self.oy, self.sx * b[2] + self.ox, self.sy * b[3] + self.oy)

    @property
    def content(self) -> tuple[float, float, float, float]:
        """The image's own rectangle in input pixels (the rest is padding)."""
        return self.ox, self.oy, self.width - self.ox, self.height - self.oy


def square_frame(w: int, h: int, resolution: int) -> Frame:
    """LLaVA's expand2square (centred, floor offsets) then a resize to resolution^2."""
    side = max(w, h)
    s = resolution / side
    return Frame(resolution, resolution, s, s, (side - w) // 2 * s, (side - h) // 2 * s)


def native_frame(w: int, h: int, budget: int) -> Frame:
    cols, rows = native_grid(w, h, budget)
    return Frame(cols * CELL, rows * CELL, cols * CELL / w, rows * CELL / h, 0.0, 0.0)


def frame_for(kind: str, size: int, w: int, h: int) -> Frame:
    """kind: convllava-square / vit-square (size = side) or convllava-native (size = budget)."""
    return native_frame(w, h, size) if kind == "convllava-native" else square_frame(w, h, size)


def render_window(image: Image.Image, frame: Frame, x0: int, y0: int, size: int, fill=CONVLLAVA_FILL) -> np.ndarray:
    """uint8 [size, size, 3]: the input's window at (x0, y0), rendered from the original
    image with PIL bicubic (the reference filter) without resizing the whole image."""
    out = Image.new("RGB", (size, size), fill)
    cx0, cy0, cx1, cy1 = frame.content
    ix0, iy0 = max(x0, round(cx0)), max(y0, round(cy0))
    ix1, iy1 = min(x0 + size, round(cx1)), min(y0 + size, round(cy1))
    if ix1 > ix0 and iy1 > iy0:
        src = ((ix0 - frame.ox) / frame.sx, (iy0 - frame.oy) / frame.sy, (ix1 - frame.ox) / frame.sx, (iy1 - frame.oy) / frame.sy)
        src = (max(0.0, src[0]), max(0.0, src[1]), min(image.width, src[2]), min(image.height, src[3]))
        out.paste(image.resize((ix1 - ix0, iy1 - iy0), Image.BICUBIC, box=src), (ix0 - x0, iy0 - y0))
    return np.asarray(out, dtype=np.uint8)


def _outline(obj: SceneObject) -> list[tuple[float, float]] | None:
    """The object's polygon in image pixels (None: an ellipse or a rectangle fills its bbox)."""
    if obj.kind != "shape" or obj.shape == "circle":
        return None
    x0, y0, x1, y1 = obj.bbox
    points, _, _ = shapes.unit_outline(obj.shape, obj.rotation)
    span = max(x1 - x0, y1 - y0)
    return [(x0 + x * span, y0 + y * span) for x, y in points]


def fine_maps(objects: list[SceneObject], frame: Frame, x0: int, y0: int, size: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kind, colour, word) uint8 [size/stride]^2 for the window: 0 = background (word:
    no sign)."""
    g = size // stride
    index = Image.new("I", (g, g), 0)
    draw = ImageDraw.Draw(index)
    big: set[int] = set()
    to_cell = lambda x, y: ((frame.sx * x + frame.ox - x0) / stride, (frame.sy * y + frame.oy - y0) / stride)  # noqa: E731
    for i, obj in enumerate(objects):
        bx0, by0, bx1, by1 = frame.box(obj.bbox)
        if bx1 < x0 or by1 < y0 or bx0 > x0 + size or by0 > y0 + size:
            continue
        if max(bx1 - bx0, by1 - by0) > FINE_KIND_MAX_CELLS * stride:
            big.add(i + 1)
        poly = _outline(obj)
        if poly is None:
            a, b = to_cell(obj.bbox[0], obj.bbox[1])
            c, d = to_cell(obj.bbox[2], obj.bbox[3])
            box = (a, b, c - 1e-3, d - 1e-3)
            (draw.ellipse if obj.kind == "shape" else draw.rectangle)(box, fill=i + 1)
        else:
            draw.polygon([to_cell(x, y) for x, y in poly], fill=i + 1)
        # A tiny object still marks the cell its centre falls in.
        cx, cy = to_cell((obj.bbox[0] + obj.bbox[2]) / 2, (obj.bbox[1] + obj.bbox[3]) / 2)
        if 0 <= cx < g and 0 <= cy < g:
            index.putpixel((int(cx), int(cy)), i + 1)
    idx = np.asarray(index, dtype=np.int64)
    kind_of = np.array([0] + [KINDS.index(o.shape) + 1 for o in objects], dtype=np.uint8)
    colour_of = np.array([0] + [COLOURS.index(o.colour) + 1 for o in objects], dtype=np.uint8)
    word_of = np.array([0] + [WORD_INDEX[o.word] if o.word else 0 for o in objects], dtype=np.uint8)
    kind, colour, word = kind_of[idx], colour_of[idx], word_of[idx]
    if big:
        kind[np.isin(idx, list(big))] = IGNORE
    return kind, colour, word


def cell_labels(objects: list[SceneObject], frame: Frame, x0: int, y0: int, cols: int, rows: int,
                cell: int = CELL) -> tuple[np.ndarray, np.ndarray]:
    """pairs bool [rows, cols, NUM_PAIRS] (kind-major), word uint8 [rows, cols] for the
    cells (one per visual token) of a window whose top-left input pixel is (x0, y0)."""
    pairs = np.zeros((rows, cols, NUM_PAIRS), dtype=bool)
    word = np.zeros((rows, cols), dtype=np.uint8)
    for obj in objects:
        bx0, by0, bx1, by1 = frame.box(obj.bbox)
        c, r = math.floor(((bx0 + bx1) / 2 - x0) / cell), math.floor(((by0 + by1) / 2 - y0) / cell)
        if 0 <= c < cols and 0 <= r < rows:
            pairs[r, c, KINDS.index(obj.shape) * len(COLOURS) + COLOURS.index(obj.colour)] = True
            if obj.word:
                word[r, c] = WORD_INDEX[obj.word]
    return pairs, word


def cell_centres(frame: Frame, x0: int, y0: int, cols: int, rows: int, cell: int = CELL) -> np.ndarray:
    """float32 [rows, cols, 2]: (u, v) of each cell centre, normalised by the input size."""
    u = (x0 + cell * (np.arange(cols) + 0.5)) / frame.width
    v = (y0 + cell * (np.arange(rows) + 0.5)) / frame.height
    return np.stack(np.meshgrid(u, v, indexing="xy"), axis=-1).astype(np.float32)
