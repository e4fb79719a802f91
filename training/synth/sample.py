"""`sample(split, index)`: one scene and its questions, a pure function of (split, index)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import colours, shapes, splits
from .backgrounds import make_background
from .checks import verify
from .questions import Question, plan
from .scene import SceneBuilder, SceneObject, place, render
from .sizes import CLASSES
from .words import WORDS

ATTEMPTS = 32
ASPECTS = (("square", 1.0, 1.0, 0.15), ("landscape", 1.2, 2.0, 0.35), ("portrait", 1.2, 2.0, 0.25), ("panorama", 2.5, 4.0, 0.25))
# Size class weights: a mixed (training) target, and fillers per condition.
MIXED_TARGETS = (0.35, 0.25, 0.2, 0.2)
FILLERS = {"small-detail": (0.5, 0.35, 0.15, 0.0), "large": (0.25, 0.3, 0.3, 0.15), "mixed": (0.25, 0.3, 0.3, 0.15)}


@dataclass
class QA:
    id: str
    question: str
    answer: str
    type: str
    options: list[str] | None
    target_ids: list[int]
    target_bboxes: list[tuple[int, int, int, int]]
    target_area_fraction: float | None  # of the largest target's bbox; None without a target
    asked: dict  # what the question names (shape, colour, ...), for checks.verify and per-attribute tables


@dataclass
class Sample:
    split: str
    index: int
    version: str
    condition: str
    image: Image.Image
    questions: list[QA]
    objects: list[SceneObject]
    background: dict
    attempt: int


def image_size(rng: random.Random) -> tuple[int, int]:
    long_side = rng.randint(1500, 4000)
    name, lo, hi, _ = rng.choices(ASPECTS, weights=[a[3] for a in ASPECTS])[0]
    short = round(long_side / math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return (short, long_side) if name == "portrait" else (long_side, short)


def _add_fillers(b: SceneBuilder, condition: str) -> None:
    rng = b.rng
    weights = FILLERS[condition]
    for _ in range(rng.randint(6, 18)):
        b.add_shape(rng.choice(shapes.SHAPES), rng.choice(colours.ALL_NAMES), rng.choices(CLASSES, weights)[0], "filler")
    for _ in range(rng.randint(1, 4)):
        word = rng.choice([w for w in WORDS if w not in b.used_words()])
        b.add_sign(word, rng.choice(colours.ASKED), rng.choices(CLASSES[:3], weights[:3])[0], "filler")


def _question_kinds(split: splits.Split, index: int, rng: random.Random) -> list[tuple[str, bool | None]]:
    if split.size is not None:
        return [splits.scheduled_type(split, index)]
    return [(kind, None) for kind in rng.sample(splits.TYPES, split.questions_per_image)]


def _attempt(split: splits.Split, index: int, condition: str, rng: random.Random, npr: np.random.Generator):
    width, height = image_size(rng)
    b = SceneBuilder(rng, width, height)
    planned: list[Question] = []
    for kind, yes in _question_kinds(split, index, rng):
        cls = rng.choices(CLASSES, MIXED_TARGETS)[0] if condition == "mixed" else {"small-detail": "tiny", "large": "large"}[condition]
        q = plan(b, kind, cls, yes, allow_zero=split.size is None)
        if q is None and split.size is not None:
            return None
        if q is not None:
            planned.append(q)
    _add_fillers(b, condition)
    background, info = make_background(rng, npr, (width, height))
    placed = place(b.objects, npr, background)
    wanted = {t for q in planned for t in q.target_ids}
    if not wanted <= {o.id for o in placed}:
        return None
    for obj in placed:
        if obj.role == "target" and obj.id not in wanted:
            obj.role = "filler"  # left over from a planner that gave up
    for q in planned:
        verify(q, placed, width, height, condition)
    return render(background, placed), planned, placed, info


def _qa(split: str, index: int, k: int, q: Question, objects: list[SceneObject], area: int) -> QA:
    boxes = [o.bbox for o in objects if o.id in q.target_ids and o.bbox]
    fraction = max(((x1 - x0) * (y1 - y0) / area for x0, y0, x1, y1 in boxes), default=None)
    return QA(f"{split}-{index}-{k}", q.question, q.answer, q.type, q.options, q.target_ids, boxes,
              None if fraction is None else round(fraction, 7), dict(q.check))


def sample(split_name: str, index: int) -> Sample:
    split = splits.get_split(split_name)
    seed = splits.seed_for(split, index)
    condition = splits.condition_for(split, index)
    for attempt in range(ATTEMPTS):
        rng = random.Random(seed * ATTEMPTS + attempt)
        npr = np.random.default_rng([seed, attempt])
        made = _attempt(split, index, condition, rng, npr)
        if made is None:
            continue
        image, planned, placed, info = made
        qas = [_qa(split.name, index, k, q, placed, image.width * image.height) for k, q in enumerate(planned)]
        return Sample(split.name, index, splits.VERSION, condition, image, qas, placed, info, attempt)
    raise RuntimeError(f"no valid scene for {split_name}[{index}] in {ATTEMPTS} attempts; the planners need fixing")
