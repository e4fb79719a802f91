"""Question planners: each adds its target (and look-alike distractors) to a scene, reserves
what keeps its answer unique, and returns the question. Templates vary the phrasing.

Multiple-choice questions follow V*: the question, options "(A) ...", one per line, and
"Answer with the option's letter from the given choices directly."; the answer is the
letter. Attribute questions have 4 options, relative-position questions 2.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import colours, shapes
from .scene import SceneBuilder
from .words import WORDS

MC_SUFFIX = "Answer with the option's letter from the given choices directly."
LETTERS = "ABCD"
TEMPLATES = {
    "colour-of-shape": ("What colour is the {shape}?", "What is the colour of the {shape}?", "What color is the {shape}?",
                        "Which colour does the {shape} have?"),
    "shape-of-colour": ("What shape is the {colour} object?", "What is the shape of the {colour} object?",
                        "Which shape is {colour}?"),
    "reading": ("What word is on the {colour} sign?", "What does the {colour} sign say?", "Read the word on the {colour} sign."),
    "counting": ("How many {colour} {shapes} are there?", "How many {colour} {shapes} are in the image?",
                 "Count the {colour} {shapes}."),
    "relative": ("Is the {a} left or right of the {b}?", "Is the {a} to the left or to the right of the {b}?",
                 "Is the {a} on the left or the right side of the {b}?"),
    "existence": ("Is there {article} {shape}?", "Is there {article} {shape} in the image?", "Does the image contain {article} {shape}?"),
}
MAX_COUNT = {"tiny": 9, "small": 9, "medium": 6, "large": 4}


@dataclass
class Question:
    type: str
    question: str
    answer: str
    target_ids: list[int]
    options: list[str] | None = None
    check: dict = field(default_factory=dict)  # what checks.verify needs: the asked shape, colour, group, ...


def _mc(rng: random.Random, q: Question, choices: list[str]) -> Question:
    """Turn an open question into V* multiple choice over `choices` (which include the answer)."""
    rng.shuffle(choices)
    lines = [f"({LETTERS[i]}) {c}" for i, c in enumerate(choices)]
    q.check["open_answer"] = q.answer
    text = "\n".join([q.question, *lines, MC_SUFFIX])
    return Question("mc-" + q.type, text, LETTERS[choices.index(q.answer)], q.target_ids, choices, q.check)


def _four(rng: random.Random, answer: str, similar: tuple[str, ...], pool: tuple[str, ...]) -> list[str]:
    rest = [c for c in pool if c != answer and c not in similar]
    rng.shuffle(rest)
    return [answer, *[c for c in similar if c != answer], *rest][:4]


def _distract(b: SceneBuilder, near: int, cls: str, pairs: list[tuple[str, str]], limit: int) -> None:
    b.rng.shuffle(pairs)
    added = 0
    for shape, colour in pairs:
        if added < limit and b.add_shape(shape, colour, cls, "distractor", near=near):
            added += 1


def attribute(b: SceneBuilder, cls: str, mc: bool) -> Question | None:
    rng = b.rng
    if rng.random() < 0.5:
        free = b.free_shapes(shapes.SHAPES)
        if not free:
            return None
        shape = rng.choice(free)
        colour = rng.choice(b.colours_for(shape, colours.ASKED))
        target = b.add_shape(shape, colour, cls, "target")
        if target is None:
            return None
        b.unique_shapes.add(shape)
        _distract(b, target.id, cls, [(s, colour) for s in shapes.SIMILAR[shape]] + [(s, c) for s in shapes.SIMILAR[shape] for c in colours.SIMILAR[colour]], 2)
        q = Question("attribute", rng.choice(TEMPLATES["colour-of-shape"]).format(shape=shape), colour, [target.id], check={"shape": shape})
        return _mc(rng, q, _four(rng, colour, colours.SIMILAR[colour], colours.ASKED)) if mc else q
    free_colours = [c for c in colours.ASKED if b.count(colour=c) == 0 and c not in b.unique_colours]
    if not free_colours:
        return None
    colour = rng.choice(free_colours)
    shape = rng.choice([s for s in shapes.SHAPES if b.allows("shape", s, colour)] or [""])
    target = b.add_shape(shape, colour, cls, "target") if shape else None
    if target is None:
        return None
    b.unique_colours.add(colour)
    _distract(b, target.id, cls, [(shape, c) for c in colours.SIMILAR[colour]] + [(s, c) for s in shapes.SIMILAR[shape] for c in colours.SIMILAR[colour]], 2)
    q = Question("attribute", rng.choice(TEMPLATES["shape-of-colour"]).format(colour=colour), shape, [target.id], check={"colour": colour})
    return _mc(rng, q, _four(rng, shape, shapes.SIMILAR[shape], shapes.SHAPES)) if mc else q


def reading(b: SceneBuilder, cls: str) -> Question | None:
    rng = b.rng
    options = [c for c in colours.ASKED if b.allows("sign", "sign", c)]
    if not options:
        return None
    colour = rng.choice(options)
    word = rng.choice([w for w in WORDS if w not in b.used_words()])
    target = b.add_sign(word, colour, cls, "target")
    if target is None:
        return None
    b.sign_colours.add(colour)
    for similar in colours.SIMILAR[colour][: rng.randint(1, 2)]:
        b.add_sign(rng.choice([w for w in WORDS if w not in b.used_words()]), similar, cls, "distractor", near=target.id)
    return Question("reading", rng.choice(TEMPLATES["reading"]).format(colour=colour), word, [target.id], check={"colour": colour})


def counting(b: SceneBuilder, cls: str, allow_zero: bool) -> Question | None:
    rng = b.rng
    groups = [(c, s) for c in colours.ASKED for s in shapes.SHAPES if b.allows("shape", s, c) and b.count(s, c) == 0]
    if not groups:
        return None
    colour, shape = rng.choice(groups)
    n = rng.randint(0 if allow_zero and rng.random() < 0.1 else 1, MAX_COUNT[cls])
    members = [b.add_shape(shape, colour, cls, "target") for _ in range(n)]
    if any(m is None for m in members):
        return None
    b.counted.add((colour, shape))
    anchor = members[0].id if members and members[0] else None
    _distract(b, anchor, cls, [(shape, c) for c in colours.SIMILAR[colour]] + [(s, colour) for s in shapes.SIMILAR[shape]], rng.randint(1, 3))
    text = rng.choice(TEMPLATES["counting"]).format(colour=colour, shapes=shapes.PLURAL[shape])
    return Question("counting", text, str(n), [m.id for m in members if m], check={"colour": colour, "shape": shape})


def relative(b: SceneBuilder, cls: str, mc: bool) -> Question | None:
    rng = b.rng
    free = b.free_shapes(shapes.SHAPES)
    if len(free) < 2:
        return None
    a_shape, b_shape = rng.sample(free, 2)
    side = rng.choice(("left", "right"))
    gap = max(24, round(0.06 * b.width))
    ref = b.add_shape(b_shape, rng.choice(b.colours_for(b_shape, colours.ASKED)), cls, "target")
    if ref is None:
        return None
    moved = b.add_shape(a_shape, rng.choice(b.colours_for(a_shape, colours.ASKED)), cls, "target", side_of=(ref.id, side, gap))
    if moved is None:
        return None
    b.unique_shapes.update((a_shape, b_shape))
    q = Question("relative", rng.choice(TEMPLATES["relative"]).format(a=a_shape, b=b_shape), side, [moved.id, ref.id],
                 check={"a": a_shape, "b": b_shape, "gap": gap})
    return _mc(rng, q, ["left", "right"]) if mc else q


def existence(b: SceneBuilder, cls: str, yes: bool) -> Question | None:
    rng = b.rng
    free = b.free_shapes(shapes.SHAPES)
    if not free:
        return None
    shape = rng.choice(free)
    targets = []
    if yes:
        target = b.add_shape(shape, rng.choice(b.colours_for(shape, colours.ALL_NAMES)), cls, "target")
        if target is None:
            return None
        b.unique_shapes.add(shape)
        targets = [target.id]
    else:
        b.absent_shapes.add(shape)
    _distract(b, targets[0] if targets else None, cls, [(s, c) for s in shapes.SIMILAR[shape] for c in colours.ALL_NAMES], rng.randint(1, 2))
    text = rng.choice(TEMPLATES["existence"]).format(article=shapes.ARTICLE[shape], shape=shape)
    return Question("existence", text, "yes" if yes else "no", targets, check={"shape": shape})


def plan(b: SceneBuilder, kind: str, cls: str, yes: bool | None, allow_zero: bool) -> Question | None:
    if kind in ("attribute", "mc-attribute"):
        return attribute(b, cls, kind.startswith("mc"))
    if kind in ("relative", "mc-relative"):
        return relative(b, cls, kind.startswith("mc"))
    if kind == "reading":
        return reading(b, cls)
    if kind == "counting":
        return counting(b, cls, allow_zero)
    if kind == "existence":
        return existence(b, cls, b.rng.random() < 0.5 if yes is None else yes)
    raise ValueError(f"Unknown question type: {kind!r}")
