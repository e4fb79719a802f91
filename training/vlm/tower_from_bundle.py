"""Seed a pipeline work directory with the shipped bundle's vision tower, so `npm run train`
resumes at the features stage: a text-side recipe change then costs the features, decoder and
export stages (41 min here on 2 cores) instead of the whole run (1 h 27 min).

    /usr/bin/python3 -m training.vlm.tower_from_bundle --out training/runs/convllava
    /usr/bin/python3 -m training.vlm.pipeline --out training/runs/convllava

The fp32 `vision_encoder.onnx` holds the tower's weights exactly: named initializers for
every convolution, norm and bias, and the pointwise layers' weights transposed as the
exporter's unnamed `onnx::MatMul_*` inputs, in module order. Each is copied into the
pipeline's freshly built model, and the rebuilt tower must give the graph's own features on
onnxruntime-node (within 1e-5 of the largest) before anything is written. The windows and
encoder stages are recorded done with the wall times of the run that trained that tower
(--stages-from, by default the shipped model's training/results/train_summary.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .pipeline import REPO, Recipe, Run, smoke_recipe, tokenizer_and_model

BUNDLE = REPO / "public" / "models" / "loupe-synth"


def onnx_weights(path: Path) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Named initializers, and the unnamed MatMul weights in the order the graph uses them."""
    graph = onnx.load(str(path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    matmuls = [inits[n.input[1]] for n in graph.node if n.op_type == "MatMul" and n.input[1].startswith("onnx::")]
    return inits, matmuls


def load_tower(vision: torch.nn.Module, path: Path) -> int:
    """Copies the graph's weights into `vision` (encoder and projector); returns how many tensors."""
    named, matmuls = onnx_weights(path)
    state = vision.state_dict()
    linear_weights = [k for k in state if k.endswith(".weight") and k not in named and state[k].dim() == 2]
    if len(linear_weights) != len(matmuls):
        raise SystemExit(f"{path}: {len(matmuls)} unnamed MatMul weights for {len(linear_weights)} linear layers")
    loaded = {k: torch.from_numpy(named[k].copy()) for k in state if k in named}
    for key, w in zip(linear_weights, matmuls):
        if tuple(w.T.shape) != tuple(state[key].shape):
            raise SystemExit(f"{path}: {key} is {tuple(state[key].shape)}, the graph's weight {w.shape} transposed is not")
        loaded[key] = torch.from_numpy(np.ascontiguousarray(w.T))
    missing = [k for k in state if k not in loaded]
    if missing:
        raise SystemExit(f"{path}: no weights for {missing}")
    vision.load_state_dict(loaded)
    return len(loaded)


NODE_CHECK = """
const ort = require('onnxruntime-node');
const fs = require('fs');
const [graph, input, size] = process.argv.slice(1);
(async () => {
  const session = await ort.InferenceSession.create(graph);
  const data = new Float32Array(fs.readFileSync(input).buffer.slice(0));
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, +size, +size]) });
  process.stdout.write(Buffer.from(out[session.outputNames[0]].data.buffer));
})();
"""


def check_with_onnxruntime(vision: torch.nn.Module, graph: Path, size: int = 256) -> float:
    """Largest difference between the rebuilt tower and the graph itself on onnxruntime-node,
    relative to the largest feature (the projector's outputs reach a few hundred)."""
    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pixels.f32"
        path.write_bytes(pixels.numpy().astype("<f4").tobytes())
        raw = subprocess.run(["node", "-e", NODE_CHECK, str(graph), str(path), str(size)], cwd=REPO,
                             capture_output=True, check=True).stdout
    want = torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy())
    with torch.no_grad():
        got = vision(pixels).reshape(-1)
    if got.shape != want.shape:
        raise SystemExit(f"{graph}: {want.numel()} features from onnxruntime, {got.numel()} from the rebuilt tower")
    return float((got - want).abs().max() / want.abs().max())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "training" / "runs" / "convllava")
    p.add_argument("--bundle", type=Path, default=BUNDLE)
    p.add_argument("--stages-from", type=Path, default=REPO / "training" / "results" / "train_summary.json",
                   help="the summary.json of the run that trained the tower (its windows and encoder wall times)")
    p.add_argument("--smoke", action="store_true", help="a smoke run's bundle (the smoke test checks this tool)")
    a = p.parse_args(argv)
    run = Run(a.out, smoke_recipe("convllava") if a.smoke else Recipe(), smoke=a.smoke, bundle_out=None, skip_node=True)
    _, _, model = tokenizer_and_model(run)  # builds and saves the run's tokenizer.json
    if json.loads((a.bundle / "tokenizer.json").read_text()) != json.loads((a.out / "tokenizer.json").read_text()):
        raise SystemExit("the rebuilt tokenizer differs from the bundle's: the tower would not match this pipeline's text side")
    graph = a.bundle / "onnx" / "vision_encoder.onnx"
    count = load_tower(model.vision, graph)
    diff = check_with_onnxruntime(model.vision, graph)
    if not diff < 1e-5:
        raise SystemExit(f"the rebuilt tower differs from {graph} by {diff:.2e} of its largest feature on onnxruntime-node")
    torch.save(model.vision.encoder.state_dict(), a.out / "encoder.pt")
    summary = json.loads(a.stages_from.read_text())["stages"]
    for stage in ("windows", "encoder"):
        run.finish(stage, {**summary[stage], "from_bundle": str(a.bundle)})
    print(f"[tower] {count} tensors from {a.bundle} (largest difference to onnxruntime-node {diff:.1e} of the largest feature); windows and encoder stages recorded done in {a.out}")


if __name__ == "__main__":
    main()
