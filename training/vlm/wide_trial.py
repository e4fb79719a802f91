"""Trial (issue #10, session 13; not shipped): does the shipped tower learn large objects at
1536 from wider windows?

The shipped encoder stage trained on 256-pixel windows; a large object at 1536 is 160-290
pixels, so it never showed whole with its cell label. This fine-tunes the shipped tower on
512-pixel windows centred on medium and large objects (mostly at 1536), every other step a
batch of the stage's own 256-pixel windows (so small objects are not forgotten), after
fitting fresh dense heads on the frozen tower. It writes, per object size, the cell kind and
colour accuracy on val windows before and after (OUT/wide_log.jsonl), and the tuned tower as
OUT/encoder.pt with the windows and encoder stages recorded done, so the pipeline resumes at
the features stage:

    /usr/bin/python3 -m training.vlm.tower_from_bundle             # the shipped tower -> training/runs/convllava
    /usr/bin/python3 -m training.vlm.wide_trial --out training/runs/wide-trial
    /usr/bin/python3 -m training.vlm.pipeline --out training/runs/wide-trial --bundle-out /tmp/wide-bundle

Result and logs: training/results/recipe-trials/README.md ("wide-windows").
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from . import crops as crops_mod
from .dense import DenseHeads, _single_cells, dense_loss, fine_dims
from .pipeline import REPO, Recipe, Run, tokenizer_and_model
from .progress import say
from .stage_encoder import cosine_lr, param_groups, to_tensors

SIZE_BINS = ((0, 32), (32, 96), (96, 160), (160, 10_000))


WIDE_WEIGHTS = (("tiny", 0.0), ("small", 0.2), ("medium", 1.0), ("large", 2.0))


def wide_spec(split: str) -> crops_mod.CropSpec:
    return crops_mod.CropSpec(size=512, per_scene=2, split=split, object_centred=1.0, size_weights=WIDE_WEIGHTS,
                              strategies=(("convllava-square", 1536, 0.6), ("convllava-square", 1024, 0.2),
                                          ("convllava-native", 576, 0.2)))


def build_store(root: Path, spec: crops_mod.CropSpec, scenes: int, seed: int = 7) -> crops_mod.CropStore:
    crops_mod.build(root, spec, seed, scenes, workers=2)
    return crops_mod.CropStore(root)


@torch.no_grad()
def per_size(tower, heads, store: crops_mod.CropStore, batch: int = 8) -> dict[str, dict[str, float]]:
    """Cell kind / colour / both accuracy on single-object cells, by the object's longer side (input px)."""
    tower.eval()
    hits = {f"{a}-{b}": np.zeros(4, dtype=np.int64) for a, b in SIZE_BINS}
    cell = store.spec.cell
    for start in range(0, len(store), batch):
        raw = store.batch(np.arange(start, min(len(store), start + batch)))
        b = to_tensors(raw)
        out = heads(*tower.dense(b["pixels"], b["uv"]))
        pairs, single, kind, colour = _single_cells(out, b)
        k_ok = (out["kind"][single].argmax(-1) == kind).numpy()
        c_ok = (out["colour"][single].argmax(-1) == colour).numpy()
        g = raw["pixels"].shape[1] // cell
        where = np.argwhere(single.reshape(-1, g, g).numpy())  # (window, row, col) in the order of out[single]
        for (w, r, c), ko, co in zip(where, k_ok, c_ok):
            side = 0
            for cx, cy, s in raw["objects"][w]:
                if cx >= 0 and int(cx) // cell == c and int(cy) // cell == r:
                    side = int(s)
            for a, bnd in SIZE_BINS:
                if a <= side < bnd:
                    hits[f"{a}-{bnd}"] += (ko, co, ko and co, 1)
    tower.train()
    return {k: {"kind": round(100 * h[0] / h[3], 1), "colour": round(100 * h[1] / h[3], 1), "both": round(100 * h[2] / h[3], 1),
                "cells": int(h[3])} for k, h in hits.items() if h[3]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, default=REPO / "training" / "runs" / "wide-trial")
    p.add_argument("--source", type=Path, default=REPO / "training" / "runs" / "convllava")
    p.add_argument("--head-steps", type=int, default=150)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wide-scenes", type=int, default=1024)
    a = p.parse_args()
    torch.set_num_threads(2)
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "encoder.pt", "windows.done.json", "encoder.done.json"):
        shutil.copy(a.source / name, out / name)
    run = Run(out, Recipe(), False, None, True)
    _, _, model = tokenizer_and_model(run)
    tower = model.vision
    tower.encoder.load_state_dict(torch.load(out / "encoder.pt"))
    t0 = time.time()
    wide = build_store(out / "windows-wide", wide_spec("train"), a.wide_scenes)
    val_wide = build_store(out / "val-wide", wide_spec("val"), 128)
    val_std = build_store(out / "val-std", crops_mod.CropSpec(per_scene=2, split="val", first_scene=200), 128)
    std = build_store(out / "windows-std", crops_mod.CropSpec(per_scene=6), 512)  # the shipped spec, 512 scenes
    say(f"[wide] windows built in {time.time() - t0:.0f} s: {len(wide)} wide, {len(val_wide)} + {len(val_std)} val")
    fine, cell_dim = fine_dims(tower, to_tensors(std.batch(np.array([0])))["pixels"])
    heads = DenseHeads(fine, cell_dim)
    log = out / "wide_log.jsonl"

    def record(tag: str) -> None:
        row = {"tag": tag, "wide_val": per_size(tower, heads, val_wide), "std_val": per_size(tower, heads, val_std),
               "elapsed_s": round(time.time() - t0, 1)}
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        say(f"[wide] {tag}: {json.dumps(row)}")

    def train(steps: int, lr: float, modules: list[torch.nn.Module], tag: str) -> None:
        opt = torch.optim.AdamW(param_groups(modules, 0.05), lr=lr, betas=(0.9, 0.99))
        params = [q for m in modules for q in m.parameters()]
        started = time.time()
        for step in range(steps):
            rng = np.random.default_rng([11, step, len(tag)])
            store, n = (wide, 4) if step % 2 == 0 else (std, 16)
            b = to_tensors(store.batch(rng.integers(0, len(store), n)))
            for group in opt.param_groups:
                group["lr"] = cosine_lr(lr, step, steps, min(50, steps // 5), 0.05)
            loss, parts = dense_loss(heads(*tower.dense(b["pixels"], b["uv"])), b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 2.0)
            opt.step()
            if not math.isfinite(loss.item()):
                raise SystemExit(f"non-finite loss at {tag} step {step}")
            if step % 25 == 0:
                say(f"[wide] {tag} {step}/{steps} loss {loss.item():.3f} cell_kind {parts.get('cell_kind', 0):.3f} "
                    f"{(time.time() - started) / (step + 1):.2f} s/step")

    for q in tower.parameters():
        q.requires_grad_(False)
    train(a.head_steps, 3e-3, [heads], "heads")
    record("shipped tower, fitted heads")
    for q in tower.encoder.parameters():
        q.requires_grad_(True)
    train(a.steps, a.lr, [tower.encoder, heads], "tune")
    record("tuned on wide + standard windows")
    torch.save(tower.encoder.state_dict(), out / "encoder.pt")
    say(f"[wide] encoder saved to {out / 'encoder.pt'} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
