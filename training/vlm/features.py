"""Stage 3 of the recipe: the trained tower's output cells for whole training scenes,
computed once and kept, so the decoder stage never runs the encoder.

Each scene is preprocessed exactly as at inference (the reference square or native
plan, drawn per scene from the stage's strategy weights) and encoded with the frozen
tower; its cells (float16, before the projector) and its questions (the generator's
four plus questions derived from the ground truth) are stored in shards of
SCENES_PER_SHARD scenes, written atomically, so an interrupted run resumes at the
first missing shard.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..synth import sample
from .data import Strategy, image_pixels, normalize_pixels, question_text, scene_questions
from .derived import derived_questions
from .config import VitConfig
from .labels import CELL, COLOURS, KINDS, frame_for
from .multicrop import crop_inputs, draw_knobs, token_boxes, tokens_holding

SCENES_PER_SHARD = 64


@dataclass(frozen=True)
class FeatureSpec:
    scenes: int
    strategies: tuple = (("convllava-square", 768, 0.15), ("convllava-square", 1024, 0.2),
                         ("convllava-square", 1536, 0.4), ("convllava-native", 576, 0.25))
    derived_per_scene: int = 16
    split: str = "train"
    first_scene: int = 0


def target_cells(objects, frame, cell: int, groups: list[list[int]]) -> list[list[int]]:
    """Each group of object ids -> the visual tokens (row-major cell indices) holding
    their centres."""
    by_id = {o.id: o for o in objects}
    cols, rows = frame.width // cell, frame.height // cell
    out = []
    for group in groups:
        cells = set()
        for i in group:
            x0, y0, x1, y1 = frame.box(by_id[i].bbox)
            c = min(cols - 1, max(0, int((x0 + x1) / 2 // cell)))
            r = min(rows - 1, max(0, int((y0 + y1) / 2 // cell)))
            cells.add(r * cols + c)
        out.append(sorted(cells))
    return out


def _groups(q) -> list[list[int]]:
    """A generator question's target groups: [a], [b] for left/right (its target_ids are
    [a, b]); otherwise one group."""
    if q.type.removeprefix("mc-") == "relative":
        return [[q.target_ids[0]], [q.target_ids[1]]]
    return [list(q.target_ids)]


def scene_item(spec: FeatureSpec, seed: int, index: int) -> dict:
    rng = random.Random(seed * 7_000_003 + index)
    scene = sample(spec.split, spec.first_scene + index)
    kind, size, _ = rng.choices(spec.strategies, [s[2] for s in spec.strategies])[0]
    if kind == "multicrop":
        item, holding = _multicrop_input(rng, scene, size)
    else:
        strategy = Strategy(kind, size)
        frame = frame_for(kind, size, *scene.image.size)
        cell = 14 if kind == "vit-square" else CELL
        item = {"pixels": image_pixels(scene.image, strategy), "resolution": strategy.label}
        holding = lambda groups: target_cells(scene.objects, frame, cell, groups)  # noqa: E731
    qa = [{"question": question_text(q), "answer": q.answer, "type": q.type, "targets": holding(_groups(q))}
          for q in scene_questions(scene)]
    seen = {q["question"] for q in qa}
    for q in derived_questions(scene.objects, scene.image.width, rng, spec.derived_per_scene):
        text = question_text(q)
        if text not in seen:
            seen.add(text)
            qa.append({"question": text, "answer": q.answer, "type": q.type, "derived": True, "targets": holding(q.targets or [[]])})
    kinds = {name: [o.id for o in scene.objects if o.shape == name] for name in KINDS}
    colours = {name: [o.id for o in scene.objects if o.colour == name] for name in COLOURS}
    names = list(kinds) + list(colours)
    cells = holding(list(kinds.values()) + list(colours.values()))
    attributes = {name: c for name, c in zip(names, cells) if c}
    signs = [o for o in scene.objects if o.word]
    words = {c: o.word for o, held in zip(signs, holding([[o.id] for o in signs])) for c in held}
    return {"index": index, **item, "qa": qa, "attributes": attributes, "signs": words}


def _multicrop_input(rng: random.Random, scene, side: int) -> tuple[dict, object]:
    """MC-LLaVA's inputs at knobs drawn for this scene: every input's pixels, coords and
    kept-token count, each kept token's centre (x, y in [0, 1] of the image), and the map
    from object ids to the kept tokens holding their centres."""
    vit, image = VitConfig(image_size=side), scene.image
    max_crops, num_tokens = draw_knobs(rng)
    inputs = crop_inputs(image, max_crops, num_tokens, vit)
    boxes = token_boxes(inputs.boxes, inputs.keep, vit)
    xy = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2 / image.width, (boxes[:, 1] + boxes[:, 3]) / 2 / image.height], 1)
    item = {"pixels": inputs.pixels, "input_coords": inputs.coords, "keep": inputs.keep, "token_xy": xy.round(4).tolist(),
            "resolution": f"mc{max_crops}x{num_tokens}"}
    return item, lambda groups: tokens_holding(boxes, scene.objects, groups)


class _Scenes(IterableDataset):
    def __init__(self, spec: FeatureSpec, seed: int, shard: int):
        self.spec, self.seed, self.shard = spec, seed, shard

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        first = self.shard * SCENES_PER_SHARD
        for i in range(first + worker, min(self.spec.scenes, first + SCENES_PER_SHARD), workers):
            yield scene_item(self.spec, self.seed, i)


@torch.no_grad()
def build(tower: torch.nn.Module, out: Path, spec: FeatureSpec, seed: int, workers: int = 1, progress=None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps({"spec": asdict(spec), "seed": seed}, indent=1))
    tower.eval()
    shards = (spec.scenes + SCENES_PER_SHARD - 1) // SCENES_PER_SHARD
    for shard in range(shards):
        final = out / f"shard{shard:05d}.pt"
        if final.exists():
            if progress:
                progress(shard + 1, shards, 0)
            continue
        loader = DataLoader(_Scenes(spec, seed, shard), batch_size=None, num_workers=workers)
        items = []
        for item in loader:
            px = item.pop("pixels")
            if "keep" in item:  # MC-LLaVA: every input at once, each keeping its last tokens
                tokens = tower.tokens(normalize_pixels(px))
                keep = item.pop("keep")
                item["cells"] = torch.cat([tokens[i, tokens.shape[1] - k:] for i, k in enumerate(keep)]).to(torch.float16)
                item["coords"] = torch.repeat_interleave(item.pop("input_coords"), torch.tensor(keep), dim=0)
            else:
                item["cells"] = tower.cells(normalize_pixels(px[None]))[0].to(torch.float16)
                item["shape"] = tuple(px.shape[1:])
            items.append(item)
        items.sort(key=lambda it: it["index"])
        tmp = final.with_suffix(".tmp")
        torch.save(items, tmp)
        tmp.replace(final)
        if progress:
            progress(shard + 1, shards, len(items))


class FeatureStore:
    """Every finished shard in memory: a list of {index, cells [N, C] fp16, resolution, qa}."""

    def __init__(self, root: Path):
        shards = sorted(root.glob("shard*.pt"))
        if not shards:
            raise FileNotFoundError(f"no finished feature shards under {root}")
        self.items = [it for p in shards for it in torch.load(p)]

    def __len__(self) -> int:
        return len(self.items)
