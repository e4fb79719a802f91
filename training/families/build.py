"""Seed screening, export, golden values and the onnxruntime measurement for one family."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from .. import export_onnx
from ..make_tiny_bundle import _stats, _write_f32, _write_json
from ..preprocess import make_test_image
from ..quantize import dequantize_q4, quantize_q4
from ..tiny_model import GreedyResult, expand_image_tokens, greedy_generate, init_weights, prompt_embeddings
from . import clip_processor
from .family import Family
from .model import FamilyVLM
from .variants import SUFFIXES, write_variants

REPO = Path(__file__).resolve().parents[2]
QUESTION = "What is in the image?"
NEW_TOKENS = 16
# Larger than make_tiny_bundle's 0.05: the fp16 graphs must keep every greedy choice.
MIN_MARGIN = 0.1
MAX_SEEDS = 100
MODULES = ("vision_encoder", "embed_tokens", "decoder_model_merged")
TOKENIZER_SAMPLES = ["Hello world!", "café 🙂", "  two  spaces\tand\ttabs\n\nend "]


def build_model(f: Family, seed: int) -> FamilyVLM:
    """Random weights from `seed`, then every Linear snapped onto the 4-bit grid (see
    `snap_to_q4_grid`)."""
    torch.manual_seed(seed)
    encoder, width = f.make_encoder()
    model = FamilyVLM(encoder, width, f.text)
    init_weights(model, seed)
    if f.after_init is not None:
        f.after_init(model, seed)
    snap_to_q4_grid(model)
    return model.eval()


@torch.no_grad()
def snap_to_q4_grid(model: FamilyVLM) -> None:
    """Every Linear of the tower and decoder through 4-bit quantize -> dequantize: the
    weights `quantize.to_matmul_nbits` rewrites (a traced Linear is a MatMul with a weight
    initializer; convolutions and the embedding Gather stay float). Random weights lose
    ~7 % to 4 bits, more than the top-2 margins of 16 greedy steps survive; on the grid
    the q4 graphs compute the fp32 function up to float rounding, so a golden token
    mismatch points at the MatMulNBits path (packing, scales, zero points), not at luck."""
    for m in list(model.vision.modules()) + list(model.decoder.modules()):
        if isinstance(m, nn.Linear):
            b = m.weight.numpy().T  # ONNX MatMul B is [K, N]
            m.weight.copy_(torch.from_numpy(dequantize_q4(*quantize_q4(b), k=b.shape[0]).T.copy()))


def with_q4_matmuls(model: FamilyVLM) -> FamilyVLM:
    """What the q4 graphs compute (the grid is near idempotent: a check, not a change)."""
    out = copy.deepcopy(model)
    snap_to_q4_grid(out)
    return out


def _greedy(model: FamilyVLM, f: Family, input_ids: list[int], pixels: torch.Tensor) -> GreedyResult:
    with torch.no_grad():
        features = model.vision(pixels)
    return greedy_generate(model, prompt_embeddings(model, input_ids, features, f.image_token_id), NEW_TOKENS)


def screen(f: Family, seed: int, input_ids: list[int], pixels: torch.Tensor, grey: torch.Tensor):
    """(model, report) for a usable seed, else (None, reason)."""
    model = build_model(f, seed)
    result = _greedy(model, f, input_ids, pixels)
    if min(result.margins) < MIN_MARGIN:
        return None, f"top-2 margin {min(result.margins):.4f}"
    if f.special_ids & set(result.ids):
        return None, "generates a special token"
    if _greedy(model, f, input_ids, grey).ids == result.ids:
        return None, "image does not change the output"
    q4 = _greedy(with_q4_matmuls(model), f, input_ids, pixels)
    if q4.ids != result.ids:
        return None, "simulated q4 changes the greedy ids"
    if min(q4.margins) < MIN_MARGIN:
        return None, f"simulated q4 top-2 margin {min(q4.margins):.4f}"
    return model, {"result": result, "q4_min_margin": min(q4.margins)}


def write_bundle(f: Family, model: FamilyVLM, bundle: Path) -> dict:
    onnx_dir = bundle / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    exports = {
        "vision_encoder": lambda p: export_onnx.export_vision(model, p, f.trace_size, f.dynamic_size),
        "embed_tokens": lambda p: export_onnx.export_embed(model, p),
        "decoder_model_merged": lambda p: export_onnx.export_decoder(model, p),
    }
    files = {
        name: write_variants(export(onnx_dir / f"{name}.onnx"), onnx_dir, name, f.variant_features.get(name))
        for name, export in exports.items()
    }
    for name, content in f.json_files(f).items():
        _write_json(bundle / name, content)
    return files


def _pixels(image: Image.Image, f: Family, fixtures: Path, stem: str) -> tuple[np.ndarray, dict]:
    pixel_values, geometry = clip_processor.preprocess(image, f.processor)
    image.save(fixtures / f"{stem}.png", optimize=False)
    name = stem.replace("image", "pixel_values")
    _write_f32(fixtures / f"{name}.f32", pixel_values)
    return pixel_values, {"image": f"{stem}.png", "file": f"{name}.f32", "shape": list(pixel_values.shape), **geometry}


def measure(bundle: Path, fixtures: Path) -> dict:
    proc = subprocess.run(
        ["node", "training/families/measure_variants.mjs", str(bundle), str(fixtures)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit("measure_variants.mjs failed (see above)")
    return json.loads(proc.stdout)


def mismatches(measured: dict) -> list[str]:
    """Variants whose greedy ids differ from PyTorch. onnxruntime-node must load them
    all; on wasm a variant that does not load is recorded, not a failure."""
    bad = []
    for runtime, per_dtype in measured["runtimes"].items():
        for dtype, r in per_dtype.items():
            if "error" in r:
                if runtime == "onnxruntime-node":
                    bad.append(f"{runtime} {dtype}: {r['error']}")
            elif not r["matches_torch"]:
                bad.append(f"{runtime} {dtype}")
            elif not r["padded_batch_logits_finite"]:
                bad.append(f"{runtime} {dtype}: non-finite logits in a padded batch")
    return bad


def _golden(
    f: Family, seed: int, model: FamilyVLM, report: dict, prompt: dict, pixels: dict, files: dict
) -> tuple[dict, torch.Tensor]:
    result = report["result"]
    with torch.no_grad():
        features = model.vision(pixels["tensor"])
    return {
        "seed": seed,
        "torch_version": torch.__version__,
        "bundle_dir": f"public/models/{f.name}",
        **prompt,
        "image_token_id": f.image_token_id,
        "num_image_tokens": f.num_image_tokens,
        "pixel_values": pixels["record"],
        "pixel_values_exact_crop": pixels["exact_record"],
        "image_features": {
            "file": "image_features.f32",
            "shape": list(features.shape),
            **_stats(features),
            "slice": features.flatten()[:16].tolist(),
        },
        "first_logits": {
            "file": "first_logits.f32",
            "slice": result.prompt_logits[:32].tolist(),
            "argmax": int(result.prompt_logits.argmax()),
        },
        "greedy_ids": result.ids,
        "greedy_text": f.tokenizer.decode(result.ids),
        "min_top2_margin": min(result.margins),
        "q4_simulated_torch_min_top2_margin": report["q4_min_margin"],
        "image_changes_output": True,  # screen() rejects seeds where it does not
        "tokenizer_samples": [{"text": t, "ids": f.tokenizer.encode(t)} for t in TOKENIZER_SAMPLES],
        "onnx_files": {m: {d: v["bytes"] for d, v in files[m].items()} for m in MODULES},
        "matmuls_q4": {m: files[m]["q4"]["matmuls_q4"] for m in MODULES},
        # {module: {dtype: [feature]}} (families/variants.py) and the external data files.
        "variant_features": {
            m: {d: v["features"] for d, v in files[m].items() if v["features"]}
            for m in MODULES
            if any(v["features"] for v in files[m].values())
        },
        "onnx_external_data": {
            f"{m}{SUFFIXES[d]}.onnx": v["external_data"] for m in MODULES for d, v in files[m].items() if "external_data" in v
        },
    }, features


def _with_measurements(golden: dict, measured: dict) -> dict:
    runtimes = measured["runtimes"]

    def per_variant(key: str) -> dict:
        return {rt: {d: r[key] for d, r in per.items() if "error" not in r} for rt, per in runtimes.items()}

    fp32 = runtimes["onnxruntime-node"]["fp32"]
    return {
        **golden,
        "ort_fp32_max_abs_diff": {
            "image_features": fp32["image_features_max_abs_diff"],
            "first_logits": fp32["first_logits_max_abs_diff"],
        },
        "ort_greedy_ids": {rt: {d: r.get("greedy_ids", r.get("error")) for d, r in per.items()} for rt, per in runtimes.items()},
        "ort_first_logits_max_abs_diff": per_variant("first_logits_max_abs_diff"),
        "ort_padded_batch_max_abs_diff": per_variant("padded_batch_max_abs_diff"),
        # The decoder as loaded: KV cache dtype, num_logits_to_keep (and its 0 / 1 / 3
        # check), external data files.
        "ort_decoder": per_variant("decoder"),
        "ort_versions": measured["versions"],
    }


def build(f: Family, first_seed: int, skip_node: bool = False) -> dict:
    """The first seed from `first_seed` that passes `screen` and (unless skip_node) the
    onnxruntime measurement; writes the bundle and fixtures, returns golden.json's content."""
    bundle_rel, fixtures_rel = Path("public/models") / f.name, Path("e2e/fixtures") / f.name
    bundle, fixtures = REPO / bundle_rel, REPO / fixtures_rel
    fixtures.mkdir(parents=True, exist_ok=True)

    prompt_text = f.render_prompt([{"role": "user", "content": f"<image>\n{QUESTION}"}])
    prompt_ids = f.tokenizer.encode(prompt_text)
    input_ids = expand_image_tokens(prompt_ids, f.image_token_id, f.num_image_tokens)
    prompt = {"question": QUESTION, "prompt_text": prompt_text, "prompt_ids": prompt_ids, "input_ids_expanded": input_ids}

    image = make_test_image()
    pixel_values, record = _pixels(image, f, fixtures, "image")
    _, exact_record = _pixels(make_test_image(*f.exact_image_size), f, fixtures, "image_exact")
    pixels = torch.from_numpy(pixel_values)
    grey = torch.from_numpy(clip_processor.preprocess(Image.new("RGB", image.size, (128, 128, 128)), f.processor)[0])
    pixel_info = {"tensor": pixels, "record": {**record, **_stats(pixels)}, "exact_record": exact_record}

    for seed in range(first_seed, first_seed + MAX_SEEDS):
        model, report = screen(f, seed, input_ids, pixels, grey)
        if model is None:
            print(f"{f.name}: seed {seed} rejected: {report}")
            continue
        files = write_bundle(f, model, bundle)
        golden, features = _golden(f, seed, model, report, prompt, pixel_info, files)
        _write_f32(fixtures / "image_features.f32", features)
        _write_f32(fixtures / "first_logits.f32", report["result"].prompt_logits)
        _write_json(fixtures / "golden.json", golden)
        if skip_node:
            return golden
        measured = measure(bundle_rel, fixtures_rel)
        bad = mismatches(measured)
        if bad:
            print(f"{f.name}: seed {seed} rejected: onnxruntime differs from torch: {bad}")
            continue
        golden = _with_measurements(golden, measured)
        _write_json(fixtures / "golden.json", golden)
        return golden
    raise SystemExit(f"{f.name}: no usable seed in {MAX_SEEDS} tries")
