"""A deliberately small stand-in for `training.synth`: coloured shapes and word signs on a
noisy gradient, with a few question templates. It exists so the training code can be
run and tested before (or without) the real generator; it is not the benchmark."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLORS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (240, 210, 40),
    "orange": (245, 140, 30), "purple": (140, 60, 190), "pink": (240, 120, 180), "white": (250, 250, 250),
}
SHAPES = ["circle", "square", "triangle", "star", "hexagon", "cross", "heart", "arrow"]
WORDS = (
    "apple river stone cloud bread light green house music paper table water train smile "
    "tiger chair dream ocean plant sugar watch bottle candle forest garden island jacket "
    "ladder mirror pencil rocket silver basket button castle dragon finger hammer lemon"
).split()
SPLIT_SEEDS = {"train": 0, "val": 10_000_000, "test-large": 20_000_000, "test-small-detail": 30_000_000}
SPLIT_SIZES = {"val": 64, "test-large": 64, "test-small-detail": 64}
LETTERS = "ABCD"
_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


@dataclass
class QA:
    question: str
    answer: str
    type: str
    options: list[str] | None = None


@dataclass
class Scene:
    image: Image.Image
    qa: list[QA] = field(default_factory=list)


def _shape_points(kind: str, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    if kind == "triangle":
        return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    if kind == "hexagon":
        return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]]
    if kind == "star":
        return [
            (cx + (r if i % 2 == 0 else r * 0.45) * math.cos(-math.pi / 2 + i * math.pi / 5),
             cy + (r if i % 2 == 0 else r * 0.45) * math.sin(-math.pi / 2 + i * math.pi / 5))
            for i in range(10)
        ]
    if kind == "cross":
        t = r / 3
        return [(cx - t, cy - r), (cx + t, cy - r), (cx + t, cy - t), (cx + r, cy - t), (cx + r, cy + t), (cx + t, cy + t),
                (cx + t, cy + r), (cx - t, cy + r), (cx - t, cy + t), (cx - r, cy + t), (cx - r, cy - t), (cx - t, cy - t)]
    if kind == "arrow":
        t = r / 3
        return [(cx - r, cy - t), (cx, cy - t), (cx, cy - r), (cx + r, cy), (cx, cy + r), (cx, cy + t), (cx - r, cy + t)]
    if kind == "heart":
        return [(cx + r * 0.95 * (16 * math.sin(t) ** 3) / 16,
                 cy - r * 0.9 * (13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)) / 16)
                for t in np.linspace(0, 2 * math.pi, 24)]
    return None


def _draw_shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, rgb) -> None:
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rgb)
    elif kind == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=rgb)
    else:
        draw.polygon(_shape_points(kind, cx, cy, r), fill=rgb)


def _background(rng: random.Random, w: int, h: int) -> Image.Image:
    a = np.array([rng.randint(60, 200) for _ in range(3)], dtype=np.float32)
    b = np.array([rng.randint(60, 200) for _ in range(3)], dtype=np.float32)
    t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    row = a * (1 - t) + b * t
    noise = np.random.default_rng(rng.getrandbits(32)).integers(-12, 13, size=(h, 1, 3)).astype(np.float32)
    return Image.fromarray(np.clip(row + noise, 0, 255).astype(np.uint8), "RGB")


def _mc(rng: random.Random, question: str, answer: str, pool: list[str], kind: str) -> QA:
    options = rng.sample([p for p in pool if p != answer], 3) + [answer]
    rng.shuffle(options)
    text = question + "\n" + "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))
    text += "\nAnswer with the option's letter from the given choices directly."
    return QA(text, LETTERS[options.index(answer)], kind + "_mc", options)


def sample(split: str, index: int, long_side: tuple[int, int] = (1500, 4000)) -> Scene:
    rng = random.Random(SPLIT_SEEDS[split] + index)
    side = rng.randint(*long_side)
    aspect = rng.choice([0.5, 0.75, 1.0, 1.33, 1.78, 2.5])
    w, h = (side, max(64, int(side / aspect))) if aspect >= 1 else (max(64, int(side * aspect)), side)
    image = _background(rng, w, h)
    draw = ImageDraw.Draw(image)
    small = split == "test-small-detail" or (split in ("train", "val") and rng.random() < 0.5)
    scale = min(w, h)
    objects = []
    for _ in range(rng.randint(3, 7)):
        kind, color = rng.choice(SHAPES), rng.choice(list(COLORS))
        r = scale * (rng.uniform(0.006, 0.015) if small else rng.uniform(0.04, 0.12))
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        _draw_shape(draw, kind, cx, cy, r, COLORS[color])
        objects.append((kind, color, cx))
    word, sign_color = rng.choice(WORDS), rng.choice(list(COLORS))
    size = max(10, int(scale * (rng.uniform(0.008, 0.015) if small else rng.uniform(0.04, 0.08))))
    font = ImageFont.truetype(_FONT, size)
    x, y = rng.uniform(0, w * 0.7), rng.uniform(0, h * 0.9)
    box = draw.textbbox((x, y), word, font=font)
    draw.rectangle((box[0] - size // 3, box[1] - size // 3, box[2] + size // 3, box[3] + size // 3), fill=COLORS[sign_color])
    draw.text((x, y), word, font=font, fill=(0, 0, 0) if sign_color in ("yellow", "white", "pink") else (255, 255, 255))

    kind, color, _ = objects[0]
    counts = sum(1 for k, c, _ in objects if (k, c) == (kind, color))
    absent = next(s for s in rng.sample(SHAPES, len(SHAPES)) if s not in {k for k, _, _ in objects})
    qa = [
        QA(f"What color is the {kind}?", color, "attribute") if sum(k == kind for k, _, _ in objects) == 1 else
        QA(f"How many {color} {kind}s are there?", str(counts), "counting"),
        QA(f"What word is on the {sign_color} sign?", word, "reading"),
        QA(f"Is there a {absent}?", "no", "existence"),
        QA(f"Is there a {kind}?", "yes", "existence"),
        _mc(rng, f"What word is on the {sign_color} sign?", word, WORDS, "reading"),
    ]
    if len(objects) > 1 and objects[1][0] != kind:
        side_word = "left" if objects[0][2] < objects[1][2] else "right"
        qa.append(QA(f"Is the {kind} left or right of the {objects[1][0]}?", side_word, "position"))
    return Scene(image, qa)


def corpus_texts() -> list[str]:
    """Everything the templates can say, for the tokenizer."""
    texts = [" ".join(WORDS), " ".join(COLORS), " ".join(SHAPES), " ".join(s + "s" for s in SHAPES)]
    texts += [f"What color is the {s}? How many red {s}s are there? Is there a {s}? yes no left right" for s in SHAPES]
    texts += [f"What word is on the {c} sign?" for c in COLORS]
    texts += ["Answer with the option's letter from the given choices directly. (A) (B) (C) (D) A B C D 0 1 2 3 4 5 6 7 8 9"]
    return texts
