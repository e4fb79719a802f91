"""Export a trained ConvLLaVA checkpoint as a Loupe bundle (the tiny bundle's layout).

    python -m training.vlm.export --ckpt runs/convllava --out public/models/loupe-synth/

Writes config.json, generation_config.json, preprocessor_config.json (`loupe` block:
convllava-square at the largest trained size, resolutions = the trained sizes),
tokenizer.json, tokenizer_config.json and onnx/{vision_encoder[,_int8],embed_tokens_int8,
decoder_model_merged_q4}.onnx. The vision dtype is int8 when it keeps quality on val
scenes (simulated in PyTorch: accuracy within 1 point of fp32 vision and feature cosine
>= 0.99), else fp32. fp32 variants of the other graphs join the bundle only while the
total stays under the size limit; otherwise they go to --fp32-dir (for parity tests).

Golden values for one held-out (val) scene go to --golden-dir: golden.json (prompt ids,
greedy ids from PyTorch fp32 and from the simulated shipped dtypes, logit slices) plus
image.png and float32 arrays. Then verify_export.mjs runs every graph in
onnxruntime-web (Node) and transformers.js' tokenizer against them.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from .. import bundle_config, export_onnx, quantize
from ..make_tiny_bundle import _write_json
from ..quant_sim import cosine, with_int8_vision_and_embed, with_q4_decoder
from ..quantize import INT8_MIN_ELEMENTS, dequantize_int8, quantize_int8
from ..tiny_model import greedy_generate
from ..tokenizer_bpe import EOS_ID, IMAGE_ID, tokenizer_config
from .data import image_pixels, scene_questions, load_source, normalize_pixels, parse_strategy, question_text
from .evaluate import normalise_answer
from .model import encode_inputs, load_checkpoint, splice
from .tokenizer import load_tokenizer, prompt_ids, prompt_text

REPO = Path(__file__).resolve().parents[2]
SIZE_LIMIT = 15 * 1024 * 1024  # the brief: at most 15 MB per shipped model
NEW_TOKENS = 8
MIN_VISION_COSINE = 0.99
MAX_ACCURACY_DROP = 1.0


def with_int8_embed(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model)
    w = out.embed_tokens.weight.detach().numpy()
    if w.size >= INT8_MIN_ELEMENTS:
        with torch.no_grad():
            out.embed_tokens.weight.copy_(torch.from_numpy(dequantize_int8(*quantize_int8(w, axis=0), axis=0)))
    return out


def shipped_variant(model: nn.Module, vision_dtype: str) -> nn.Module:
    """PyTorch twin of what the browser runs: q4 decoder, int8 embeddings, vision as chosen."""
    q4 = with_q4_decoder(model)
    return with_int8_vision_and_embed(q4) if vision_dtype == "int8" else with_int8_embed(q4)


@torch.no_grad()
def answer(model: nn.Module, tok, inputs, question: str) -> tuple[list[int], torch.Tensor, torch.Tensor]:
    feats, rows = encode_inputs(model, inputs)
    ids = prompt_ids(tok, question, rows.shape[0])
    embeds = splice(model, torch.tensor([ids]), [rows], torch.tensor([0]))
    result = greedy_generate(model, embeds, NEW_TOKENS)
    out = result.ids[: result.ids.index(EOS_ID) + 1] if EOS_ID in result.ids else result.ids
    return out, feats, result.prompt_logits


def choose_vision_dtype(model, tok, source, inputs_of, scenes: int) -> dict:
    """Greedy accuracy on val scenes with the fp32 vs the int8 vision tower (both with the
    shipped q4 decoder and int8 embeddings), and their feature cosine. inputs_of(image):
    the image as the bundle's default plan feeds the vision graph."""
    variants = {d: shipped_variant(model, d) for d in ("fp32", "int8")}
    hits = {d: 0 for d in variants}
    cosines, n = [], 0
    for index in range(scenes):
        scene = source.sample("val", index)
        inputs = inputs_of(scene.image)
        cosines.append(cosine(encode_inputs(variants["int8"], inputs)[0], encode_inputs(model, inputs)[0]))
        for item in scene_questions(scene):
            n += 1
            for d, m in variants.items():
                ids, _, _ = answer(m, tok, inputs, question_text(item))
                hits[d] += normalise_answer(tok.decode([i for i in ids if i != EOS_ID])) == normalise_answer(item.answer)
    acc = {d: 100 * h / max(1, n) for d, h in hits.items()}
    ok = min(cosines) >= MIN_VISION_COSINE and acc["int8"] >= acc["fp32"] - MAX_ACCURACY_DROP
    return {"vision_dtype": "int8" if ok else "fp32", "val_items": n, "val_accuracy_shipped": acc,
            "vision_int8_min_cosine": min(cosines)}


