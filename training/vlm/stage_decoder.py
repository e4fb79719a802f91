"""Stage 4 of the recipe: projector, token embeddings and decoder learn to answer, from
the cached cells of stage 3 (the tower stays frozen).

Each step packs, per scene, its generator questions plus derived ones (packed.py) into
one row; step k's scenes and questions are drawn with a generator seeded by (seed, k),
so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..tokenizer_bpe import ByteLevelBPE
from .features import FeatureStore
from .packed import ContentHead, collate, pack_row, packed_loss
from .progress import Progress, say
from .stage_encoder import param_groups

CHECKPOINT_EVERY_S = 180


@dataclass
class DecoderStageConfig:
    steps: int
    batch: int = 4  # scenes (rows) per step
    questions: int = 12  # per row: the generator's, then derived ones
    lr: float = 3e-3
    min_lr_ratio: float = 0.05
    warmup: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 25
    background_start: float = 0.1  # share of background image tokens kept until `ramp_from`
    ramp_from: float = 0.65  # share of the steps from which that share rises linearly ...
    full_from: float = 0.88  # ... to every image token, kept from this share of the steps on
    word_readout: float = 0.0  # weight of packed.py's sign-word read-out at image tokens (0: off)


def lr_at(cfg: DecoderStageConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def choose_questions(rng: np.random.Generator, qa: list[dict], limit: int) -> list[dict]:
    own = [q for q in qa if not q.get("derived")]
    extra = [q for q in qa if q.get("derived")]
    picked = [extra[i] for i in rng.permutation(len(extra))[: max(0, limit - len(own))]]
    chosen = own[:limit] + picked
    return [chosen[i] for i in rng.permutation(len(chosen))]


def background_fraction(cfg: DecoderStageConfig, step: int) -> float:
    """Share of empty (background) image tokens kept in a row: few for most of the stage,
    so attention finds the few object tokens among few keys and a step costs about a
    third of a full one (the run buys twice the steps); all of them from `full_from` of
    the stage on, as at inference."""
    start, end = cfg.ramp_from * cfg.steps, cfg.full_from * cfg.steps
    ramp = max(0.0, min(1.0, (step - start) / max(1.0, end - start)))
    return cfg.background_start + (1 - cfg.background_start) * ramp


def kept_tokens(rng: np.random.Generator, item: dict, fraction: float) -> list[int]:
    n = item["cells"].shape[0]
    if fraction >= 1.0:
        return list(range(n))
    objects = {c for cells in item.get("attributes", {}).values() for c in cells}
    keep = rng.random(n) < fraction
    return [c for c in range(n) if keep[c] or c in objects]


def make_batch(store: FeatureStore, tok: ByteLevelBPE, cfg: DecoderStageConfig, step: int):
    rng = np.random.default_rng([cfg.seed, step])
    items = [store.items[i] for i in rng.integers(0, len(store), cfg.batch)]
    fraction = background_fraction(cfg, step)
    rows, cells = [], []
    for it in items:
        keep = kept_tokens(rng, it, fraction)
        rows.append(pack_row(tok, it["cells"].shape[0], choose_questions(rng, it["qa"], cfg.questions), it.get("attributes"), keep,
                             it.get("shape"), it.get("token_xy"), it.get("signs") if cfg.word_readout else None))
        cells.append((it["cells"], keep, it.get("coords")))
    return collate(rows), cells


def text_side(vision: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The vision tower's modules this stage trains: its projector(s), and MC-LLaVA's
    coordinate embedding where the tower has one."""
    if hasattr(vision, "text_side"):
        return vision.text_side()
    out = {"projector": vision.projector}
    if getattr(vision, "coord_embed", None) is not None:
        out["coord_embed"] = vision.coord_embed
    return out


def project(vision: torch.nn.Module, cells: torch.Tensor, keep: list[int], coords: torch.Tensor | None) -> torch.Tensor:
    """A scene's cached cells -> the decoder's rows for its kept tokens (with each token's crop
    centre for MC-LLaVA). PIIP's projectors normalise over the whole image (GroupNorm), so
    they see every cell and the kept rows are taken after."""
    if getattr(vision, "projects_whole_image", False):
        return vision.project(cells.float()[None])[0][keep]
    if coords is not None:
        return vision.project(cells[keep].float(), coords[keep])
    return vision.projector(cells[keep].float())


def train_decoder(model: torch.nn.Module, tok: ByteLevelBPE, store: FeatureStore, cfg: DecoderStageConfig,
                  ckpt: Path, log: Path) -> dict:
    content_head = ContentHead(model.text_cfg.hidden_size)  # training only, not exported
    vision_side = text_side(model.vision)
    modules = [*vision_side.values(), model.embed_tokens, model.decoder, content_head]
    keys = (*vision_side, "embed_tokens", "decoder", "content_head")
    optimizer = torch.optim.AdamW(param_groups(modules, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.95))
    step, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt)
        for m, key in zip(modules, keys):
            m.load_state_dict(state[key])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed_s"]
        say(f"[decoder] resuming at step {step}/{cfg.steps} from {ckpt}")
    progress = Progress("decoder", cfg.steps, log, start_step=step, elapsed_before=elapsed)
    for m in modules:
        m.train()
    window: dict[str, list[float]] = {}
    last_save = time.time()

    def save() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save({**{key: m.state_dict() for m, key in zip(modules, keys)},
                    "optimizer": optimizer.state_dict(), "step": step, "elapsed_s": progress.elapsed}, tmp)
        tmp.replace(ckpt)

    while step < cfg.steps:
        batch, cells = make_batch(store, tok, cfg, step)
        lr = lr_at(cfg, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, stats = packed_loss(model, batch, [project(model.vision, c, keep, xy) for c, keep, xy in cells], content_head=content_head,
                                  word_readout=cfg.word_readout)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for m in modules for p in m.parameters()], cfg.grad_clip)
        optimizer.step()
        if not math.isfinite(loss.item()):
            raise SystemExit(f"[decoder] non-finite loss at step {step}")
        step += 1
        for k, v in {"loss": loss.item(), **stats}.items():
            window.setdefault(k, []).append(v)
        if step % cfg.log_every == 0 or step == cfg.steps:
            values = {k: float(np.nanmean(v)) for k, v in window.items()}
            progress.update(step, cfg.batch * len(window["loss"]), lr=lr, background=round(background_fraction(cfg, step), 3), **values)
            window = {}
        if time.time() - last_save > CHECKPOINT_EVERY_S:
            save()
            last_save = time.time()
    save()
    for m in modules:
        m.eval()
    return {"steps": step, "wall_s": round(progress.elapsed, 1)}
