"""Train one Loupe-Synth model on the scene generator, on a time budget.

    python -m training.vlm.train --model convllava --out runs/convllava --minutes 9 --batch 32 --seed 0
    python -m training.vlm.train --model vit336 --out /tmp/smoke-vit --smoke     # CPU, ~1 min

Writes DIR/model.pt (float32 state dict), DIR/config.json (model + run + data config,
tokenizer size, final losses, wall time, hardware), DIR/tokenizer.json and
DIR/train_log.jsonl (one line per logged step).

Schedule: linear warmup over `warmup_steps`, then cosine to min_lr_ratio * lr over the
*time* budget (the number of steps a budget allows is not known in advance; with
--max-steps the cosine runs over steps instead).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from .config import MODEL_NAMES, DataConfig, TrainConfig, model_config, smoke_data_config
from .data import TrainBatches, load_source
from .model import build_model, count_parameters, init_for_training, save_checkpoint, training_loss
from .tokenizer import build_tokenizer, save_tokenizer

CHECKPOINT_EVERY_S = 120


def parse_args(argv=None) -> tuple[TrainConfig, DataConfig, Path]:
    p = argparse.ArgumentParser(description="Train a Loupe-Synth model (time-budgeted).")
    p.add_argument("--model", choices=MODEL_NAMES, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=None, help="scenes per step")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cuda", "cpu"], default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--source", choices=["auto", "synth", "fake"], default=None)
    p.add_argument("--questions-per-image", type=int, default=None)
    p.add_argument("--scene-reuse", type=int, default=None)
    p.add_argument("--compile", action="store_true", help="torch.compile the vision tower (torch 2.x)")
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--smoke", action="store_true", help="tiny model, small images, a few CPU steps")
    a = p.parse_args(argv)

    cfg = TrainConfig(model=a.model, seed=a.seed, smoke=a.smoke, compile=a.compile, bf16=not a.no_bf16)
    data = smoke_data_config() if a.smoke else DataConfig()
    if a.smoke:
        cfg.device, cfg.minutes, cfg.max_steps, cfg.batch, cfg.num_workers = "cpu", 1.5, 40, 4, 1
        cfg.warmup_steps, cfg.log_every, cfg.prefetch_factor, cfg.lr = 4, 5, 2, 3e-3
    for arg, field in [("minutes", "minutes"), ("max_steps", "max_steps"), ("batch", "batch"), ("lr", "lr"),
                       ("warmup_steps", "warmup_steps"), ("device", "device"), ("workers", "num_workers")]:
        if getattr(a, arg) is not None:
            setattr(cfg, field, getattr(a, arg))
    for arg in ("source", "questions_per_image", "scene_reuse"):
        if getattr(a, arg) is not None:
            setattr(data, arg, getattr(a, arg))
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch.cuda.is_available() is False (use --device cpu)")
    return cfg, data, a.out


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "embed_tokens" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def to_device(batch: dict, device: torch.device) -> dict:
    out = dict(batch)
    for key in ("input_ids", "labels", "row_image"):
        out[key] = batch[key].to(device, non_blocking=True)
    out["pixels"] = [p.to(device, non_blocking=True) for p in batch["pixels"]]
    return out


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    return f"CPU {platform.processor() or platform.machine()} x{torch.get_num_threads()} threads (torch {torch.__version__})"


def train(cfg: TrainConfig, data: DataConfig, out: Path) -> dict:
    t_start = time.time()
    out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device)

    source = load_source(data.source, data.fake_long_side)
    tok = build_tokenizer(source.corpus_texts())
    save_tokenizer(tok, out / "tokenizer.json")
    mcfg = model_config(cfg.model, len(tok.vocab), smoke=cfg.smoke)
    model = build_model(mcfg)
    init_for_training(model, mcfg, cfg.seed)
    model.to(device).train()
    params = count_parameters(model)
    print(f"[train] {cfg.model}: {json.dumps(params)} vocab {len(tok.vocab)} source {source.name}", flush=True)

    stride = mcfg.convnext.stride if mcfg.convnext is not None else mcfg.vit.patch_size
    dataset = TrainBatches(source, tok, cfg.model, stride, data, cfg.batch, cfg.seed)
    loader_kwargs = dict(batch_size=None, num_workers=cfg.num_workers, pin_memory=device.type == "cuda")
    if cfg.num_workers > 0:
        loader_kwargs["prefetch_factor"] = cfg.prefetch_factor
    loader = DataLoader(dataset, **loader_kwargs)

    use_fused = device.type == "cuda" and "fused" in torch.optim.AdamW.__init__.__code__.co_varnames
    optimizer = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **({"fused": True} if use_fused else {})
    )
    vision = model.vision
    if cfg.compile and hasattr(torch, "compile"):
        vision = torch.compile(model.vision)
    autocast = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.bf16 else None

    extra = {"train": asdict(cfg), "data": asdict(data), "source": source.name, "vocab_size": len(tok.vocab), "parameters": params}
    log = open(out / "train_log.jsonl", "w", encoding="utf-8")
    budget = cfg.minutes * 60
    t0 = time.time()
    step, scenes, rows, losses, recent = 0, 0, 0, [], []
    window = {"loss": 0.0, "n": 0, "scenes": 0, "rows": 0, "t": time.time(), "res": {}}
    last_ckpt = time.time()
    for batch in loader:
        elapsed = time.time() - t0
        if elapsed >= budget or (cfg.max_steps and step >= cfg.max_steps):
            break
        progress = step / cfg.max_steps if cfg.max_steps else elapsed / budget
        lr = lr_at(cfg, step, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(batch, device)
        sq_vision = vision if batch["resolution"] != "native" else model.vision  # compiled graphs want static shapes
        if autocast is not None:
            with autocast:
                loss, _ = training_loss(model, batch, sq_vision)
        else:
            loss, _ = training_loss(model, batch, sq_vision)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
        optimizer.step()

        value = float(loss.detach())
        if not math.isfinite(value):
            raise SystemExit(f"non-finite loss at step {step}")
        step += 1
        n_scenes = int(batch["row_image"].max()) + 1
        scenes += n_scenes
        rows += batch["row_image"].numel()
        losses.append(value)
        window["loss"] += value
        window["n"] += 1
        window["scenes"] += n_scenes
        window["rows"] += batch["row_image"].numel()
        window["res"][batch["resolution"]] = window["res"].get(batch["resolution"], 0) + 1
        if step % cfg.log_every == 0 or step == 1:
            dt = max(1e-9, time.time() - window["t"])
            entry = {
                "step": step, "loss": window["loss"] / window["n"], "lr": lr, "grad_norm": grad_norm,
                "samples_per_s": window["scenes"] / dt, "rows_per_s": window["rows"] / dt,
                "step_s": dt / window["n"], "elapsed_s": time.time() - t0, "resolutions": window["res"],
            }
            log.write(json.dumps(entry) + "\n")
            log.flush()
            print(f"[train] step {step} loss {entry['loss']:.4f} lr {lr:.2e} {entry['samples_per_s']:.1f} scenes/s "
                  f"{entry['step_s']:.3f} s/step {window['res']}", flush=True)
            window = {"loss": 0.0, "n": 0, "scenes": 0, "rows": 0, "t": time.time(), "res": {}}
        if time.time() - last_ckpt > CHECKPOINT_EVERY_S:
            save_checkpoint(out, model, mcfg, {**extra, "status": "running", "steps": step})
            last_ckpt = time.time()

    train_s = time.time() - t0
    tail = losses[-50:] or [float("nan")]
    summary = {
        "status": "done",
        "steps": step,
        "scenes_seen": scenes,
        "rows_seen": rows,
        "final_loss_last50": sum(tail) / len(tail),
        "final_loss_last": losses[-1] if losses else None,
        "train_wall_s": train_s,
        "total_wall_s": time.time() - t_start,
        "hardware": hardware(device),
        "command": " ".join([sys.executable, "-m", "training.vlm.train"] + sys.argv[1:]),
    }
    save_checkpoint(out, model, mcfg, {**extra, **summary})
    log.write(json.dumps({"final": summary}) + "\n")
    log.close()
    print(f"[train] done: {json.dumps(summary)}", flush=True)
    return summary


def main(argv=None) -> None:
    cfg, data, out = parse_args(argv)
    train(cfg, data, out)


if __name__ == "__main__":
    main()
