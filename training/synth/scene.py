"""A scene: objects with reservations that keep every planned question's answer unique.

Planners (questions.py) add targets and then reserve what their answer depends on:
a shape that must stay unique or absent, a colour that must stay unique, a counted
(colour, shape) group, a sign colour. Every later object (distractor or filler) is
refused if it would break a reservation, so answers are unique by construction;
`checks.verify` confirms it on the final scene. Placement then reject-samples
positions so that no two objects overlap.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from . import colours, sizes
from .shapes import draw_shape

CANDIDATES = 96  # positions tried at once per object
THUMB = 16  # the background is judged on a 1/THUMB box-filtered copy
MIN_CONTRAST = 60.0  # RGB distance between an object and the background behind its centre


@dataclass
class SceneObject:
    id: int
    kind: str  # shape | sign
    shape: str  # one of shapes.SHAPES, or "sign"
    colour: str
    size_class: str
    role: str  # target | distractor | filler
    w: int
    h: int
    rgb: tuple[int, int, int]
    rotation: float = 0.0
    word: str | None = None
    bold: bool = False
    font_size: int | None = None
    bbox: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 once placed
    near: int | None = None  # placed close to this object
    side_of: tuple[int, str, int] | None = None  # (object id, "left" | "right", min gap px)

    def to_json(self) -> dict:
        keys = ("id", "kind", "shape", "colour", "size_class", "role", "rgb", "rotation", "word", "font_size", "bbox")
        return {key: getattr(self, key) for key in keys}


@dataclass
class SceneBuilder:
    rng: random.Random
    width: int
    height: int
    objects: list[SceneObject] = field(default_factory=list)
    unique_shapes: set[str] = field(default_factory=set)
    absent_shapes: set[str] = field(default_factory=set)
    unique_colours: set[str] = field(default_factory=set)
    counted: set[tuple[str, str]] = field(default_factory=set)
    sign_colours: set[str] = field(default_factory=set)

    def count(self, shape: str | None = None, colour: str | None = None) -> int:
        return sum((shape is None or o.shape == shape) and (colour is None or o.colour == colour) for o in self.objects)

    def allows(self, kind: str, shape: str, colour: str) -> bool:
        if colour in self.unique_colours:
            return False
        if kind == "sign":
            return colour not in self.sign_colours
        return shape not in self.unique_shapes and shape not in self.absent_shapes and (colour, shape) not in self.counted

    def colours_for(self, shape: str, names: tuple[str, ...]) -> list[str]:
        return [c for c in names if self.allows("shape", shape, c)]

    def free_shapes(self, shapes: tuple[str, ...]) -> list[str]:
        """Shapes with no object yet and no reservation: can still become unique or absent."""
        return [s for s in shapes if self.count(shape=s) == 0 and self.allows("shape", s, "gray")]

    def add_shape(self, shape: str, colour: str, cls: str, role: str, near: int | None = None,
                  side_of: tuple[int, str, int] | None = None) -> SceneObject | None:
        if not self.allows("shape", shape, colour):
            return None
        sized = sizes.size_shape(self.rng, shape, cls, self.width, self.height)
        if sized is None:
            return None
        rotation, w, h = sized
        obj = SceneObject(len(self.objects), "shape", shape, colour, cls, role, w, h, colours.jitter(self.rng, colour),
                          rotation, near=near, side_of=side_of)
        self.objects.append(obj)
        return obj

    def used_words(self) -> set[str]:
        return {o.word for o in self.objects if o.word}

    def add_sign(self, word: str, colour: str, cls: str, role: str, near: int | None = None) -> SceneObject | None:
        if not self.allows("sign", "sign", colour) or word in self.used_words():
            return None
        sized = sizes.size_sign(self.rng, word, cls, self.width, self.height)
        if sized is None:
            return None
        bold, font_size, w, h = sized
        obj = SceneObject(len(self.objects), "sign", "sign", colour, cls, role, w, h, colours.jitter(self.rng, colour),
                          word=word, bold=bold, font_size=font_size, near=near)
        self.objects.append(obj)
        return obj


def _candidates(npr: np.random.Generator, obj: SceneObject, anchor: SceneObject | None, width: int, height: int, margin: int) -> np.ndarray:
    """CANDIDATES top-left corners, near the anchor when there is one."""
    lo = np.array([margin, margin])
    hi = np.array([width - obj.w - margin, height - obj.h - margin])
    if anchor is not None and anchor.bbox is not None and obj.side_of is None:
        cx, cy = (anchor.bbox[0] + anchor.bbox[2]) / 2, (anchor.bbox[1] + anchor.bbox[3]) / 2
        reach = max(5 * max(anchor.w, anchor.h, obj.w, obj.h), 0.06 * min(width, height))
        lo = np.maximum(lo, [cx - reach - obj.w / 2, cy - reach - obj.h / 2])
        hi = np.minimum(hi, [cx + reach - obj.w / 2, cy + reach - obj.h / 2])
    if np.any(hi < lo):
        return np.zeros((0, 2), np.int64)
    return np.floor(lo + npr.random((CANDIDATES, 2)) * (hi - lo + 1)).astype(np.int64)


def place(objects: list[SceneObject], npr: np.random.Generator, background: Image.Image) -> list[SceneObject]:
    """Positions for every object that fits without overlap and stands out from the background;
    returns the placed ones (targets first)."""
    width, height = background.size
    thumb = np.asarray(background.reduce(THUMB), np.float32)
    by_id = {o.id: o for o in objects}
    order = sorted(objects, key=lambda o: (o.role != "target", o.side_of is not None, -o.w * o.h))
    boxes = np.zeros((0, 4), np.int64)
    placed = []
    for obj in order:
        margin = 2 + max(obj.w, obj.h) // 8
        anchor = by_id.get(obj.near if obj.side_of is None else obj.side_of[0])
        xy = _candidates(npr, obj, anchor, width, height, 2)
        ok = np.ones(len(xy), bool)
        if obj.side_of is not None:
            ref, side, gap = by_id[obj.side_of[0]], obj.side_of[1], obj.side_of[2]
            if ref.bbox is None:
                continue
            dx = np.where(side == "left", ref.bbox[0] - (xy[:, 0] + obj.w), xy[:, 0] - ref.bbox[2])
            dy = np.abs(xy[:, 1] + obj.h / 2 - (ref.bbox[1] + ref.bbox[3]) / 2)
            ok &= (dx >= gap) & (dy <= 2 * dx)
        centre = np.minimum((xy + [obj.w // 2, obj.h // 2]) // THUMB, [thumb.shape[1] - 1, thumb.shape[0] - 1])
        ok &= np.linalg.norm(thumb[centre[:, 1], centre[:, 0]] - obj.rgb, axis=1) >= MIN_CONTRAST
        if len(boxes):
            x0, y0 = xy[:, :1] - margin, xy[:, 1:] - margin
            x1, y1 = xy[:, :1] + obj.w + margin, xy[:, 1:] + obj.h + margin
            clash = (x0 < boxes[:, 2]) & (boxes[:, 0] < x1) & (y0 < boxes[:, 3]) & (boxes[:, 1] < y1)
            ok &= ~clash.any(axis=1)
        hits = np.flatnonzero(ok)
        if len(hits) == 0:
            continue
        x, y = (int(v) for v in xy[hits[0]])
        obj.bbox = (x, y, x + obj.w, y + obj.h)
        boxes = np.vstack([boxes, np.array([obj.bbox])])
        placed.append(obj)
    return placed


def render(background: Image.Image, objects: list[SceneObject]) -> Image.Image:
    draw = ImageDraw.Draw(background)
    for obj in objects:
        assert obj.bbox is not None
        if obj.kind == "shape":
            draw_shape(background, obj.shape, obj.rotation, obj.bbox, obj.rgb)
            continue
        x0, y0, x1, y1 = obj.bbox
        border = max(1, round((obj.font_size or 10) / 14))
        edge = tuple(round(c * 0.45) for c in obj.rgb)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=obj.rgb, outline=edge, width=border)
        text_font = sizes.font(obj.bold, obj.font_size or 10)
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), obj.word or "", font=text_font, fill=colours.text_colour(obj.rgb), anchor="mm")
    return background
