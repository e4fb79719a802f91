"""The export driver the trained MC-LLaVA and PIIP bundles share (export_mc.py,
export_piip.py): int8-vs-fp32 vision choice on val scenes, the three graphs and their
quantized variants, the bundle's JSON files, golden values for one held-out scene, the size
limit and the onnxruntime-web check, as export.py does for ConvLLaVA. A family says only
what differs: how its vision graph is traced and fed, and its config files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import onnx

from .. import bundle_config
from ..preprocess import CLIP_MEAN, CLIP_STD
from ..make_tiny_bundle import _write_json
from ..tokenizer_bpe import IMAGE_ID, tokenizer_config
from .data import load_source, question_text, scene_questions
from .export import answer, choose_vision_dtype, finish, golden_answers, place_graphs, shipped_variant, staged_graphs, write_f32
from .model import load_checkpoint
from .tokenizer import load_tokenizer, prompt_ids, prompt_text


@dataclass
class Family:
    name: str  # for messages
    accepts: Callable[[Any], bool]  # the checkpoint's ModelConfig -> is it this family's
    export_vision: Callable[[Any, Path], onnx.ModelProto]  # (model, path) -> the fp32 vision graph
    inputs_of: Callable[[Any, Any], Any]  # (ModelConfig, image) -> what the vision graph is fed
    files: Callable[[Any, dict], dict[str, dict]]  # (ModelConfig, dtypes) -> config / preprocessor / processor JSON
    golden_inputs: Callable[[Any, Path], dict]  # (inputs, golden dir) -> golden.json entries (writes the tensors)
    about: Callable[[Any], dict]  # ModelConfig -> what the vision choice and golden.json record about the geometry


# What every Loupe-Synth bundle's preprocessor says about resampling and normalisation
# (data.normalize_pixels: 8-bit RGB / 255, CLIP's mean and std).
CLIP_PIXELS = {"resample": 3, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
               "image_mean": list(CLIP_MEAN), "image_std": list(CLIP_STD)}


def export_family(family: Family, argv=None, description: str = "") -> None:
    from .export import export_arguments

    a = export_arguments(description).parse_args(argv)
    model, cfg, meta = load_checkpoint(a.ckpt)
    if not family.accepts(cfg):
        raise SystemExit(f"{cfg.name}: not a {family.name} checkpoint")
    tok = load_tokenizer(a.ckpt / "tokenizer.json")
    source = load_source(a.source or meta["data"]["source"], meta["data"]["fake_long_side"])
    fp32_dir = a.fp32_dir or a.ckpt / "bundle-fp32"
    golden_dir = a.golden_dir or a.ckpt / "golden"
    inputs_of = lambda image: family.inputs_of(cfg, image)  # noqa: E731

    quality = {**choose_vision_dtype(model, tok, source, inputs_of, a.quality_scenes), **family.about(cfg)}
    print(f"[export] {json.dumps(quality)}", flush=True)
    staging = a.ckpt / "export-staging"
    counts = staged_graphs(model, staging, family.export_vision)
    dtypes = {"vision_encoder": quality["vision_dtype"], "embed_tokens": "int8", "decoder_model_merged": "q4"}
    max_length = cfg.text.max_position_embeddings
    moved = place_graphs(staging, a.out, fp32_dir, dtypes, {
        **family.files(cfg, dtypes),
        "generation_config.json": bundle_config.generation_config(max_length),
        "tokenizer.json": tok.tokenizer_json(),
        "tokenizer_config.json": tokenizer_config(max_length),
    })

    # ---- golden values for one held-out scene at the bundle's defaults ------------------
    scene = source.sample("val", 0)
    item = scene_questions(scene)[0]
    question = question_text(item)
    inputs = inputs_of(scene.image)
    ids32, feats, logits32 = answer(model, tok, inputs, question)
    ids_q, _, logits_q = answer(shipped_variant(model, quality["vision_dtype"]), tok, inputs, question)
    golden_dir.mkdir(parents=True, exist_ok=True)
    scene.image.save(golden_dir / "image.png")
    entries = family.golden_inputs(inputs, golden_dir)
    write_f32(golden_dir / "image_features.f32", feats)
    write_f32(golden_dir / "first_logits.f32", logits32)
    write_f32(golden_dir / "first_logits_shipped_reference.f32", logits_q)
    kept = int(entries.pop("num_image_tokens"))
    golden = {
        "checkpoint": str(a.ckpt), "split": "val", "index": 0, "source": source.name,
        "image": {"file": "image.png", "width": scene.image.size[0], "height": scene.image.size[1]}, **family.about(cfg),
        "question": question, "answer": item.answer, "type": item.type,
        "prompt_text": prompt_text(question), "prompt_ids": tok.encode(prompt_text(question)), "image_token_id": IMAGE_ID,
        "num_image_tokens": kept, "input_ids_expanded": prompt_ids(tok, question, kept), **entries,
        "image_features": {"file": "image_features.f32", "shape": list(feats.shape), "slice": feats.flatten()[:16].tolist()},
        **golden_answers(tok, ids32, logits32, ids_q, dtypes, quality, counts),
    }
    _write_json(golden_dir / "golden.json", golden)
    finish(a.out, golden_dir, fp32_dir, golden, dtypes, moved, a.skip_node)
