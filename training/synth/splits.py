"""Splits, seeds and the question-type schedule.

Every sample is a pure function of (split, index): its seed is
`split.base_seed * 2**40 + index`, and the base seeds are distinct small integers,
so the seed sets of two splits never intersect (indices are checked to be < 2**40).
The held-out test splits (`test-large`, `test-small-detail`) are never used for
training or for picking checkpoints; `val` is for picking.

Fixed-size splits hold one question per image and walk the question types in a fixed
cycle, so every block of len(TYPES) indices has each type once, and existence
alternates yes/no. `train` is unbounded and asks several questions per image.
Bump VERSION whenever any output (pixels, questions or metadata) changes.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "synth-1"

TYPES = ("attribute", "reading", "counting", "relative", "existence", "mc-attribute", "mc-relative")
SEED_STRIDE = 2**40


@dataclass(frozen=True)
class Split:
    name: str
    base_seed: int
    size: int | None  # None: unbounded
    condition: str  # small-detail | large | mixed | alternate (small-detail on even, large on odd indices)
    questions_per_image: int


SPLITS: dict[str, Split] = {
    split.name: split
    for split in (
        Split("train", 1, None, "mixed", 4),
        Split("val", 2, 700, "alternate", 1),
        Split("test-large", 3, 700, "large", 1),
        Split("test-small-detail", 4, 700, "small-detail", 1),
    )
}
HELD_OUT = ("test-large", "test-small-detail")


def get_split(name: str) -> Split:
    if name not in SPLITS:
        raise ValueError(f"Unknown split: {name!r}; expected one of {', '.join(SPLITS)}")
    return SPLITS[name]


def seed_for(split: Split, index: int) -> int:
    limit = split.size if split.size is not None else SEED_STRIDE
    if not 0 <= index < limit:
        raise ValueError(f"index {index} is outside split {split.name!r} (0 <= index < {limit})")
    return split.base_seed * SEED_STRIDE + index


def condition_for(split: Split, index: int) -> str:
    if split.condition == "alternate":
        return "small-detail" if index % 2 == 0 else "large"
    return split.condition


def scheduled_type(split: Split, index: int) -> tuple[str, bool | None]:
    """The one question type of a fixed-size split's image, and for existence whether the answer is yes."""
    slot = index // 2 if split.condition == "alternate" else index
    kind = TYPES[slot % len(TYPES)]
    yes = (slot // len(TYPES)) % 2 == 0 if kind == "existence" else None
    return kind, yes
