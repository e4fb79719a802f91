"""The training pipeline's smoke test (CI, `npm run test:train`, under 2 minutes):

1. derived questions have the answers `synth.checks` computes from the same scene;
2. packing several questions behind one image prefix trains exactly what separate rows
   would (same per-answer losses);
3. every stage of `npm run train` at tiny sizes, for the ConvLLaVA, the ViT control, MC-LLaVA
   and PIIP, through each export and its onnxruntime-web check, then the evaluation of the
   four checkpoints on two val scenes;
4. a run seeded with the exported bundle's tower (tower_from_bundle.py) resumes at its
   features stage;
5. PIIP's windows see exactly the low input the whole image gives them;
6. issue 12's comparison table and chart render what `npm run eval` measured.

    /usr/bin/python3 -m training.vlm.smoke_test [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from ..synth import sample
from ..synth.checks import expected
from ..synth.questions import Question
from ..tokenizer_bpe import IMAGE_ID
from .data import IGNORE, question_text
from .derived import derived_questions
from .packed import collate, pack_row, packed_loss
from .tokenizer import answer_ids, build_tokenizer, prompt_ids

REPO = Path(__file__).resolve().parents[2]


def check_derived(scenes: int = 30) -> int:
    """Re-asks every derived question through synth.checks.expected (the generator's own
    independent check of a question against the final scene)."""
    checked = 0
    for index in range(scenes):
        s = sample("train", index)
        for q in derived_questions(s.objects, s.image.width, random.Random(index), 40):
            text = q.question.split("\n")[0]
            question = Question(q.type, text, q.answer, [], q.options, dict(q.check or {}))
            truth, _ = expected(question, s.objects)
            given = q.options[ord(q.answer) - ord("A")] if q.options else q.answer
            if truth != given:
                raise AssertionError(f"train[{index}] {q.question!r}: derived {given!r}, the scene says {truth!r}")
            checked += 1
    return checked


def check_packing() -> float:
    """Per-answer losses of a packed row equal those of the same questions as separate rows."""
    from .pipeline import convllava_config
    from .model import build_model, init_for_training, splice, decoder_hidden

    s = sample("train", 3)
    tok = build_tokenizer([question_text(q) + " " + q.answer for q in s.questions])
    cfg = convllava_config(len(tok.vocab), smoke=True)
    model = build_model(cfg).eval()
    init_for_training(model, cfg, 0)
    n = 6
    feats = torch.randn(n, cfg.text.hidden_size)
    qa = [{"question": question_text(q), "answer": q.answer} for q in s.questions]
    with torch.no_grad():
        batch = collate([pack_row(tok, n, qa)])
        x = model.embed_tokens(batch["ids"])
        # packed: per-token losses
        from .packed import allowed_mask, packed_hidden

        x = x.masked_scatter((batch["ids"] == IMAGE_ID)[..., None].expand_as(x), feats)
        h, _, _ = packed_hidden(model.decoder, x, batch["pos"], allowed_mask(batch["seg"]))
        targets = batch["labels"][0, 1:]
        keep = targets != IGNORE
        packed = F.cross_entropy(model.decoder.lm_head(model.decoder.norm(h[0, :-1][keep])), targets[keep], reduction="none")
        separate = []
        for item in qa:
            ids = prompt_ids(tok, item["question"], n) + answer_ids(tok, item["answer"])
            labels = [IGNORE] * (len(ids) - len(answer_ids(tok, item["answer"]))) + answer_ids(tok, item["answer"])
            ids_t = torch.tensor([ids])
            e = splice(model, ids_t, [feats], torch.tensor([0]))
            hh = decoder_hidden(model.decoder, e)
            t = torch.tensor(labels[1:])
            k = t != IGNORE
            separate.append(F.cross_entropy(model.decoder.lm_head(model.decoder.norm(hh[0, :-1][k])), t[k], reduction="none"))
        separate = torch.cat(separate)
    diff = float((packed - separate).abs().max())
    if packed.shape != separate.shape or diff > 1e-4:
        raise AssertionError(f"packed and separate rows differ: {diff}")
    return diff


def check_pyramid_windows() -> float:
    """PIIP's windows: a window of the high input whose origin is even downscales to exactly
    the matching window of the whole low input (what lets windows train both branches)."""
    from .pyramid import low_input

    x = torch.randn(1, 3, 512, 512, generator=torch.Generator().manual_seed(0))
    whole = low_input(x)
    worst = 0.0
    for x0, y0, side in ((64, 128, 256), (16, 32, 64), (0, 0, 128)):
        window = low_input(x[:, :, y0:y0 + side, x0:x0 + side])
        worst = max(worst, float((window - whole[:, :, y0 // 2:(y0 + side) // 2, x0 // 2:(x0 + side) // 2]).abs().max()))
    if worst != 0.0:
        raise AssertionError(f"a high-input window's low input differs from the whole low input's window by {worst}")
    return worst


def check_one_run_per_directory() -> str:
    """Two pipelines on one work directory would write the same shards and checkpoints: the
    second is refused, naming the first."""
    from .pipeline import Recipe, Run
    with tempfile.TemporaryDirectory() as d:
        first = Run(Path(d), Recipe(), True, None, True)
        first.hold()
        try:
            Run(Path(d), Recipe(), True, None, True).hold()
        except SystemExit as refused:
            return str(refused)
    raise AssertionError("a second run on the same work directory was let in")


STOP_SWALLOWED = """
import os, signal, time
from training.vlm import pipeline
pipeline.STOP_GRACE_S = 1
signal.signal(signal.SIGTERM, pipeline.stop)
class Finaliser:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)  # the exit it raises here is only printed
Finaliser()
time.sleep(30)
print("outlived its SIGTERM")
"""


def check_stop_is_final() -> int:
    """A SIGTERM whose exit Python swallows (raised in a finaliser) still ends the run: the
    stop handler's alarm. Returns the signal that ended it."""
    done = subprocess.run([sys.executable, "-c", STOP_SWALLOWED], capture_output=True, text=True, timeout=20)
    if done.returncode != -signal.SIGALRM or "outlived" in done.stdout:
        raise AssertionError(f"stop(): exit {done.returncode}, {done.stdout!r} {done.stderr[-300:]!r}")
    return -done.returncode


