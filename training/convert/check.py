"""CI check (`npm run test:train`): converting the committed tiny ConvLLaVA-sft checkpoint
gives the committed bundle, byte for byte, and its tokenizer.json encodes like the
checkpoint's SentencePiece model on the golden samples.

    /usr/bin/python3 -m training.convert.check
"""

from __future__ import annotations

import filecmp
import json
import tempfile
import time
from pathlib import Path

from .__main__ import convert
from .goldens import BUNDLE, FIXTURES


def main() -> None:
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bundle"
        convert(FIXTURES / "convllava-sft", out, "q4", None)
        files = sorted(p.relative_to(BUNDLE) for p in BUNDLE.rglob("*") if p.is_file())
        differ = [str(f) for f in files if not filecmp.cmp(BUNDLE / f, out / f, shallow=False)]
        if differ or sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) != files:
            raise SystemExit(f"npm run convert no longer gives the committed bundle ({differ}); run python -m training.convert.goldens")
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(FIXTURES / "convllava-sft/tokenizer.model"))
    golden = json.loads((FIXTURES / "golden.json").read_text())
    for sample in golden["sentencepiece_samples"]:
        if sp.encode(sample["text"]) != sample["ids"]:
            raise SystemExit(f"SentencePiece ids changed for {sample['text']!r}")
    print(f"[convert] tiny ConvLLaVA-sft -> {len(files)} bundle files identical to the committed ones ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
