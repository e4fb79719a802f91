"""Scenes -> training batches and evaluation items.

The generator is reached through `SceneSource` (a small Protocol), so the code runs
against `training.synth` when it is there and against `fake_data.py` otherwise.

Geometry and pixels come from the repo's reference preprocessing (preprocess_plans.py /
preprocess_pixels.py): the square ConvLLaVA plan, the native-aspect plan (`native_grid`)
and, for the ViT control, the same padded square at 336. Workers ship 8-bit pixels
(4x less inter-process traffic than float32); `normalize_pixels` does the CLIP
normalisation on the device with the same float32 maths as preprocess.normalise.
"""

from __future__ import annotations

import importlib
import random
import sys
from dataclasses import dataclass, replace
from typing import Any, Iterator, Protocol, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from ..preprocess import CLIP_MEAN, CLIP_STD
from ..preprocess_pixels import execute
from ..preprocess_plans import PYRAMID_FILL, Plan, plan_convllava_native, plan_convllava_square
from ..tokenizer_bpe import PAD_ID, ByteLevelBPE
from .config import DataConfig
from .tokenizer import answer_ids, prompt_ids

IGNORE = -100
LETTERS = "ABCDEFGH"


# ---- the generator's interface ---------------------------------------------------


class QAItem(Protocol):
    question: str
    answer: str
    type: str
    options: Sequence[str] | None


class Scene(Protocol):
    image: Image.Image
    qa: Sequence[QAItem]


class SceneSource(Protocol):
    name: str

    def sample(self, split: str, index: int) -> Scene: ...

    def split_size(self, split: str) -> int | None: ...

    def corpus_texts(self) -> list[str]: ...


def scene_questions(scene: Scene) -> Sequence[QAItem]:
    """training.synth's Sample calls them `questions`; the Protocol (and fake_data) `qa`."""
    qa = getattr(scene, "qa", None)
    return qa if qa is not None else scene.questions


# Where word lists live in a generator module (dotted paths are submodules).
_WORD_LISTS = ("WORDS", "COLORS", "SHAPES", "words.WORDS", "colours.ALL_NAMES", "shapes.SHAPES", "shapes.PLURAL")


def _lookup(module: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


class ModuleSource:
    """Adapts a module with `sample(split, index)` (training.synth) to SceneSource.
    Optional extras are used when the module has them: `corpus_texts()` or word lists
    (see _WORD_LISTS) for the tokenizer; `split_size(split)`, SPLIT_SIZES or
    SPLITS[split].size for split sizes."""

    def __init__(self, module: Any, name: str, **sample_kwargs: Any):
        self.module, self.name, self.sample_kwargs = module, name, sample_kwargs

    def sample(self, split: str, index: int) -> Scene:
        return self.module.sample(split, index, **self.sample_kwargs)

    def split_size(self, split: str) -> int | None:
        if hasattr(self.module, "split_size"):
            return int(self.module.split_size(split))
        sizes = getattr(self.module, "SPLIT_SIZES", None)
        if sizes and split in sizes:
            return int(sizes[split])
        splits = getattr(self.module, "SPLITS", None)
        size = getattr(splits.get(split), "size", None) if isinstance(splits, dict) else None
        return int(size) if size else None

    def corpus_texts(self) -> list[str]:
        if hasattr(self.module, "corpus_texts"):
            return list(self.module.corpus_texts())
        texts = []
        for path in _WORD_LISTS:
            values = _lookup(self.module, path)
            if values:
                texts.append(" ".join(values.values() if isinstance(values, dict) else values))
        # What the templates actually say, from a few scenes (about 5 s for synth).
        for i in range(100):
            for item in scene_questions(self.sample("train", i)):
                texts.append(f"{question_text(item)} {item.answer}")
        return texts


def load_source(name: str, fake_long_side: Sequence[int] = (1500, 4000)) -> SceneSource:
    if name in ("synth", "auto"):
        try:
            return ModuleSource(importlib.import_module("training.synth"), "synth")
        except ImportError as err:
            if name == "synth":
                raise
            print(f"[data] training.synth not importable ({err}); using fake_data", file=sys.stderr)
    if name in ("fake", "auto"):
        from . import fake_data

        return ModuleSource(fake_data, "fake", long_side=tuple(fake_long_side))
    raise ValueError(f"Unknown scene source: {name!r} (expected synth | fake | auto)")


def question_text(item: QAItem) -> str:
    """The question as the model sees it. A multiple-choice item whose text does not
    already list its options gets them appended in V* format."""
    options = getattr(item, "options", None)
    if options and "(A)" not in item.question:
        listed = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))
        return f"{item.question}\n{listed}\nAnswer with the option's letter from the given choices directly."
    return item.question


