"""What the bundles whose vision graph takes more than `pixel_values` (MC-LLaVA's coords,
PIIP's second resolution) share: export of the three graphs, seed screening, and how an
input tensor is recorded in golden.json (a sum and slices: the tensors are MBs)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .. import export_onnx
from ..make_tiny_bundle import _stats, _write_f32, _write_json
from ..tiny_model import GreedyResult, init_weights
from .build import MIN_MARGIN, snap_to_q4_grid

MODULES = ("vision_encoder", "embed_tokens", "decoder_model_merged")


def export_graphs(model: nn.Module, onnx_dir: Path, vision_args: tuple, vision_inputs: list[str], vision_axes: dict) -> dict[str, int]:
    """fp32 graphs of the vision module (its own inputs), embeddings and decoder -> file sizes."""
    onnx_dir.mkdir(parents=True, exist_ok=True)
    export_onnx._export(model.vision, vision_args, onnx_dir / "vision_encoder.onnx", vision_inputs, ["image_features"], vision_axes)
    export_onnx.export_embed(model, onnx_dir / "embed_tokens.onnx")
    export_onnx.export_decoder(model, onnx_dir / "decoder_model_merged.onnx")
    return {m: (onnx_dir / f"{m}.onnx").stat().st_size for m in MODULES}


def random_model(make: Callable[[], nn.Module], seed: int) -> nn.Module:
    """A model with `seed`'s weights (tiny_model.init_weights), every Linear on the 4-bit
    grid (build.snap_to_q4_grid), in eval mode: what build.build_model does for a Family."""
    torch.manual_seed(seed)
    model = make()
    init_weights(model, seed)
    snap_to_q4_grid(model)
    return model.eval()


def rejection(result: GreedyResult, specials: set[int], unchanged_by: dict[str, list[int]]) -> str | None:
    """Why a seed is unusable: an unclear greedy choice, a special token, or an input that
    does not change the 16 ids (unchanged_by: {what was changed: the ids then})."""
    if min(result.margins) < MIN_MARGIN:
        return f"top-2 margin {min(result.margins):.4f}"
    if specials & set(result.ids):
        return "generates a special token"
    for what, ids in unchanged_by.items():
        if ids == result.ids:
            return f"{what} does not change the output"
    return None


def tensor_record(t: torch.Tensor, offsets: tuple[int, ...] = (0, 70_001, 150_007)) -> dict:
    """One input's float32 values as golden.json keeps them: the sum and 8 values at each offset."""
    flat = t.flatten()
    return {"sum": float(flat.double().sum()), "slices": {str(o): flat[o : o + 8].tolist() for o in offsets if o < flat.numel()}}


def write_golden(fixtures: Path, name: str, seed: int, prompt: dict, image, features: torch.Tensor, result: GreedyResult,
                 decode, sizes: dict[str, int], specific: dict) -> dict:
    """image.png, image_features.f32, first_logits.f32 and golden.json: the fields every
    such bundle has (prompt: question, prompt_text, prompt_ids, input_ids_expanded,
    image_token_id, num_image_tokens), then the bundle's own (`specific`)."""
    image.save(fixtures / "image.png", optimize=True)
    _write_f32(fixtures / "image_features.f32", features)
    _write_f32(fixtures / "first_logits.f32", result.prompt_logits)
    golden = {
        "seed": seed,
        "torch_version": torch.__version__,
        "bundle_dir": f"public/models/{name}",
        **prompt,
        "image": {"file": "image.png", "width": image.width, "height": image.height},
        **specific,
        "image_features": {"file": "image_features.f32", "shape": list(features.shape), **_stats(features)},
        "first_logits": {"file": "first_logits.f32", "argmax": int(result.prompt_logits.argmax())},
        "greedy_ids": result.ids,
        "greedy_text": decode(result.ids),
        "min_top2_margin": min(result.margins),
        "image_changes_output": True,
        "onnx_bytes": sizes,
    }
    _write_json(fixtures / "golden.json", golden)
    return golden
