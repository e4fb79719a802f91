"""Score checkpoints on a held-out split, per question type, per input size.

    python -m training.vlm.evaluate --ckpt runs/convllava --split test-small-detail \
        --resolution 768,1024,1536,native --out results.jsonl

Several --ckpt and a comma list of resolutions share one pass over the scenes (each is
rendered once). Open answers: greedy decoding (max 8 new tokens), exact match after
normalising case, whitespace and punctuation. Multiple-choice items are scored twice:
greedy (the letter it writes) and V*-style (`likelihood`: the option whose tokens have
the lowest mean cross-entropy after the question without its option list).

Writes JSON lines {"model","strategy","resolution","split","type","scoring","n","accuracy"}
and per (model, resolution) a summary line, to --out and stdout; per-item predictions
go to <out>.items.jsonl (what the browser evaluation can be compared with item by item).
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch is imported: the re-executed process imports it once
    from .malloc import reexec_keeping_freed_memory

    reexec_keeping_freed_memory("training.vlm.evaluate")

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .data import EvalScenes, Strategy, group_by_shape, load_source, parse_knobs, parse_strategy
from .model import encode_inputs, greedy, image_features, left_pad, load_checkpoint, option_losses, prefill
from .tokenizer import load_tokenizer, prompt_ids

MAX_NEW_TOKENS = 8
_PUNCT = re.compile(r"[^\w\s]")


def normalise_answer(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def question_stem(question: str) -> str:
    """The question without a listed (A)..(D) block, for likelihood scoring."""
    cut = question.find("(A)")
    return question[:cut].strip() if cut > 0 else question


class Scorer:
    """One model (checkpoint) and the strategies it is evaluated at."""

    def __init__(self, ckpt: Path, resolutions: list[str], device: torch.device, token_budget: int, knobs: str | None = None):
        self.model, self.cfg, self.meta = load_checkpoint(ckpt, str(device))
        self.tok = load_tokenizer(ckpt / "tokenizer.json")
        self.name = self.cfg.name
        self.stride = self.cfg.convnext.stride if self.cfg.convnext is not None else self.cfg.vit.patch_size
        if self.cfg.multicrop is not None:
            default = f"{self.cfg.multicrop['max_crops']}x{self.cfg.multicrop['num_tokens']}"
            self.strategies = parse_knobs(knobs or default, self.cfg.vit.image_size)
            return
        if self.cfg.vit is not None:
            keep = [r for r in resolutions if r == str(self.cfg.vit.image_size)]
            if not keep:
                print(f"[eval] {self.name}: a ViT runs only at {self.cfg.vit.image_size}; using that", file=sys.stderr)
                keep = [str(self.cfg.vit.image_size)]
            resolutions = keep
        else:
            # PIIP plans padded squares only ("1536" or "pyramid1536"); "pyramid…" is PIIP's alone.
            pyramid = self.cfg.pyramid is not None
            resolutions = [r for r in resolutions if (r != "native" if pyramid else not r.startswith("pyramid"))]
            skip = [r for r in resolutions if r != "native" and int(r.removeprefix("pyramid")) % self.stride]
            if skip:
                print(f"[eval] {self.name}: skipping {skip} (not multiples of stride {self.stride})", file=sys.stderr)
            resolutions = [r for r in resolutions if r not in skip]
        self.strategies = [parse_strategy(self.name, r, token_budget) for r in resolutions]


@torch.no_grad()
def score_chunk(scorer: Scorer, strategy: Strategy, scenes: list[dict], device, autocast, records: list[dict]) -> None:
    model, tok = scorer.model, scorer.tok
    if strategy.kind == "multicrop":  # each scene is its own batch of crops
        with autocast():
            per_image = [encode_inputs(model, s["pixels"][strategy])[1] for s in scenes]
    else:
        pixels = [s["pixels"][strategy].to(device) for s in scenes]
        stacks, groups = group_by_shape(pixels)
        with autocast():
            per_image = image_features(model, model.vision, stacks, groups, len(pixels))
    rows, row_image, items = [], [], []
    for i, scene in enumerate(scenes):
        n = per_image[i].shape[0]
        for q in scene["qa"]:
            rows.append(prompt_ids(tok, q["question"], n))
            row_image.append(i)
            items.append((scene, q))
    ids, mask, pos = left_pad(rows, device)
    row_image_t = torch.tensor(row_image)
    with autocast():
        last, past = prefill(model, ids, mask, pos, per_image, row_image_t)
        outs = greedy(model, last, past, mask, pos, MAX_NEW_TOKENS)
    del past
    # V*-style: the bare question, then each option's text as the answer.
    mc = [k for k, (_, q) in enumerate(items) if q["options"] and q["correct_option"] is not None]
    likelihood: dict[int, int] = {}
    if mc:
        stems = [prompt_ids(tok, question_stem(items[k][1]["question"]), per_image[row_image[k]].shape[0]) for k in mc]
        s_ids, s_mask, s_pos = left_pad(stems, device)
        with autocast():
            s_last, s_past = prefill(model, s_ids, s_mask, s_pos, per_image, torch.tensor([row_image[k] for k in mc]))
            for j, k in enumerate(mc):
                options = [tok.encode(" " + o) for o in items[k][1]["options"]]
                losses = option_losses(model, s_last, s_past, s_mask, s_pos, j, options)
                likelihood[k] = min(range(len(losses)), key=losses.__getitem__)
    for k, ((scene, q), out) in enumerate(zip(items, outs)):
        text = tok.decode(out).strip()
        record = {
            "model": scorer.name, "strategy": strategy.kind, "resolution": strategy.label, "index": scene["index"],
            "type": q["type"], "question": q["question"], "answer": q["answer"], "prediction": text,
            "correct": normalise_answer(text) == normalise_answer(q["answer"]),
        }
        if k in likelihood:
            record["likelihood_choice"] = likelihood[k]
            record["likelihood_correct"] = likelihood[k] == q["correct_option"]
        records.append(record)


def aggregate(records: list[dict], split: str) -> list[dict]:
    buckets: dict[tuple, list[bool]] = defaultdict(list)
    for r in records:
        key = (r["model"], r["strategy"], r["resolution"])
        buckets[key + (r["type"], "greedy")].append(r["correct"])
        buckets[key + ("all", "greedy")].append(r["correct"])
        if "likelihood_correct" in r:
            buckets[key + (r["type"], "likelihood")].append(r["likelihood_correct"])
    lines = []
    for (model, strategy, resolution, qtype, scoring), hits in sorted(buckets.items()):
        if qtype == "all":
            continue
        lines.append({"model": model, "strategy": strategy, "resolution": resolution, "split": split, "type": qtype,
                      "scoring": scoring, "n": len(hits), "accuracy": round(100 * sum(hits) / len(hits), 2)})
    for (model, strategy, resolution, qtype, scoring), hits in sorted(buckets.items()):
        if qtype != "all":
            continue
        mc = [r["likelihood_correct"] for r in records
              if (r["model"], r["strategy"], r["resolution"]) == (model, strategy, resolution) and "likelihood_correct" in r]
        lines.append({"summary": True, "model": model, "strategy": strategy, "resolution": resolution, "split": split,
                      "n": len(hits), "accuracy": round(100 * sum(hits) / len(hits), 2),
                      "mc_n": len(mc), "mc_likelihood_accuracy": round(100 * sum(mc) / len(mc), 2) if mc else None})
    return lines


def evaluate(ckpts: list[Path], split: str, resolutions: list[str], out: Path | None, source_name: str = "auto",
             limit: int | None = None, device: str = "cpu", workers: int = 2, chunk: int = 16,
             fake_long_side=(1500, 4000), token_budget: int = 576, knobs: str | None = None) -> list[dict]:
    dev = torch.device(device)
    scorers = [Scorer(c, resolutions, dev, token_budget, knobs) for c in ckpts]
    source = load_source(source_name, fake_long_side)
    count = limit or source.split_size(split)
    if not count:
        raise SystemExit(f"the source does not say how large split {split!r} is: pass --limit")
    strategies = sorted({s for sc in scorers for s in sc.strategies}, key=lambda s: (s.kind, s.size, s.max_crops, s.num_tokens))
    loader = DataLoader(EvalScenes(source, split, count, strategies), batch_size=None, num_workers=workers)
    if dev.type == "cuda":
        autocast = lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)  # noqa: E731
    else:
        import contextlib

        autocast = contextlib.nullcontext
    records: list[dict] = []
    t0 = time.time()
    pending: list[dict] = []
    done = 0
    for scene in loader:
        pending.append(scene)
        if len(pending) == chunk or done + len(pending) == count:
            for sc in scorers:
                for st in sc.strategies:
                    score_chunk(sc, st, pending, dev, autocast, records)
            done += len(pending)
            pending = []
            spent = time.time() - t0
            print(f"[eval] {split}: {done}/{count} scenes, {spent:.0f} s, ETA {spent / done * (count - done):.0f} s",
                  file=sys.stderr, flush=True)
    for sc in scorers if pending else []:  # a source that yielded fewer scenes than it said
        for st in sc.strategies:
            score_chunk(sc, st, pending, dev, autocast, records)
    lines = aggregate(records, split)
    for line in lines:
        print(json.dumps(line), flush=True)
    print(f"[eval] {split}: {count} scenes, {len(records)} answers in {time.time() - t0:.1f} s", file=sys.stderr)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        with open(str(out) + ".items.jsonl", "a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps({"split": split, **r}) + "\n")
    return lines


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Evaluate Loupe-Synth checkpoints on a held-out split.")
    p.add_argument("--ckpt", type=Path, action="append", required=True, help="checkpoint dir (repeatable)")
    p.add_argument("--split", required=True, help="test-large | test-small-detail | val")
    p.add_argument("--resolution", default="1536", help="comma list of 768,1024,1536,native,336")
    p.add_argument("--out", type=Path, default=None, help="append JSON lines here")
    p.add_argument("--source", choices=["auto", "synth", "fake"], default="auto")
    p.add_argument("--limit", type=int, default=None, help="scenes (default: the split's size)")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunk", type=int, default=16, help="scenes per forward pass")
    p.add_argument("--token-budget", type=int, default=576, help="native-aspect token budget")
    p.add_argument("--knobs", default=None, help="MC-LLaVA: comma list of max_crops x num_tokens, e.g. 4x144,16x576 "
                   "(default: the checkpoint's)")
    a = p.parse_args(argv)
    first = json.loads((a.ckpt[0] / "config.json").read_text())
    long_side = first.get("data", {}).get("fake_long_side", (1500, 4000))
    evaluate(a.ckpt, a.split, a.resolution.split(","), a.out, a.source, a.limit, a.device, a.workers, a.chunk,
             long_side, a.token_budget, a.knobs)


if __name__ == "__main__":
    main()