def correct_option(item: QAItem) -> int | None:
    """Index of the right option: the answer is either a letter or an option's text."""
    options = getattr(item, "options", None)
    if not options:
        return None
    answer = item.answer.strip().strip("()").strip()
    if len(answer) == 1 and answer.upper() in LETTERS[: len(options)]:
        return LETTERS.index(answer.upper())
    for i, o in enumerate(options):
        if o.strip().lower() == item.answer.strip().lower():
            return i
    return None


# ---- pixels ----------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """How an image becomes encoder input: convllava-square / convllava-native / vit-square /
    pyramid-square (PIIP's high input), or multicrop (MC-LLaVA: size = the crop side, and its
    two knobs)."""

    kind: str
    size: int  # square side, or the token budget for native
    max_crops: int = 0
    num_tokens: int = 0

    @property
    def label(self) -> str:
        if self.kind == "multicrop":
            return f"mc{self.max_crops}x{self.num_tokens}"
        if self.kind == "pyramid-square":
            return f"pyramid{self.size}"
        return "native" if self.kind == "convllava-native" else str(self.size)

    def plan(self, w: int, h: int) -> Plan:
        if self.kind == "convllava-native":
            return plan_convllava_native(w, h, self.size)
        square = plan_convllava_square(w, h, self.size)
        # PIIP's high input is the same square padded with PIIP's colour (the runtime's
        # pyramid strategy pads with it); its low input is derived inside the tower.
        if self.kind == "pyramid-square":
            return replace(square, fill=PYRAMID_FILL)
        # The ViT control is padded and resized exactly like ConvLLaVA's square input.
        return square


def parse_strategy(model: str, resolution: str, token_budget: int = 576) -> Strategy:
    if model == "vit336":
        return Strategy("vit-square", int(resolution))
    if model == "piip":
        return Strategy("pyramid-square", int(resolution.removeprefix("pyramid")))
    if resolution == "native":
        return Strategy("convllava-native", token_budget)
    return Strategy("convllava-square", int(resolution))


def parse_knobs(text: str, side: int) -> list[Strategy]:
    """"4x144,16x576" -> MC-LLaVA strategies (max_crops x num_tokens) at crop side `side`."""
    out = []
    for pair in text.split(","):
        max_crops, num_tokens = (int(v) for v in pair.lower().split("x"))
        out.append(Strategy("multicrop", side, max_crops, num_tokens))
    return out


def encoder_inputs(image: Image.Image, strategy: Strategy):
    """What the vision graph is fed for `image`: uint8 [3, H, W], or MC-LLaVA's CropInputs."""
    if strategy.kind == "multicrop":
        from .config import VitConfig
        from .multicrop import crop_inputs

        return crop_inputs(image, strategy.max_crops, strategy.num_tokens, VitConfig(image_size=strategy.size))
    return image_pixels(image, strategy)


def image_pixels(image: Image.Image, strategy: Strategy) -> torch.Tensor:
    """-> uint8 [3, H, W], the 8-bit stage of the reference preprocessing."""
    plan = strategy.plan(*image.size)
    rgb = execute(plan, image)[0].rgb
    return torch.from_numpy(np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)))