GRAPH_SUFFIX = {"fp32": "", "int8": "_int8", "q4": "_q4"}


def staged_graphs(model: nn.Module, staging: Path, export_vision) -> dict[str, int]:
    """The three fp32 graphs (export_vision(model, path) traces the tower) and their
    quantized variants, written to staging/onnx; returns quantized_variants' counts."""
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "onnx").mkdir(parents=True)
    fp32 = {
        "vision_encoder": export_vision(model, staging / "onnx/vision_encoder.onnx"),
        "embed_tokens": export_onnx.export_embed(model, staging / "onnx/embed_tokens.onnx"),
        "decoder_model_merged": export_onnx.export_decoder(model, staging / "onnx/decoder_model_merged.onnx", evidence=True),
    }
    return quantized_variants(fp32, staging / "onnx")


def quantized_variants(fp32: dict[str, onnx.ModelProto], onnx_dir: Path) -> dict[str, int]:
    """The q4 decoder and the int8 vision and embeddings, written beside the fp32 graphs;
    returns how many weights each rewrite quantized."""
    counts = {}
    for name, suffix, rewrite in [("decoder_model_merged", "_q4", quantize.to_matmul_nbits),
                                  ("vision_encoder", "_int8", quantize.to_int8_weights),
                                  ("embed_tokens", "_int8", quantize.to_int8_weights)]:
        graph, counts[name + suffix] = rewrite(fp32[name])
        onnx.checker.check_model(graph)
        onnx.save(graph, str(onnx_dir / f"{name}{suffix}.onnx"))
    return counts


def bundle_bytes(out: Path) -> int:
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())


def place_graphs(staging: Path, out: Path, fp32_dir: Path, dtypes: dict[str, str], files: dict[str, dict]) -> list[str]:
    """out/: the JSON `files`, the graphs of the shipped `dtypes`, then the other variants,
    smallest first, while the bundle stays under SIZE_LIMIT; the rest go to fp32_dir/onnx
    (for parity tests). Removes `staging`; returns the graphs that went to fp32_dir."""
    shipped = [f"{k}{GRAPH_SUFFIX[v]}.onnx" for k, v in dtypes.items()]
    optional = [f for f in ("vision_encoder.onnx", "vision_encoder_int8.onnx", "embed_tokens.onnx", "decoder_model_merged.onnx")
                if f not in shipped]
    shutil.rmtree(out / "onnx", ignore_errors=True)
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        _write_json(out / name, content)
    for f in shipped:
        shutil.copy(staging / "onnx" / f, out / "onnx" / f)
    moved = []
    shutil.rmtree(fp32_dir, ignore_errors=True)
    for f in sorted(optional, key=lambda f: (staging / "onnx" / f).stat().st_size):
        if bundle_bytes(out) + (staging / "onnx" / f).stat().st_size < SIZE_LIMIT:
            shutil.copy(staging / "onnx" / f, out / "onnx" / f)
        else:
            (fp32_dir / "onnx").mkdir(parents=True, exist_ok=True)
            shutil.copy(staging / "onnx" / f, fp32_dir / "onnx" / f)
            moved.append(f)
    shutil.rmtree(staging)
    return moved


