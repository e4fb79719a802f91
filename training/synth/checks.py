"""Independent checks of a question against the final scene: the answer is unique and right,
and its targets meet the split's size condition. Used by the generator (an attempt
that fails is redrawn) and by the self-test."""

from __future__ import annotations

from .questions import LETTERS, Question
from .scene import SceneObject
from .sizes import classify


def _one(objects: list[SceneObject], what: str) -> SceneObject:
    if len(objects) != 1:
        raise AssertionError(f"expected exactly one {what}, found {len(objects)}")
    return objects[0]


def expected(q: Question, objects: list[SceneObject]) -> tuple[str, list[int]]:
    """The answer and target ids the scene itself implies for this question."""
    c = q.check
    kind = q.type.removeprefix("mc-")
    if kind == "attribute" and "shape" in c:
        obj = _one([o for o in objects if o.shape == c["shape"]], c["shape"])
        return obj.colour, [obj.id]
    if kind == "attribute":
        obj = _one([o for o in objects if o.colour == c["colour"]], f"{c['colour']} object")
        if obj.kind != "shape":
            raise AssertionError(f"the only {c['colour']} object is a {obj.kind}")
        return obj.shape, [obj.id]
    if kind == "reading":
        obj = _one([o for o in objects if o.kind == "sign" and o.colour == c["colour"]], f"{c['colour']} sign")
        return obj.word or "", [obj.id]
    if kind == "counting":
        members = [o.id for o in objects if o.shape == c["shape"] and o.colour == c["colour"]]
        if len(members) > 9:
            raise AssertionError(f"{len(members)} objects to count, answers are single digits")
        return str(len(members)), members
    if kind == "relative":
        a = _one([o for o in objects if o.shape == c["a"]], c["a"])
        b = _one([o for o in objects if o.shape == c["b"]], c["b"])
        assert a.bbox and b.bbox
        left, right = b.bbox[0] - a.bbox[2], a.bbox[0] - b.bbox[2]
        dx = max(left, right)
        dy = abs((a.bbox[1] + a.bbox[3]) / 2 - (b.bbox[1] + b.bbox[3]) / 2)
        if dx < c["gap"] or dy > 2 * dx:
            raise AssertionError(f"horizontal separation unclear: gap {dx} px (needs {c['gap']}), vertical offset {dy:.0f}")
        return ("left" if left > right else "right"), [a.id, b.id]
    if kind == "existence":
        present = [o.id for o in objects if o.shape == c["shape"]]
        return ("yes" if present else "no"), present
    raise ValueError(f"Unknown question type: {q.type!r}")


def verify(q: Question, objects: list[SceneObject], width: int, height: int, condition: str) -> None:
    """Raises AssertionError saying what is wrong; returns None when the question is sound."""
    answer, targets = expected(q, objects)
    if q.type.startswith("mc-"):
        if not q.options or q.answer not in LETTERS[: len(q.options)] or q.options[LETTERS.index(q.answer)] != answer:
            raise AssertionError(f"multiple-choice letter {q.answer} does not point at {answer!r} in {q.options}")
        if len(set(q.options)) != len(q.options):
            raise AssertionError(f"repeated options {q.options}")
    elif q.answer != answer:
        raise AssertionError(f"answer {q.answer!r} but the scene says {answer!r}")
    if sorted(targets) != sorted(q.target_ids):
        raise AssertionError(f"targets {q.target_ids} but the scene implies {targets}")
    wanted = {"small-detail": "tiny", "large": "large"}.get(condition)
    for obj in (o for o in objects if o.id in targets):
        assert obj.bbox
        cls = classify(obj.kind, obj.bbox[2] - obj.bbox[0], obj.bbox[3] - obj.bbox[1], width, height)
        if wanted and cls != wanted:
            raise AssertionError(f"{condition} needs {wanted} targets, object {obj.id} is {cls}")