_MEAN = torch.tensor(CLIP_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
_STD = torch.tensor(CLIP_STD, dtype=torch.float32).view(1, 3, 1, 1)


def normalize_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 [B,3,H,W] -> float32, the same ops as preprocess.normalise."""
    x = pixels.float() / 255.0
    return (x - _MEAN.to(x.device)) / _STD.to(x.device)


def group_by_shape(pixels: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Stack images of equal H x W; returns the stacks and which image each row is."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(pixels):
        groups.setdefault(tuple(p.shape[1:]), []).append(i)
    stacks = [torch.stack([pixels[i] for i in idx]) for idx in groups.values()]
    return stacks, [torch.tensor(idx, dtype=torch.long) for idx in groups.values()]


# ---- rows --------------------------------------------------------------------------


def training_row(tok: ByteLevelBPE, item: QAItem, num_image_tokens: int) -> tuple[list[int], list[int]]:
    """ids = prompt + answer + eos; labels only on the answer and eos."""
    prompt = prompt_ids(tok, question_text(item), num_image_tokens)
    answer = answer_ids(tok, item.answer)
    return prompt + answer, [IGNORE] * len(prompt) + answer


def pad_right(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def num_tokens(pixels: torch.Tensor, stride: int) -> int:
    return (pixels.shape[-2] // stride) * (pixels.shape[-1] // stride)


class TrainBatches(IterableDataset):
    """An endless stream of whole batches, built in the workers.

    Worker w renders scene groups w, w + W, w + 2W, ... (B scenes each) and emits every
    group `scene_reuse` times, each time at a freshly sampled input size and with a new
    choice of questions. All images of a square batch share H x W; a native batch is
    grouped by shape (the encoder runs once per shape, the decoder pads rows)."""

    def __init__(self, source: SceneSource, tok: ByteLevelBPE, model: str, stride: int, cfg: DataConfig, batch: int, seed: int):
        self.source, self.tok, self.model, self.stride = source, tok, model, stride
        self.cfg, self.batch, self.seed = cfg, batch, seed

    def strategy_for(self, batch_index: int, rng: random.Random) -> Strategy:
        cfg = self.cfg
        if self.model == "vit336":
            return Strategy("vit-square", cfg.vit_resolution)
        if batch_index < cfg.curriculum_batches:
            return Strategy("convllava-square", min(cfg.square_resolutions))
        choices = [Strategy("convllava-square", s) for s in cfg.square_resolutions]
        weights = list(cfg.resolution_weights)
        if cfg.native_weight > 0:
            choices.append(Strategy("convllava-native", cfg.token_budget))
            weights.append(cfg.native_weight)
        return rng.choices(choices, weights=weights)[0]

    def make_batch(self, scenes: list[Scene], batch_index: int) -> dict:
        rng = random.Random(self.seed * 1_000_003 + batch_index)
        strategy = self.strategy_for(batch_index, rng)
        pixels = [image_pixels(s.image, strategy) for s in scenes]
        stacks, group_images = group_by_shape(pixels)
        ids, labels, row_image = [], [], []
        for i, (scene, px) in enumerate(zip(scenes, pixels)):
            k = min(self.cfg.questions_per_image, len(scene_questions(scene)))
            for item in rng.sample(list(scene_questions(scene)), k):
                row_ids, row_labels = training_row(self.tok, item, num_tokens(px, self.stride))
                ids.append(row_ids)
                labels.append(row_labels)
                row_image.append(i)
        return {
            "pixels": stacks,
            "group_images": group_images,
            "input_ids": pad_right(ids, PAD_ID),
            "labels": pad_right(labels, IGNORE),
            "row_image": torch.tensor(row_image, dtype=torch.long),
            "resolution": strategy.label,
            "batch_index": batch_index,
        }

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        group = worker
        while True:
            first = group * self.batch
            scenes = [self.source.sample("train", first + j) for j in range(self.batch)]
            for r in range(self.cfg.scene_reuse):
                yield self.make_batch(scenes, group * self.cfg.scene_reuse + r)
            group += workers


class EvalScenes(IterableDataset):
    """Scene i of a split, preprocessed once for every requested strategy (so a scene
    is rendered once per evaluation, however many models and sizes are scored)."""

    def __init__(self, source: SceneSource, split: str, count: int, strategies: list[Strategy]):
        self.source, self.split, self.count, self.strategies = source, split, count, strategies

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for index in range(worker, self.count, workers):
            scene = self.source.sample(self.split, index)
            yield {
                "index": index,
                "pixels": {s: encoder_inputs(scene.image, s) for s in self.strategies},
                "qa": [
                    {
                        "question": question_text(q),
                        "answer": q.answer,
                        "type": q.type,
                        "options": list(q.options) if getattr(q, "options", None) else None,
                        "correct_option": correct_option(q),
                    }
                    for q in scene_questions(scene)
                ],
            }