def check_systems_report() -> int:
    """Issue 12's comparison table and chart (report_systems.py) from `npm run eval` lines: a row per
    (bundle, setting) in the systems' order, browser accuracy with PyTorch's beside it, a point per split."""
    from . import report_systems

    lines = []
    for model, setting, strategy, accuracy, ms in (("loupe-synth-mc", "mc16x576", "multicrop", 40.0, 900), ("loupe-synth", "768", "convllava-square", 37.5, 120),
                                                   ("loupe-synth", "1536", "convllava-square", 52.0, 700)):
        for split in report_systems.SPLITS:
            lines.append({"summary": True, "model": model, "strategy": strategy, "resolution": setting, "split": split, "n": 700,
                          "accuracy": accuracy, "encode_ms_mean": ms, "visual_tokens_mean": 576})
    # The 768 test-large file: its summary, then its compare line (as `npm run eval --out` writes them),
    # then another bundle at the same setting whose file has no PyTorch items: the pair stays with the first.
    lines.append(lines.pop(3))
    lines.append({"compare": True, "strategy": "convllava-square", "resolution": "768", "split": "test-large", "n": 700, "pytorch_accuracy": 38.25,
                  "browser_accuracy": 37.5, "same_prediction": 97.0})
    lines.append({"summary": True, "model": "loupe-synth-retrained", "strategy": "convllava-square", "resolution": "768", "split": "test-large", "n": 700,
                  "accuracy": 41.0, "encode_ms_mean": 120, "visual_tokens_mean": 576})
    rows = report_systems.collect(lines)
    body = report_systems.table(rows).splitlines()[2:]
    want = ["| ConvLLaVA | square 768 | 576 | 120 | **37.50** | **37.50** (38.25) | – / 97.0 % |",
            "| ConvLLaVA | square 1536 | 576 | 700 | **52.00** | **52.00** | – / – |",
            "| MC-LLaVA | max_crops 16, num_tokens 576 | 576 | 900 | **40.00** | **40.00** | – / – |",
            "| loupe-synth-retrained | square 768 | 576 | 120 | – | **41.00** | – / – |"]
    if body != want:
        raise AssertionError(f"systems table rows {body}, expected {want}")
    svg = report_systems.chart(rows)
    if svg.count("<title>") != 6 or svg != report_systems.chart(report_systems.collect(lines)):
        raise AssertionError("systems chart: expected a point per setting and split, the same bytes for the same lines")
    return len(body)


