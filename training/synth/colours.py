"""Named colours: RGB centres, per-instance jitter, and which names are easy to confuse.

The eight asked-about colours sit at least ~85 RGB units apart (red-orange is the
closest pair, see `min_centre_distance`); jitter moves each channel by at most
JITTER (plus a small brightness scale), so two jittered instances of different names
stay far apart while the same name never renders as one flat RGB value.
Neutral colours only appear on filler objects and are never asked about.
"""

from __future__ import annotations

import itertools
import math
import random

NAMED: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "orange": (245, 130, 20),
    "yellow": (245, 215, 30),
    "green": (40, 160, 60),
    "blue": (35, 80, 215),
    "purple": (130, 50, 180),
    "pink": (240, 120, 185),
    "brown": (125, 75, 35),
}
NEUTRAL: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "black": (20, 20, 20),
}
ALL: dict[str, tuple[int, int, int]] = {**NAMED, **NEUTRAL}
ASKED = tuple(NAMED)
ALL_NAMES = tuple(ALL)

# Distractor choices: names a low-resolution glance could mix up with the key.
SIMILAR: dict[str, tuple[str, ...]] = {
    "red": ("orange", "pink", "brown"),
    "orange": ("red", "yellow", "brown"),
    "yellow": ("orange", "green"),
    "green": ("yellow", "blue"),
    "blue": ("purple", "green"),
    "purple": ("blue", "pink"),
    "pink": ("purple", "red"),
    "brown": ("red", "orange"),
}

JITTER = 12  # per channel, uniform in [-JITTER, JITTER]
BRIGHTNESS = (0.93, 1.05)


def jitter(rng: random.Random, name: str) -> tuple[int, int, int]:
    scale = rng.uniform(*BRIGHTNESS)
    return tuple(max(0, min(255, round(c * scale + rng.randint(-JITTER, JITTER)))) for c in ALL[name])  # type: ignore[return-value]


def luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def text_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light signs (yellow, orange, pink), white on the rest."""
    return (0, 0, 0) if luminance(rgb) > 140 else (255, 255, 255)


def min_centre_distance() -> tuple[float, str, str]:
    """Smallest RGB distance between two asked-about colour centres, for the self-test."""
    pairs = itertools.combinations(NAMED.items(), 2)
    return min((math.dist(a, b), na, nb) for (na, a), (nb, b) in pairs)
