"""The encoder's training set: windows of the model's input with dense labels.

The encoder is fully convolutional, so it can learn from windows of the input it will
see (a scene preprocessed at 768, 1024, 1536 or native aspect) instead of whole
1536-pixel images. Windows are centred on objects (mostly tiny and small ones, the hard
part), aligned to the 64-pixel token grid as at inference, and rendered straight from
the original image with the reference's bicubic filter. Each window carries the labels
of labels.py and the normalised centre of each of its cells in the whole input (for the
position code).

Shards of SCENES_PER_SHARD scenes are written as .npy files, atomically, so an
interrupted run resumes at the first missing shard; a shard is a pure function of
(split, seed, shard index).
"""

from __future__ import annotations

import json
import random
import signal
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from PIL import Image

from ..preprocess_plans import CONVLLAVA_FILL, PYRAMID_FILL, multicrop_grid
from ..synth import sample
from .labels import CELL, cell_centres, cell_labels, fine_maps, frame_for, render_window
from .multicrop import TOKEN_EXTENT, TRAIN_MAX_CROPS, column_labels, crop_frame

SCENES_PER_SHARD = 64


def arrays(spec: "CropSpec") -> tuple[str, ...]:
    fine = [f"{what}{s}" for s in spec.fine_strides for what in ("kind", "colour", "word")]
    return ("pixels", *fine, "pairs", "word", "uv", "objects")


MAX_OBJECTS = 24  # per window; (centre x, centre y, longer side) in window pixels, -1 padded


def window_objects(objects, frame, x0: int, y0: int, size: int) -> np.ndarray:
    out = np.full((MAX_OBJECTS, 3), -1, dtype=np.int16)
    k = 0
    for obj in objects:
        bx0, by0, bx1, by1 = frame.box(obj.bbox)
        cx, cy = (bx0 + bx1) / 2 - x0, (by0 + by1) / 2 - y0
        if 0 <= cx < size and 0 <= cy < size and k < MAX_OBJECTS:
            out[k] = (int(cx), int(cy), int(max(bx1 - bx0, by1 - by0)))
            k += 1
    return out


@dataclass(frozen=True)
class CropSpec:
    size: int = 256  # window side in input pixels (a multiple of CELL)
    per_scene: int = 8
    # (strategy, size, weight): what the windows are cut from.
    strategies: tuple = (("convllava-square", 768, 0.15), ("convllava-square", 1024, 0.2),
                         ("convllava-square", 1536, 0.4), ("convllava-native", 576, 0.25))
    object_centred: float = 0.85  # the rest are anywhere
    split: str = "train"
    first_scene: int = 0
    cell: int = CELL  # input pixels per visual token
    fine_strides: tuple = (8, 16)  # the fine maps' strides
    # How often an object of each size class is the one a window is centred on.
    size_weights: tuple = (("tiny", 3.0), ("small", 2.0), ("medium", 1.0), ("large", 1.0))


def _windows(rng: random.Random, objects, frame, spec: CropSpec) -> list[tuple[int, int]]:
    size = spec.size
    by_size = dict(spec.size_weights)
    weights = [by_size[o.size_class] * (1.5 if o.kind == "sign" else 1.0) for o in objects]
    out = []
    for _ in range(spec.per_scene):
        if sum(weights) > 0 and rng.random() < spec.object_centred:
            obj = rng.choices(objects, weights)[0]
            bx0, by0, bx1, by1 = frame.box(obj.bbox)
            cx = (bx0 + bx1) / 2 + rng.uniform(-size / 3, size / 3)
            cy = (by0 + by1) / 2 + rng.uniform(-size / 3, size / 3)
        else:
            cx, cy = rng.uniform(0, frame.width), rng.uniform(0, frame.height)
        cell = spec.cell
        x0 = min(max(0, round((cx - size / 2) / cell) * cell), frame.width - size)
        y0 = min(max(0, round((cy - size / 2) / cell) * cell), frame.height - size)
        out.append((x0, y0))
    return out


def _crop_inputs(rng: random.Random, image, spec: CropSpec) -> list[tuple]:
    """MC-LLaVA: per window, a crop plan drawn with the training knobs and one of its
    inputs (the whole image or a crop), squashed to the window as the reference does."""
    w, h = image.size
    out = []
    for _ in range(spec.per_scene):
        max_crops = rng.choices([k for k, _ in TRAIN_MAX_CROPS], [wt for _, wt in TRAIN_MAX_CROPS])[0]
        box = rng.choice([[0, 0, w, h]] + multicrop_grid(w, h, max_crops, spec.size)[1])
        pixels = np.asarray(image.convert("RGB").crop(tuple(box)).resize((spec.size, spec.size), Image.BICUBIC), dtype=np.uint8)
        out.append((crop_frame(box, spec.size), 0, 0, pixels))
    return out


