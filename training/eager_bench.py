"""PyTorch eager on the bundle's own vision encoder: the anchor `bench/gpu.sh` sets beside
onnxruntime-web's WebGPU path in Node (issue #15).

    /usr/bin/python3 -m training.eager_bench --bundle public/models/loupe-synth --device cuda \
        --dtypes fp32,fp16 --sizes 768,1024,1536,2048,3072 --runs 5

The tower (ConvNeXt + projector) is rebuilt from the bundle's fp32 `vision_encoder.onnx`
(tower_from_bundle.load_tower) and must give the graph's features on onnxruntime-node to 1e-5
of the largest before anything is timed. Each size: a warm-up run, then `--runs` timed runs of
a 1 x 3 x size x size input, synchronised and including the copy of the features to the host
(as the WebGPU path's read-back). One JSON line per measurement, in `npm run bench`'s fields.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

import onnx
import torch

from .loupe_models import ConvNeXtConfig
from .tiny_model import VisionTower
from .vlm.tower_from_bundle import check_with_onnxruntime, load_tower

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def rebuild(bundle: Path) -> tuple[VisionTower, float]:
    """The tower of `bundle` in PyTorch, and its largest difference to onnxruntime-node."""
    config = json.loads((bundle / "config.json").read_text())
    vision = config["vision_config"]
    graph_path = bundle / "onnx" / "vision_encoder.onnx"
    graph = onnx.load(str(graph_path), load_external_data=False).graph
    # The exporter writes the fixed sin-cos position code (ConvNeXtConfig.position_code) as Sin/Cos nodes.
    position = 1.0 if any(n.op_type == "Sin" for n in graph.node) else 0.0
    cfg = ConvNeXtConfig(hidden_sizes=vision["hidden_sizes"], depths=vision["depths"], patch_size=vision.get("patch_size", 4),
                         layer_norm_eps=vision.get("layer_norm_eps", 1e-6), position_code=position)
    tower = VisionTower(cfg, config["text_config"]["hidden_size"])
    load_tower(tower, graph_path)
    tower.eval()
    diff = check_with_onnxruntime(tower, graph_path, size=cfg.stride * 4)
    if not diff < 1e-5:
        raise SystemExit(f"the rebuilt tower differs from {graph_path} by {diff:.2e} of its largest feature")
    return tower, diff


def time_encoder(tower: VisionTower, size: int, runs: int, device: torch.device, dtype: torch.dtype) -> tuple[list[float], int]:
    pixels = torch.full((1, 3, size, size), 0.25, device=device, dtype=dtype)
    samples = []
    tokens = 0
    with torch.no_grad():
        for i in range(runs + 1):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            features = tower(pixels).float().cpu()
            ms = (time.perf_counter() - started) * 1000
            tokens = features.shape[1]
            if i > 0:
                samples.append(ms)
    return samples, tokens


def machine(device: torch.device) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return info


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", type=Path, default=Path("public/models/loupe-synth"))
    p.add_argument("--sizes", default="768,1024,1536,2048,3072")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtypes", default="fp32,fp16")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (torch.cuda.is_available() is False)")
    tower, diff = rebuild(a.bundle)
    print(json.dumps({"machine": machine(device), "check": "rebuilt tower vs onnxruntime-node cpu", "max_rel_diff": diff, "ok": True}), flush=True)
    model = a.bundle.name
    for name in a.dtypes.split(","):
        if name not in DTYPES:
            raise SystemExit(f"--dtypes: {name!r} is not one of {', '.join(DTYPES)}")
        if device.type == "cpu" and name == "fp16":
            print(json.dumps({"runtime": "pytorch eager", "provider": "cpu", "dtype": name, "skipped": "fp16 convolutions need a GPU"}), flush=True)
            continue
        converted = copy.deepcopy(tower).to(device=device, dtype=DTYPES[name])
        for size in map(int, a.sizes.split(",")):
            samples, tokens = time_encoder(converted, size, a.runs, device, DTYPES[name])
            median = statistics.median(samples)
            print(json.dumps({"runtime": "pytorch eager", "provider": device.type, "model": model, "dtype": name,
                              "strategy": "convllava-square", "resolution": size, "stage": "encode", "visual_tokens": tokens,
                              "ms": median, "runs": len(samples), "min": min(samples), "median": median, "max": max(samples)}), flush=True)
        del converted


if __name__ == "__main__":
    main()
