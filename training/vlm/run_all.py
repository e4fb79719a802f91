"""The whole Loupe-Synth pipeline for the GPU machine, in phases that each fit one
10-minute call:

    python -m training.vlm.run_all --out $OUT/conv --phase train-convllava,eval-export --minutes 6.5
    python -m training.vlm.run_all --out $OUT/vit --phase train-vit,eval-export --minutes 8
    python -m training.vlm.run_all --out /tmp/s --phase all --smoke        # CPU, everything, tiny

Each call trains one model and evaluates (and, for ConvLLaVA, exports) it in the same
call, so nothing has to survive between calls. eval-export scores whichever checkpoints
OUT holds. Writes OUT/{convllava,vit336}/ (checkpoints), OUT/results.jsonl (+ .items.jsonl),
OUT/bundle (or --bundle-out), OUT/golden, OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from . import evaluate as evaluate_mod
from . import export as export_mod
from . import train as train_mod

SPLITS = ("test-large", "test-small-detail")
CONV_RESOLUTIONS = "768,1024,1536,native"
SMOKE_RESOLUTIONS = "128,256,native"


def train_phase(model: str, out: Path, a) -> None:
    argv = ["--model", model, "--out", str(out / model), "--seed", str(a.seed)]
    if a.smoke:
        argv.append("--smoke")
    else:
        argv += ["--minutes", str(a.minutes), "--batch", str(a.batch), "--device", a.device, "--workers", str(a.workers)]
        if a.compile:
            argv.append("--compile")
    if a.source:
        argv += ["--source", a.source]
    train_mod.main(argv)


def eval_export_phase(out: Path, a) -> dict:
    results = out / "results.jsonl"
    for f in (results, Path(str(results) + ".items.jsonl")):
        f.unlink(missing_ok=True)
    ckpts = [out / m for m in ("convllava", "vit336") if (out / m / "model.pt").exists()]
    meta = json.loads((ckpts[0] / "config.json").read_text())
    long_side = meta["data"]["fake_long_side"]
    resolutions = (SMOKE_RESOLUTIONS + ",56" if a.smoke else CONV_RESOLUTIONS + ",336").split(",")
    budget = meta["data"]["token_budget"]
    summary_lines = []
    t0 = time.time()
    for split in SPLITS:
        summary_lines += evaluate_mod.evaluate(
            ckpts, split, resolutions, results, a.source or meta["data"]["source"], a.eval_limit,
            "cpu" if a.smoke else a.device, 1 if a.smoke else a.workers, 4 if a.smoke else 16, long_side, budget,
        )
    eval_s = time.time() - t0
    bundle = a.bundle_out or out / "bundle"
    argv = ["--ckpt", str(out / "convllava"), "--out", str(bundle), "--golden-dir", str(out / "golden"),
            "--fp32-dir", str(out / "bundle-fp32"), "--quality-scenes", "4" if a.smoke else "16"]
    if a.skip_node or shutil.which("node") is None:
        argv.append("--skip-node")
    if (out / "convllava" / "model.pt").exists():
        export_mod.main(argv)
    return {"eval_s": eval_s, "summary": [l for l in summary_lines if l.get("summary")], "bundle": str(bundle)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Train both models, evaluate, export (phased).")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--phase", default="all",
                   help="comma list of train-convllava, train-vit, eval-export; or all")
    p.add_argument("--minutes", type=float, default=8.5, help="training budget per model")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda")
    p.add_argument("--workers", type=int, default=14)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--source", choices=["auto", "synth", "fake"], default=None)
    p.add_argument("--eval-limit", type=int, default=None, help="scenes per test split (default: all)")
    p.add_argument("--bundle-out", type=Path, default=None)
    p.add_argument("--skip-node", action="store_true")
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args(argv)
    phases = {"train-convllava", "train-vit", "eval-export"} if a.phase == "all" else set(a.phase.split(","))
    unknown = phases - {"train-convllava", "train-vit", "eval-export"}
    if unknown:
        raise SystemExit(f"Unknown phase(s): {sorted(unknown)}")
    if a.smoke and a.eval_limit is None:
        a.eval_limit = 8
    a.out.mkdir(parents=True, exist_ok=True)
    summary_path = a.out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if "train-convllava" in phases:
        train_phase("convllava", a.out, a)
    if "train-vit" in phases:
        train_phase("vit336", a.out, a)
    for m in ("convllava", "vit336"):
        cfg = a.out / m / "config.json"
        if cfg.exists():
            meta = json.loads(cfg.read_text())
            summary[m] = {k: meta.get(k) for k in ("status", "steps", "scenes_seen", "final_loss_last50", "train_wall_s",
                                                   "hardware", "command", "parameters", "source")}
    if "eval-export" in phases:
        summary["evaluation"] = eval_export_phase(a.out, a)
    summary_path.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
