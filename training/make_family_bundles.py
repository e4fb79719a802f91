"""Build tiny random bundles in the layouts of published browser VLMs, with golden values:

    /usr/bin/python3 -m training.make_family_bundles            (from the repo root)

- `public/models/tiny-random-fastvlm/`  (onnx-community/FastVLM-0.5B-ONNX layout)
- `public/models/tiny-random-llava15/`  (llava-hf/llava-1.5 layout, CLIP ViT/14)
- `public/models/tiny-random-mcllava/`  (MC-LLaVA: SigLIP-style crops with coords, families/mcllava.py)
- `public/models/tiny-random-piip/`  (PIIP: two ConvNeXt branches, deformable interactions, families/piip_bundle.py)

and `e2e/fixtures/<name>/` for each. Every module ships fp32, q4, fp16 and q4f16. A
seed is accepted when PyTorch's greedy output is clear-cut (see families/build.py) and
onnxruntime-node gives the same 16 tokens with every variant. See training/README.md.
"""

from __future__ import annotations

import argparse
import json

from .families import fastvlm, llava15, mcllava, piip_bundle
from .families.build import build

FAMILIES = {"fastvlm": (fastvlm.family, 0), "llava15": (llava15.family, 0), "mcllava": (None, 0), "piip": (None, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(FAMILIES), help="build one family")
    parser.add_argument("--skip-node", action="store_true", help="no onnxruntime measurement (first screened seed)")
    args = parser.parse_args()
    for key, (make, first_seed) in FAMILIES.items():
        if args.only and key != args.only:
            continue
        if key in ("mcllava", "piip"):
            golden = (mcllava if key == "mcllava" else piip_bundle).build(first_seed)
            print(json.dumps({key: {k: golden.get(k) for k in ("seed", "greedy_ids", "min_top2_margin")}}))
            continue
        golden = build(make(), first_seed, skip_node=args.skip_node)
        summary = {k: golden.get(k) for k in ("seed", "greedy_ids", "min_top2_margin", "ort_fp32_max_abs_diff")}
        print(json.dumps({key: summary}))


if __name__ == "__main__":
    main()
