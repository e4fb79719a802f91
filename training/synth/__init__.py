"""Loupe-Synth: deterministic high-resolution scenes with questions, for training and held-out tests.

`sample(split, index)` is a pure function of its arguments; see splits.py for seeds."""

from .sample import QA, Sample, sample
from .splits import HELD_OUT, SPLITS, TYPES, VERSION

__all__ = ["QA", "Sample", "sample", "HELD_OUT", "SPLITS", "TYPES", "VERSION"]
