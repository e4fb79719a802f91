"""Stage 2 of the recipe: the vision tower learns to see, from dense labels on windows.

Step k trains on a batch drawn by a generator seeded with (seed, k), so an interrupted
run that resumes from its last checkpoint continues exactly as if it had not stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .crops import CropStore
from .data import normalize_pixels
from .dense import DenseHeads, dense_loss, dense_metrics, fine_dims, merge, rates
from .progress import Progress, say

CHECKPOINT_EVERY_S = 180


@dataclass
class EncoderPhase:
    name: str
    steps: int
    batch: int
    lr: float
    # Side of object-centred sub-windows cut from the stored windows (first three stages
    # and fine heads only: where shape is learnt, at many objects per second); None: the
    # stored windows, every stage and every head.
    window: int | None = None


@dataclass
class EncoderStageConfig:
    phases: list[EncoderPhase]
    min_lr_ratio: float = 0.05
    warmup: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 2.0
    seed: int = 0
    log_every: int = 25

    @property
    def steps(self) -> int:
        return sum(p.steps for p in self.phases)


ALIGN = 16  # sub-window origins sit on the stride-16 grid, so both fine maps slice exactly
MAX_OBJECT_SIDE = 64


def object_windows(store: CropStore, rng: np.random.Generator, count: int, size: int) -> dict[str, np.ndarray]:
    """`count` size x size windows, each centred (with jitter) on one object of at most
    MAX_OBJECT_SIDE pixels from a random stored window, with its fine maps."""
    b = store.batch(rng.integers(0, len(store), count))
    full = b["pixels"].shape[1]
    out: dict[str, list[np.ndarray]] = {k: [] for k in b if k == "pixels" or k[-1].isdigit()}
    for i in range(count):
        objs = b["objects"][i]
        ok = np.flatnonzero((objs[:, 0] >= 0) & (objs[:, 2] <= MAX_OBJECT_SIDE))
        if len(ok):
            cx, cy, _ = objs[rng.choice(ok)]
        else:
            cx, cy = rng.integers(0, full, 2)
        jitter = rng.integers(-size // 4, size // 4 + 1, 2)
        x0, y0 = (int(np.clip((c - size // 2 + j) // ALIGN * ALIGN, 0, full - size)) for c, j in zip((cx, cy), jitter))
        for k in out:
            if k == "pixels":
                out[k].append(b[k][i, y0:y0 + size, x0:x0 + size])
            else:
                stride = int("".join(ch for ch in k if ch.isdigit()))
                out[k].append(b[k][i, y0 // stride:(y0 + size) // stride, x0 // stride:(x0 + size) // stride])
    return {k: np.stack(v) for k, v in out.items()}


def to_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}
    out["pixels"] = normalize_pixels(out["pixels"].permute(0, 3, 1, 2))
    if "uv" in out:
        out["uv"] = out["uv"].flatten(1, 2)
    for k, v in out.items():
        if v.dtype in (torch.uint8, torch.int16) and k != "pixels":
            out[k] = v.long()
    return out


def cosine_lr(lr: float, step: int, steps: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup, then cosine to min_ratio * lr at `steps`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def param_groups(modules: list[torch.nn.Module], weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for m in modules:
        for p in m.parameters():
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_heads(tower: torch.nn.Module, store: CropStore) -> DenseHeads:
    sample = to_tensors(store.batch(np.array([0])))
    fine, cell_dim = fine_dims(tower, sample["pixels"])
    return DenseHeads(fine, cell_dim)


@torch.no_grad()
def evaluate_dense(tower: torch.nn.Module, heads: DenseHeads, store: CropStore, batch: int = 16) -> dict[str, float]:
    tower.eval()
    total: dict[str, list[int]] = {}
    losses = []
    for start in range(0, len(store), batch):
        b = to_tensors(store.batch(np.arange(start, min(len(store), start + batch))))
        out = heads(*tower.dense(b["pixels"], b["uv"]))
        losses.append(dense_loss(out, b)[0].item())
        merge(total, dense_metrics(out, b))
    tower.train()
    return {"loss": round(float(np.mean(losses)), 4), **rates(total)}


def train_encoder(tower: torch.nn.Module, store: CropStore, cfg: EncoderStageConfig, ckpt: Path, log: Path,
                  val: CropStore | None = None, val_every: int = 0) -> dict:
    """Trains tower (in place) with dense heads, phase by phase; returns the final metrics."""
    heads = make_heads(tower, store)
    modules = [tower.encoder, heads]
    optimizer = torch.optim.AdamW(param_groups(modules, cfg.weight_decay), lr=cfg.phases[0].lr, betas=(0.9, 0.99))
    step, elapsed = 0, 0.0  # step counts over all phases
    if ckpt.exists():
        state = torch.load(ckpt)
        tower.encoder.load_state_dict(state["encoder"])
        heads.load_state_dict(state["heads"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed_s"]
        say(f"[encoder] resuming at step {step}/{cfg.steps} from {ckpt}")
    progress = Progress("encoder", cfg.steps, log, start_step=step, elapsed_before=elapsed)
    tower.train()
    last_save = time.time()

    def save() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"encoder": tower.encoder.state_dict(), "heads": heads.state_dict(), "optimizer": optimizer.state_dict(),
                    "step": step, "elapsed_s": progress.elapsed}, tmp)
        tmp.replace(ckpt)

    first = 0
    for phase in cfg.phases:
        window: dict[str, list[float]] = {}
        metrics: dict[str, list[int]] = {}
        while step < first + phase.steps:
            local = step - first
            rng = np.random.default_rng([cfg.seed, step])
            if phase.window:
                batch = to_tensors(object_windows(store, rng, phase.batch, phase.window))
                fine, cells = tower.dense(batch["pixels"], cells=False)
            else:
                batch = to_tensors(store.batch(rng.integers(0, len(store), phase.batch)))
                fine, cells = tower.dense(batch["pixels"], batch["uv"])
            lr = cosine_lr(phase.lr, local, phase.steps, cfg.warmup, cfg.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            out = heads(fine, cells)
            loss, parts = dense_loss(out, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for m in modules for p in m.parameters()], cfg.grad_clip)
            optimizer.step()
            if not math.isfinite(loss.item()):
                raise SystemExit(f"[encoder] non-finite loss at step {step}")
            step += 1
            for k, v in {"loss": loss.item(), **parts}.items():
                window.setdefault(k, []).append(v)
            merge(metrics, dense_metrics(out, batch))
            if step % cfg.log_every == 0 or step == first + phase.steps:
                values = {k: float(np.mean(v)) for k, v in window.items()}
                progress.update(step, phase.batch * len(window["loss"]), phase=phase.name, lr=lr, **values,
                                **{f"acc_{k}": v for k, v in rates(metrics).items()})
                window, metrics = {}, {}
            if val is not None and val_every and step % val_every == 0:
                scores = evaluate_dense(tower, heads, val)
                progress.write({"stage": "encoder", "step": step, "val": scores})
                say(f"[encoder] val at {step}: {scores}")
            if time.time() - last_save > CHECKPOINT_EVERY_S:
                save()
                last_save = time.time()
        first += phase.steps
    save()
    result = {"steps": step, "wall_s": round(progress.elapsed, 1)}
    if val is not None:
        result["val"] = evaluate_dense(tower, heads, val)
        progress.write({"stage": "encoder", "step": step, "val": result["val"]})
        say(f"[encoder] val: {result['val']}")
    return result
