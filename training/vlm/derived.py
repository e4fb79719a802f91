"""More questions per training scene, asked about what the scene's ground truth holds.

The generator plans four questions per training scene; the scene holds many more facts.
Here every object list yields further questions in the generator's own templates and
formats, each kept only when its answer is unique by the same rules `synth.checks`
enforces (one object of the asked shape, one sign of the asked colour, a clear
horizontal gap for left/right, ...). Used for training only: the held-out splits are
untouched. The decoder then sees several times more question-answer pairs per encoded
image, which is what its training time is spent on.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from ..synth import colours, shapes
from ..synth.questions import LETTERS, MC_SUFFIX, TEMPLATES
from ..synth.scene import SceneObject


@dataclass
class DerivedQA:
    question: str
    answer: str
    type: str
    options: list[str] | None = None
    check: dict | None = None  # what synth.checks.expected needs to recompute the answer
    # Object ids the answer rests on, in groups: [a], [b] for left/right; else one group.
    targets: list[list[int]] | None = None


def _mc(rng: random.Random, qa: DerivedQA, choices: list[str]) -> DerivedQA:
    rng.shuffle(choices)
    text = "\n".join([qa.question, *[f"({LETTERS[i]}) {c}" for i, c in enumerate(choices)], MC_SUFFIX])
    return DerivedQA(text, LETTERS[choices.index(qa.answer)], "mc-" + qa.type, choices, qa.check, qa.targets)


def _four(rng: random.Random, answer: str, similar: tuple[str, ...], pool: tuple[str, ...]) -> list[str]:
    rest = [c for c in pool if c != answer and c not in similar]
    rng.shuffle(rest)
    return [answer, *[c for c in similar if c != answer], *rest][:4]


def _attribute(rng: random.Random, objects: list[SceneObject]) -> list[DerivedQA]:
    out = []
    by_shape = Counter(o.shape for o in objects if o.kind == "shape")
    by_colour = Counter(o.colour for o in objects)
    for o in objects:
        if o.kind != "shape":
            continue
        if by_shape[o.shape] == 1 and o.colour in colours.ASKED:
            qa = DerivedQA(rng.choice(TEMPLATES["colour-of-shape"]).format(shape=o.shape), o.colour, "attribute", check={"shape": o.shape},
                           targets=[[o.id]])
            out.append(_mc(rng, qa, _four(rng, o.colour, colours.SIMILAR[o.colour], colours.ASKED)) if rng.random() < 0.4 else qa)
        if by_colour[o.colour] == 1 and o.colour in colours.ASKED:
            qa = DerivedQA(rng.choice(TEMPLATES["shape-of-colour"]).format(colour=o.colour), o.shape, "attribute", check={"colour": o.colour},
                           targets=[[o.id]])
            out.append(_mc(rng, qa, _four(rng, o.shape, shapes.SIMILAR[o.shape], shapes.SHAPES)) if rng.random() < 0.4 else qa)
    return out


def _reading(rng: random.Random, objects: list[SceneObject]) -> list[DerivedQA]:
    signs = Counter(o.colour for o in objects if o.kind == "sign")
    return [DerivedQA(rng.choice(TEMPLATES["reading"]).format(colour=o.colour), o.word or "", "reading", check={"colour": o.colour}, targets=[[o.id]])
            for o in objects if o.kind == "sign" and signs[o.colour] == 1 and o.colour in colours.ASKED]


def _counting(rng: random.Random, objects: list[SceneObject]) -> list[DerivedQA]:
    groups = Counter((o.colour, o.shape) for o in objects if o.kind == "shape" and o.colour in colours.ASKED)
    present = [g for g, n in groups.items() if n <= 9]
    absent = [(c, s) for c in colours.ASKED for s in shapes.SHAPES if (c, s) not in groups]
    picks = rng.sample(present, min(2, len(present))) + rng.sample(absent, min(1, len(absent)) if rng.random() < 0.3 else 0)
    return [DerivedQA(rng.choice(TEMPLATES["counting"]).format(colour=c, shapes=shapes.PLURAL[s]), str(groups.get((c, s), 0)), "counting",
                      check={"colour": c, "shape": s},
                      targets=[[o.id for o in objects if (o.colour, o.shape) == (c, s)]])
            for c, s in picks]


def _relative(rng: random.Random, objects: list[SceneObject], width: int) -> list[DerivedQA]:
    by_shape = Counter(o.shape for o in objects if o.kind == "shape")
    unique = [o for o in objects if o.kind == "shape" and by_shape[o.shape] == 1]
    gap = max(24, round(0.06 * width))
    out = []
    for a in unique:
        for b in unique:
            if a is b:
                continue
            left, right = b.bbox[0] - a.bbox[2], a.bbox[0] - b.bbox[2]
            dx = max(left, right)
            dy = abs((a.bbox[1] + a.bbox[3]) / 2 - (b.bbox[1] + b.bbox[3]) / 2)
            if dx >= gap and dy <= 2 * dx:
                out.append((a, b, "left" if left > right else "right"))
    rng.shuffle(out)
    qas = []
    for a, b, side in out[:3]:
        qa = DerivedQA(rng.choice(TEMPLATES["relative"]).format(a=a.shape, b=b.shape), side, "relative",
                       check={"a": a.shape, "b": b.shape, "gap": gap}, targets=[[a.id], [b.id]])
        qas.append(_mc(rng, qa, ["left", "right"]) if rng.random() < 0.4 else qa)
    return qas


def _existence(rng: random.Random, objects: list[SceneObject]) -> list[DerivedQA]:
    there = {o.shape for o in objects if o.kind == "shape"}
    yes = [s for s in shapes.SHAPES if s in there]
    no = [s for s in shapes.SHAPES if s not in there]
    picks = ([rng.choice(yes)] if yes else []) + ([rng.choice(no)] if no else [])
    return [DerivedQA(rng.choice(TEMPLATES["existence"]).format(article=shapes.ARTICLE[s], shape=s), "yes" if s in there else "no",
                      "existence", check={"shape": s}, targets=[[o.id for o in objects if o.shape == s]])
            for s in picks]


def derived_questions(objects: list[SceneObject], width: int, rng: random.Random, limit: int) -> list[DerivedQA]:
    """Up to `limit` questions with unique answers, spread over the question types."""
    pools = [_attribute(rng, objects), _reading(rng, objects), _counting(rng, objects),
             _relative(rng, objects, width), _existence(rng, objects)]
    for pool in pools:
        rng.shuffle(pool)
    out: list[DerivedQA] = []
    while len(out) < limit and any(pools):
        for pool in pools:
            if pool and len(out) < limit:
                out.append(pool.pop())
    return out
