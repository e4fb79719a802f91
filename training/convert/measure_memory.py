"""Peak memory of `npm run convert --dtype q4`, measured on synthetic ConvLLaVA-sft
checkpoints in the released format (bf16 `.bin` shards + index) that are large enough for
the terms that grow with the model to dominate, to estimate the 7B conversion (which cannot
be run here: no checkpoint, and 15 GB of shards).

    /usr/bin/python3 -m training.convert.measure_memory [--out results.json]

Two runs, each with one part scaled up: `tower` (ConvLLaVA's 5-stage ConvNeXt widths with
fewer blocks, 133 M parameters; a tiny decoder) and `decoder` (Vicuna-7B's width, MLP and
vocabulary, 2 of its 32 layers; a tiny tower). Each runs the converter in a child process
and reads its peak RSS (VmHWM; with the peak after each phase); a child that only imports
torch and onnx gives the baseline. To 7B: the tower phase scales with the tower's
parameters (665 M); the decoder run already has 7B's layers and lm_head, so only the
largest shard grows (to 9.98 GB; torch.load holds one shard at 1.0x its bytes, and each q4
block goes to disk as it is made).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .tiny_release import OUT as FIXTURES, language_state, tower_state, write_bin_shards

GB = 1e9
# ConvLLaVA-sft-7B (REAL-MODELS.md): the larger bf16 shard, the ConvNeXt tower's parameters.
SEVEN_B = {"largest_shard_bytes": 9.98 * GB, "tower_params": 665e6}


def write_checkpoint(root: Path, widths: list[int], depths: list[int], hidden: int, inner: int, layers: int, vocab: int) -> dict:
    """A ConvLLaVA-sft directory with the fixture's key names at these sizes: the language keys
    split over two bf16 shards, the tower in the second."""
    gen = torch.Generator().manual_seed(0)
    root.mkdir(parents=True)
    text = {"hidden_size": hidden, "intermediate_size": inner, "num_hidden_layers": layers}
    language = {k: v.to(torch.bfloat16) for k, v in language_state(gen, text, vocab, widths[-1]).items()}
    tower = {f"model.vision_tower.vision_tower.{k}": v.to(torch.bfloat16) for k, v in tower_state(gen, widths, depths).items()}
    keys = list(language)
    first = {k: language.pop(k) for k in keys[: len(keys) // 2]}
    write_bin_shards(root, {"pytorch_model-00001-of-00002.bin": first, "pytorch_model-00002-of-00002.bin": {**language, **tower}})
    tower_params = sum(v.numel() for v in tower.values())
    del first, language, tower
    config = json.loads((FIXTURES / "convllava-sft/config.json").read_text())
    config.update({"hidden_size": hidden, "intermediate_size": inner, "num_hidden_layers": layers, "num_attention_heads": hidden // 128,
                   "num_key_value_heads": hidden // 128, "vocab_size": vocab, "mm_hidden_size": widths[-1]})
    (root / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        shutil.copy(FIXTURES / "convllava-sft" / name, root / name)
    shards = sorted(root.glob("pytorch_model-*.bin"))
    return {"tower_params": tower_params, "largest_shard_bytes": max(p.stat().st_size for p in shards),
            "lm_head_fp32_bytes": vocab * hidden * 4, "checkpoint_bytes": sum(p.stat().st_size for p in shards)}


def _child_peak(args: list[str]) -> tuple[float, float, dict[str, int]]:
    """(peak RSS in bytes, seconds, peak so far after each converter phase) of one child
    process: a fresh interpreter that reports its own VmHWM (ru_maxrss would carry this
    process's peak over fork + exec)."""
    code = (
        "import runpy, sys\n"
        "args = sys.argv[1:]\n"
        "if args[0] == '-c':\n    exec(args[1])\n"
        "else:\n    sys.argv = args\n    runpy.run_module(args[0], run_name='__main__', alter_sys=True)\n"
        "from training.convert.__main__ import peak_rss_bytes\n"
        "print('PEAK', peak_rss_bytes(), file=sys.stderr)\n"
    )
    start = time.time()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "LOUPE_CONVERT_PHASES": "1"})
    peak = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK")))
    phases = {line[6:].rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in done.stderr.splitlines() if line.startswith("PHASE ")}
    return peak, time.time() - start, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    baseline, _, _ = _child_peak(["-c", "import torch, onnx, numpy, sentencepiece"])
    runs = {
        # A 5-stage ConvNeXt at ConvLLaVA's widths, fewer blocks (133 M parameters), tiny decoder.
        "tower": dict(widths=[192, 384, 768, 1536, 3072], depths=[1, 1, 3, 1, 1], hidden=256, inner=512, layers=2, vocab=1000),
        # Vicuna-7B's width, MLP and vocabulary (its lm_head and layers exactly), 2 of its 32 layers.
        "decoder": dict(widths=[8, 16, 24, 32, 48], depths=[1, 1, 1, 1, 1], hidden=4096, inner=11008, layers=2, vocab=32000),
    }
    results = {"baseline_rss_bytes": baseline}
    for name, sizes in runs.items():
        with tempfile.TemporaryDirectory() as tmp:
            info = write_checkpoint(Path(tmp) / "ckpt", **sizes)
            peak, seconds, phases = _child_peak(["training.convert", "--from", f"{tmp}/ckpt", "--to", f"{tmp}/bundle", "--dtype", "q4"])
            results[name] = {**sizes, **info, "peak_rss_bytes": peak, "peak_rss_after_phase": phases, "seconds": round(seconds, 1)}
        print(json.dumps({name: results[name]}), flush=True)
    t, d = results["tower"], results["decoder"]
    # At 7B: the tower's phases grow with its parameters; the decoder run already has the
    # real layer and lm_head sizes, so only the shard grows (torch.load holds one shard,
    # 1.0x its bytes; every q4 block goes to disk as it is made).
    tower_phase = baseline + (t["peak_rss_bytes"] - baseline) * SEVEN_B["tower_params"] / t["tower_params"]
    decoder_phase = d["peak_rss_bytes"] + SEVEN_B["largest_shard_bytes"] - d["largest_shard_bytes"]
    results["convllava_7b_estimate_gb"] = {"tower_phase": round(tower_phase / GB, 1), "decoder_phase": round(decoder_phase / GB, 1),
                                           "peak": round(max(tower_phase, decoder_phase) / GB, 1)}
    print(json.dumps({k: results[k] for k in ("baseline_rss_bytes", "convllava_7b_estimate_gb")}))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