def run(cmd: list[str]) -> None:
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    print(f"[smoke] {' '.join(cmd[2:5])} ... ok in {time.time() - t0:.0f} s", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keep", type=Path, default=None, help="work here and keep the files")
    a = p.parse_args(argv)
    t0 = time.time()
    print(f"[smoke] derived questions: {check_derived()} answers agree with synth.checks", flush=True)
    print(f"[smoke] packed rows = separate rows (max loss difference {check_packing():.2e})", flush=True)
    print(f"[smoke] PIIP windows: low input of a window = window of the low input (max difference {check_pyramid_windows()})", flush=True)
    print(f"[smoke] systems comparison report: {check_systems_report()} rows", flush=True)
    print(f"[smoke] one run per work directory: {check_one_run_per_directory()}", flush=True)
    print(f"[smoke] a swallowed SIGTERM still ends the run (signal {check_stop_is_final()})", flush=True)
    work = a.keep or Path(tempfile.mkdtemp(prefix="loupe-train-smoke-"))
    py = sys.executable
    try:
        run([py, "-m", "training.vlm.pipeline", "--smoke", "--out", str(work / "conv"), "--bundle-out", str(work / "bundle")])
        # The other models share its tokenizer (a run reuses the one in its directory; building it reads 100 scenes).
        for model in ("vit", "mc", "piip"):
            (work / model).mkdir()
            shutil.copy(work / "conv" / "tokenizer.json", work / model / "tokenizer.json")
        run([py, "-m", "training.vlm.pipeline", "--smoke", "--model", "vit336", "--out", str(work / "vit"), "--bundle-out", str(work / "bundle-vit")])
        # Issue 12: MC-LLaVA (crops with coordinates) and PIIP (two-branch pyramid), each exported in
        # its family's layout and checked in onnxruntime-web.
        run([py, "-m", "training.vlm.pipeline", "--smoke", "--model", "mcllava", "--out", str(work / "mc"), "--bundle-out", str(work / "bundle-mc")])
        run([py, "-m", "training.vlm.pipeline", "--smoke", "--model", "piip", "--out", str(work / "piip"), "--bundle-out", str(work / "bundle-piip")])
        ckpts = [arg for model in ("conv", "vit", "mc", "piip") for arg in ("--ckpt", str(work / model / "checkpoint"))]
        run([py, "-m", "training.vlm.evaluate", *ckpts, "--split", "val", "--resolution", "128,56,native,pyramid256", "--token-budget", "16",
             "--knobs", "4x32,16x64", "--limit", "2", "--workers", "0", "--out", str(work / "results.jsonl")])
        lines = [json.loads(l) for l in (work / "results.jsonl").read_text().splitlines()]
        runs = {(l["model"], l["resolution"]) for l in lines if l.get("summary")}
        want = {("convllava", "128"), ("convllava", "native"), ("vit336", "56"), ("mcllava", "mc4x32"), ("mcllava", "mc16x64"), ("piip", "pyramid128"),
                ("piip", "pyramid256")}
        if runs != want:
            raise AssertionError(f"evaluation summaries for {sorted(runs)}, expected {sorted(want)}")
        # A run can resume at its features stage from a bundle's tower (tower_from_bundle.py).
        run([py, "-m", "training.vlm.tower_from_bundle", "--smoke", "--bundle", str(work / "bundle"), "--out", str(work / "again"),
             "--stages-from", str(work / "conv" / "summary.json")])
        run([py, "-m", "training.vlm.pipeline", "--smoke", "--out", str(work / "again"), "--until", "features"])
        # bench/gpu.sh's PyTorch anchor: the bundle's tower rebuilt, checked, timed (here on the CPU).
        eager = subprocess.run([py, "-m", "training.eager_bench", "--bundle", str(work / "bundle"), "--device", "cpu",
                                "--dtypes", "fp32", "--sizes", "128", "--runs", "1"], check=True, capture_output=True, text=True).stdout
        records = [json.loads(l) for l in eager.splitlines()]
        if not (records[0].get("ok") and any(r.get("stage") == "encode" and r["visual_tokens"] == 4 for r in records)):
            raise AssertionError(f"training.eager_bench: {eager}")
        for model in ("conv", "vit", "mc", "piip"):
            golden = json.loads((work / model / "golden" / "golden.json").read_text())
            if "onnxruntime_web" not in golden:
                raise AssertionError(f"the {model} export did not record its onnxruntime-web check")
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"[smoke] all passed in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