def scene_windows(spec: CropSpec, seed: int, index: int) -> dict[str, np.ndarray]:
    """All windows of one scene, with their labels (arrays stacked on axis 0)."""
    rng = random.Random(seed * 1_000_003 + index)
    scene = sample(spec.split, spec.first_scene + index)
    kind, size, _ = rng.choices(spec.strategies, [s[2] for s in spec.strategies])[0]
    g = spec.size // spec.cell
    parts: dict[str, list[np.ndarray]] = {k: [] for k in arrays(spec)}
    if kind == "mc-crop":
        windows = _crop_inputs(rng, scene.image, spec)
    else:
        frame = frame_for(kind, size, *scene.image.size)
        whole = spec.size == frame.width == frame.height  # the window is the whole input (the ViT)
        windows = [(frame, x0, y0, None) for x0, y0 in ([(0, 0)] * spec.per_scene if whole else _windows(rng, scene.objects, frame, spec))]
    for frame, x0, y0, pixels in windows:
        if pixels is None:
            pixels = render_window(scene.image, frame, x0, y0, spec.size, PYRAMID_FILL if kind == "pyramid-square" else CONVLLAVA_FILL)
        parts["pixels"].append(pixels)
        for stride in spec.fine_strides:
            for what, m in zip(("kind", "colour", "word"), fine_maps(scene.objects, frame, x0, y0, spec.size, stride)):
                parts[f"{what}{stride}"].append(m)
        pairs, word = cell_labels(scene.objects, frame, x0, y0, g, g, spec.cell)
        if kind == "mc-crop" and TOKEN_EXTENT == "column":
            pairs, word = column_labels(pairs, word)
        parts["pairs"].append(pairs)
        parts["word"].append(word)
        parts["uv"].append(cell_centres(frame, x0, y0, g, g, spec.cell))
        parts["objects"].append(window_objects(scene.objects, frame, x0, y0, spec.size))
    return {k: np.stack(v) for k, v in parts.items()}


def _write_shard(args: tuple[CropSpec, int, int, Path]) -> int:
    spec, seed, shard, out = args
    final = out / f"shard{shard:05d}"
    if (final / "done").exists():
        return shard
    scenes = [scene_windows(spec, seed, shard * SCENES_PER_SHARD + i) for i in range(SCENES_PER_SHARD)]
    tmp = out / f"shard{shard:05d}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for key in arrays(spec):
        np.save(tmp / f"{key}.npy", np.concatenate([s[key] for s in scenes]))
    (tmp / "done").write_text("ok")
    if final.exists():
        for f in final.iterdir():
            f.unlink()
        final.rmdir()
    tmp.rename(final)
    return shard


def build(out: Path, spec: CropSpec, seed: int, scenes: int, workers: int = 2, progress=None) -> None:
    """Writes ceil(scenes / SCENES_PER_SHARD) shards under out/ (skipping finished ones)."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {"spec": asdict(spec), "seed": seed, "scenes": scenes, "scenes_per_shard": SCENES_PER_SHARD}
    (out / "spec.json").write_text(json.dumps(meta, indent=1))
    shards = (scenes + SCENES_PER_SHARD - 1) // SCENES_PER_SHARD
    todo = [(spec, seed, s, out) for s in range(shards) if not (out / f"shard{s:05d}" / "done").exists()]
    done = shards - len(todo)
    if progress:
        progress(done, shards)
    if not todo:
        return
    # Workers take back the default SIGTERM: the pipeline's handler (exit, unwinding) would
    # otherwise run in them when the pool is terminated, and a worker unwinding mid-queue can hang
    # the pool's exit (seen once in a clean-clone smoke run: the ViT's windows stage never returned).
    with get_context("fork").Pool(workers, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL)) as pool:
        for _ in pool.imap_unordered(_write_shard, todo):
            done += 1
            if progress:
                progress(done, shards)


class CropStore:
    """Every shard of a built store, memory-mapped; `batch(indices)` gathers windows."""

    def __init__(self, root: Path):
        spec = CropSpec(**{k: tuple(map(tuple, v)) if k in ("strategies", "size_weights") else tuple(v) if isinstance(v, list) else v
                           for k, v in json.loads((root / "spec.json").read_text())["spec"].items()})
        self.spec = spec
        shards = sorted(p for p in root.glob("shard*") if (p / "done").exists() and not p.name.endswith(".tmp"))
        if not shards:
            raise FileNotFoundError(f"no finished shards under {root}")
        self.arrays = {k: [np.load(p / f"{k}.npy", mmap_mode="r") for p in shards] for k in arrays(spec)}
        sizes = [a.shape[0] for a in self.arrays["pixels"]]
        self.offsets = np.cumsum([0] + sizes)
        self.size = int(self.offsets[-1])

    def __len__(self) -> int:
        return self.size

    def batch(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        shard = np.searchsorted(self.offsets, indices, side="right") - 1
        local = indices - self.offsets[shard]
        return {k: np.stack([a[s][i] for s, i in zip(shard, local)]) for k, a in self.arrays.items()}
