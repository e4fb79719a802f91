"""CI check (`npm run test:train`): converting the committed tiny ConvLLaVA-sft, MC-LLaVA
and PIIP-LLaVA checkpoints gives the committed bundles, byte for byte, and SentencePiece
still encodes the golden samples as recorded.

    /usr/bin/python3 -m training.convert.check
"""

from __future__ import annotations

import filecmp
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from .__main__ import convert
from .goldens import BUNDLE, FIXTURES, MC_BUNDLE, PIIP_BUNDLE
from .tiny_release import write_safetensors


def as_safetensors(sft: Path, out: Path) -> None:
    """The same checkpoint as `model-0000k-of-00002.safetensors` shards + index."""
    shutil.copytree(sft, out, ignore=shutil.ignore_patterns("pytorch_model*"))
    index = json.loads((sft / "pytorch_model.bin.index.json").read_text())
    weight_map = {}
    for k, shard in enumerate(sorted(sft.glob("pytorch_model-*.bin")), start=1):
        name = f"model-{k:05d}-of-00002.safetensors"
        state = torch.load(shard)
        write_safetensors(state, out / name)
        weight_map.update({key: name for key in state})
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": index["metadata"], "weight_map": weight_map}))


def same_bundle(out: Path, bundle: Path = BUNDLE) -> list[str]:
    files = sorted(p.relative_to(bundle) for p in bundle.rglob("*") if p.is_file())
    differ = [str(f) for f in files if not (out / f).exists() or not filecmp.cmp(bundle / f, out / f, shallow=False)]
    extra = [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.relative_to(out) not in files]
    return differ + extra


def main() -> None:
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for source in ("bin", "safetensors"):
            sft = FIXTURES / "convllava-sft"
            if source == "safetensors":
                sft = Path(tmp) / "sft-safetensors"
                as_safetensors(FIXTURES / "convllava-sft", sft)
            out = Path(tmp) / f"bundle-{source}"
            convert(sft, out, "fp32", None)
            convert(sft, out, "q4", None)
            differ = same_bundle(out)
            if differ:
                raise SystemExit(f"npm run convert from {source} shards no longer gives the committed bundle ({differ}); "
                                 "run python -m training.convert.goldens")
        for release, bundle, what in (("mcllava", MC_BUNDLE, "MC-LLaVA"), ("piip-llava", PIIP_BUNDLE, "PIIP-LLaVA")):
            out = Path(tmp) / f"bundle-{release}"
            convert(FIXTURES / release, out, "fp32", None)
            convert(FIXTURES / release, out, "q4", None)
            differ = same_bundle(out, bundle)
            if differ:
                raise SystemExit(f"npm run convert of the {what} release no longer gives the committed bundle ({differ})")
        files = list(BUNDLE.rglob("*.*")) + list(MC_BUNDLE.rglob("*.*")) + list(PIIP_BUNDLE.rglob("*.*"))
    # A PIIP tower config is read, never run: anything but literals and dict(...) is refused.
    from .piip_config import read_tower_config

    with tempfile.TemporaryDirectory() as tmp:
        hostile = Path(tmp) / "tower.py"
        hostile.write_text("model = dict(backbone=dict(n_points=__import__('os').system('echo ran')))\n")
        try:
            read_tower_config(hostile)
        except SystemExit as refused:
            if "only literals" not in str(refused):
                raise
        else:
            raise SystemExit("a PIIP tower config with a call in it was read instead of refused")
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(FIXTURES / "convllava-sft/tokenizer.model"))
    golden = json.loads((FIXTURES / "golden.json").read_text())
    for sample in golden["sentencepiece_samples"]:
        if sp.encode(sample["text"]) != sample["ids"]:
            raise SystemExit(f"SentencePiece ids changed for {sample['text']!r}")
    print(f"[convert] tiny ConvLLaVA-sft (from .bin and from safetensors shards), MC-LLaVA and PIIP-LLaVA -> {len(files)} bundle files "
          f"identical to the committed ones ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