def finish(out: Path, golden_dir: Path, fp32_dir: Path, golden: dict, dtypes: dict, moved: list[str], skip_node: bool) -> None:
    """Prints the bundle's report, refuses one over SIZE_LIMIT, and (unless skip_node) runs
    verify_export.mjs against the golden values, recording what it measured there."""
    total = bundle_bytes(out)
    sizes = {str(f.relative_to(out)): f.stat().st_size for f in sorted(out.rglob("*")) if f.is_file()}
    report = {"bundle": str(out), "bytes": total, "MB": round(total / 2**20, 2), "files": sizes,
              "fp32_elsewhere": {"dir": str(fp32_dir), "files": moved}, "dtypes": dtypes,
              "golden": str(golden_dir), "under_limit": total < SIZE_LIMIT}
    print(json.dumps(report, indent=2), flush=True)
    if total >= SIZE_LIMIT:
        raise SystemExit(f"bundle is {total} bytes, over the {SIZE_LIMIT} limit")
    if skip_node:
        return
    proc = subprocess.run(["node", str(Path(__file__).with_name("verify_export.mjs")), str(out), str(golden_dir), str(fp32_dir)],
                          cwd=REPO, capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit("verify_export.mjs failed (see above)")
    measured = json.loads(proc.stdout)
    golden["onnxruntime_web"] = measured
    _write_json(golden_dir / "golden.json", golden)
    print(json.dumps({"onnxruntime_web": measured}, indent=2))


def preprocessor(resolution: int, resolutions: list[int], stride: int, budget: int) -> dict:
    cfg = bundle_config.preprocessor_config(resolution, stride)
    cfg["loupe"]["resolutions"] = resolutions
    cfg["loupe"]["token_budget"] = budget
    return cfg


def write_f32(path: Path, t) -> None:
    np.asarray(t, dtype="<f4").tofile(path)


def export_arguments(description: str) -> argparse.ArgumentParser:
    """The options every bundle export takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--ckpt", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--fp32-dir", type=Path, default=None, help="fp32 graphs that do not fit (default CKPT/bundle-fp32)")
    p.add_argument("--golden-dir", type=Path, default=None, help="default CKPT/golden")
    p.add_argument("--quality-scenes", type=int, default=16, help="val scenes for the int8-vs-fp32 vision check")
    p.add_argument("--source", choices=["auto", "synth", "fake"], default=None)
    p.add_argument("--skip-node", action="store_true")
    return p


def golden_answers(tok, ids32: list[int], logits32: torch.Tensor, ids_q: list[int], dtypes: dict, quality: dict, counts: dict) -> dict:
    """golden.json's answer part: first logits and greedy ids in fp32 and in the shipped
    dtypes (weights dequantized), the dtypes and why, and tokenizer samples."""
    return {
        "first_logits": {"file": "first_logits.f32", "slice": logits32[:16].tolist(), "argmax": int(logits32.argmax())},
        "first_logits_shipped_reference": {"file": "first_logits_shipped_reference.f32",
                                           "note": "PyTorch with the shipped dtypes' weights dequantized"},
        "greedy_ids": ids32, "greedy_text": tok.decode([i for i in ids32 if i != EOS_ID]),
        "greedy_ids_shipped": ids_q, "greedy_text_shipped": tok.decode([i for i in ids_q if i != EOS_ID]),
        "dtypes": dtypes, "vision_choice": quality, "quantized_rewrites": counts,
        "tokenizer_samples": [{"text": t, "ids": tok.encode(t)} for t in ["What color is the star?", " red", "café 🙂"]],
    }


def main(argv=None) -> None:
    p = export_arguments(__doc__.split("\n\n")[0])
    p.add_argument("--golden-resolution", type=int, default=None, help="default: the smallest trained size")
    a = p.parse_args(argv)

    model, cfg, meta = load_checkpoint(a.ckpt)
    if cfg.convnext is None:
        raise SystemExit(f"{cfg.name}: only the ConvLLaVA model ships as a bundle")
    tok = load_tokenizer(a.ckpt / "tokenizer.json")
    data = meta["data"]
    source = load_source(a.source or data["source"], data["fake_long_side"])
    resolutions = sorted(data["square_resolutions"])
    stride = cfg.convnext.stride
    fp32_dir = a.fp32_dir or a.ckpt / "bundle-fp32"
    golden_dir = a.golden_dir or a.ckpt / "golden"

    largest = parse_strategy("convllava", str(max(resolutions)))
    quality = {**choose_vision_dtype(model, tok, source, lambda image: image_pixels(image, largest), a.quality_scenes),
               "resolution": max(resolutions)}
    vision_dtype = quality["vision_dtype"]
    print(f"[export] {json.dumps(quality)}", flush=True)

    staging = a.ckpt / "export-staging"
    counts = staged_graphs(model, staging, export_onnx.export_vision)
    dtypes = {"vision_encoder": vision_dtype, "embed_tokens": "int8", "decoder_model_merged": "q4"}
    out = a.out
    model_json = bundle_config.model_config(cfg.convnext, cfg.text)
    model_json["transformers.js_config"]["dtype"] = dtypes
    moved = place_graphs(staging, out, fp32_dir, dtypes, {
        "config.json": model_json,
        "generation_config.json": bundle_config.generation_config(cfg.text.max_position_embeddings),
        "preprocessor_config.json": preprocessor(max(resolutions), resolutions, stride, data["token_budget"]),
        "tokenizer.json": tok.tokenizer_json(),
        "tokenizer_config.json": tokenizer_config(cfg.text.max_position_embeddings),
    })

    # ---- golden values for one held-out scene -------------------------------------------
    golden_res = a.golden_resolution or min(resolutions)
    scene = source.sample("val", 0)
    item = scene_questions(scene)[0]
    question = question_text(item)
    pixels = image_pixels(scene.image, parse_strategy("convllava", str(golden_res)))
    ids32, feats, logits32 = answer(model, tok, pixels, question)
    sim = shipped_variant(model, vision_dtype)
    ids_q, feats_q, logits_q = answer(sim, tok, pixels, question)
    golden_dir.mkdir(parents=True, exist_ok=True)
    scene.image.save(golden_dir / "image.png")
    write_f32(golden_dir / "pixel_values.f32", normalize_pixels(pixels[None]))
    write_f32(golden_dir / "image_features.f32", feats)
    write_f32(golden_dir / "first_logits.f32", logits32)
    write_f32(golden_dir / "first_logits_shipped_reference.f32", logits_q)
    base_ids = tok.encode(prompt_text(question))
    golden = {
        "checkpoint": str(a.ckpt), "split": "val", "index": 0, "source": source.name,
        "image": {"file": "image.png", "width": scene.image.size[0], "height": scene.image.size[1]},
        "resolution": golden_res, "question": question, "answer": item.answer, "type": item.type,
        "prompt_text": prompt_text(question), "prompt_ids": base_ids, "image_token_id": IMAGE_ID,
        "num_image_tokens": feats.shape[1], "input_ids_expanded": prompt_ids(tok, question, feats.shape[1]),
        "pixel_values": {"file": "pixel_values.f32", "shape": [1, 3, golden_res, golden_res]},
        "image_features": {"file": "image_features.f32", "shape": list(feats.shape), "slice": feats.flatten()[:16].tolist()},
        **golden_answers(tok, ids32, logits32, ids_q, dtypes, quality, counts),
    }
    _write_json(golden_dir / "golden.json", golden)

    finish(out, golden_dir, fp32_dir, golden, dtypes, moved, a.skip_node)


if __name__ == "__main__":
    main()
