"""Convert the tiny ConvLLaVA release checkpoint and write the reference values the bundle
is checked against (src/models/convert.test.ts, e2e/converted.spec.ts).

    /usr/bin/python3 -m training.convert.goldens

1. `tiny_release` writes the checkpoint (e2e/fixtures/convert/convllava-sft, -convnext);
2. the converter writes `public/models/tiny-converted-convllava/` (fp32 + int8 / q4), once
   from the sft shards' tower copy and once from the separate tower checkpoint (the two
   must be byte-identical);
3. `reference_convllava` runs the checkpoint's own tensors on the 200x150 test image:
   pixels, features, prompt ids (LLaVA's tokenizer_image_token with SentencePiece), first
   logits, 16 greedy ids -> e2e/fixtures/convert/golden.json + .f32 files;
4. the same for the tiny MC-LLaVA release (`public/models/tiny-converted-mcllava/`,
   `reference_mcllava` on a 640 x 480 image at max_crops 4 / num_tokens 96 ->
   e2e/fixtures/convert/mcllava-golden.json);
5. and for the tiny PIIP-LLaVA release (`public/models/tiny-converted-piip/`,
   `reference_piip` on the 200 x 150 image -> e2e/fixtures/convert/piip-golden.json; the
   layer scale spelt `weight` instead of `gamma` must give the same bundle).

`--only piip` (or convllava, mcllava) regenerates one of them.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import tempfile
from pathlib import Path

import sentencepiece as spm
import torch

from ..make_tiny_bundle import _stats, _write_f32, _write_json
from ..preprocess import make_test_image
from ..tokenizer_bpe import ByteLevelBPE
from . import checkpoint, piip_config, reference_convllava as ref, reference_mcllava as ref_mc, reference_piip as ref_piip, tiny_release
from .__main__ import convert
from .stream_decoder import on_grid

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "public/models/tiny-converted-convllava"
FIXTURES = REPO / "e2e/fixtures/convert"
QUESTION = "What is in the image?"
# More prompts for the q4 figure, so the 0.99 bar is not met on one question only.
OTHER_QUESTIONS = ["Describe the picture.", "How many red circles are there?", "What colour is the square?", "Is the dog left or right of the cat?"]
SAMPLES = ["Hello world!", "café 🙂 naïve", "  two  spaces\tand\ttabs\n\nend ", "1234 red circles"]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["convllava", "mcllava", "piip"])
    only = parser.parse_args().only
    if only in (None, "convllava"):
        convllava_goldens()
    if only in (None, "mcllava"):
        tiny_release.write_mcllava(FIXTURES)
        mcllava_goldens()
    if only in (None, "piip"):
        piip_goldens()


def convllava_goldens() -> None:
    tiny_release.write_convllava(FIXTURES)
    sft = FIXTURES / "convllava-sft"
    shutil.rmtree(BUNDLE, ignore_errors=True)
    report = convert(sft, BUNDLE, "fp32", None)
    convert(sft, BUNDLE, "q4", None)
    # Without the tower copy, from the separate tower checkpoint: the same bundle.
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "sft"
        shutil.copytree(sft, bare)
        for shard in bare.glob("pytorch_model-*.bin"):
            state = torch.load(shard)
            torch.save({k: v for k, v in state.items() if not k.startswith("model.vision_tower.")}, shard)
        index = json.loads((bare / "pytorch_model.bin.index.json").read_text())
        index["weight_map"] = {k: v for k, v in index["weight_map"].items() if not k.startswith("model.vision_tower.")}
        (bare / "pytorch_model.bin.index.json").write_text(json.dumps(index))
        other = Path(tmp) / "bundle"
        convert(bare, other, "fp32", FIXTURES / "convllava-convnext")
        convert(bare, other, "q4", FIXTURES / "convllava-convnext")
        same = [f.name for f in (BUNDLE / "onnx").iterdir() if filecmp.cmp(f, other / "onnx" / f.name, shallow=False)]
        if len(same) != len(list((BUNDLE / "onnx").iterdir())):
            raise SystemExit(f"the separate tower gives a different bundle (identical: {same})")

    config = json.loads((sft / "config.json").read_text())
    state = {k: v.float() for k, v in checkpoint.tensors(sft)}
    tower = {k.removeprefix("model.vision_tower.vision_tower."): v for k, v in state.items() if k.startswith("model.vision_tower.")}
    depths = json.loads((FIXTURES / "convllava-convnext/config.json").read_text())["depths"]
    image = make_test_image()
    image.save(FIXTURES / "image.png", optimize=True)
    pixels = ref.pixel_values(image, config["mm_vision_resolution"])
    with torch.no_grad():
        features = ref.project(state, ref.tower(tower, pixels, depths))
    sp = spm.SentencePieceProcessor(model_file=str(sft / "tokenizer.model"))
    ids = ref.prompt_ids(sp, QUESTION)
    first, greedy_ids, margin = ref.greedy(state, config, ids, features, 16)
    _write_f32(FIXTURES / "image_features.f32", features)
    _write_f32(FIXTURES / "first_logits.f32", first)
    # The streamed q4 decoder must compute exactly the reference on the 4-bit grid.
    snapped = _on_q4_grid(state, _llama_matrix)
    first_q4, greedy_q4, margin_q4 = ref.greedy(snapped, config, ids, features, 16)
    _write_f32(FIXTURES / "first_logits_q4_reference.f32", first_q4)
    golden = {
        "question": QUESTION,
        "image": "image.png",
        "resolution": config["mm_vision_resolution"],
        "prompt_ids_llava": ids,  # -200 where the image goes
        "image_token_id": config["vocab_size"],
        "num_image_tokens": features.shape[1],
        "pixel_values": {"shape": list(pixels.shape), **_stats(pixels)},
        "image_features": {"file": "image_features.f32", "shape": list(features.shape), **_stats(features)},
        "first_logits": {"file": "first_logits.f32", "argmax": int(first.argmax())},
        "first_logits_q4_reference": {"file": "first_logits_q4_reference.f32",
                                      **_q4_cosines(first, first_q4, lambda st, i: ref.greedy(st, config, i, features, 1)[0], lambda q: ref.prompt_ids(sp, q), state, snapped),
                                      "greedy_ids": greedy_q4, "min_top2_margin": margin_q4},
        "greedy_ids": greedy_ids,
        "greedy_text": sp.decode(greedy_ids),
        "min_top2_margin": margin,
        "sentencepiece_samples": [{"text": t, "ids": sp.encode(t)} for t in SAMPLES],
        "converter": report,
    }
    _write_json(FIXTURES / "golden.json", golden)
    print(json.dumps({k: golden[k] for k in ("greedy_ids", "min_top2_margin", "num_image_tokens")}))


MC_BUNDLE = REPO / "public/models/tiny-converted-mcllava"
MC_KNOBS = {"max_crops": 4, "num_tokens": 96}


def _llama_matrix(name: str) -> bool:
    return name.startswith("model.layers.") or name == "lm_head.weight"


def _q4_cosines(first, first_q4, first_logits, ids_of, state: dict, snapped: dict) -> dict:
    """Cosine of the q4-grid reference's first logits to fp32: on the golden question (`first`,
    `first_q4`, already computed) and the lowest over OTHER_QUESTIONS (first_logits(state, ids)
    runs the reference)."""
    cos = lambda a, b: float(torch.nn.functional.cosine_similarity(a, b, 0))  # noqa: E731
    other = min(cos(first_logits(state, ids_of(q)), first_logits(snapped, ids_of(q))) for q in OTHER_QUESTIONS)
    return {"cosine_to_fp32": cos(first, first_q4), "min_cosine_other_questions": other}


def _on_q4_grid(state: dict[str, torch.Tensor], decoder_matrix) -> dict[str, torch.Tensor]:
    """The checkpoint with every decoder MatMul weight (2-D, `decoder_matrix(name)`) through
    the converter's quantize -> dequantize (4-bit blocks, lm_head 8-bit: stream_decoder's
    policy): what the q4 graph must compute exactly."""
    key = lambda name: "lm_head" if name.endswith("lm_head.weight") else name  # noqa: E731
    return {k: (on_grid(v, key(k)) if v.dim() == 2 and decoder_matrix(k) else v) for k, v in state.items()}


def mcllava_goldens() -> None:
    """The tiny MC-LLaVA release: converted, and the reference on the 640 x 480 test image
    at max_crops 4 / num_tokens 96 (3 images: the whole image and two crops)."""
    source = FIXTURES / "mcllava"
    shutil.rmtree(MC_BUNDLE, ignore_errors=True)
    convert(source, MC_BUNDLE, "fp32", None)
    report = convert(source, MC_BUNDLE, "q4", None)
    config = json.loads((source / "config.json").read_text())
    state = {k: v.float() for k, v in checkpoint.tensors(source)}
    model = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    specials = tuple(t for t in tiny_release.MC_SPECIALS)
    tok = ByteLevelBPE(vocab=model["vocab"], merges=[tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]], special_tokens=specials)
    image = make_test_image(640, 480)
    image.save(FIXTURES / "mcllava-image.png", optimize=True)
    pixels, coords, keep = ref_mc.crops(image, MC_KNOBS["max_crops"], MC_KNOBS["num_tokens"])
    feats = ref_mc.features(state, config, pixels, coords, keep)
    ids = tok.encode(f"<|im_start|>user\n<image>\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n")
    first, greedy_ids, margin = ref_mc.greedy(state, config, ids, config["image_token_index"], feats, 16)
    _write_f32(FIXTURES / "mcllava-image_features.f32", feats)
    _write_f32(FIXTURES / "mcllava-first_logits.f32", first)
    # What the q4 decoder must compute: the reference with every decoder MatMul weight
    # through 4-bit quantize -> dequantize (the MatMulNBits path checked exactly, apart
    # from how much 4 bits lose on these random weights).
    snapped = _on_q4_grid(state, lambda k: k.startswith("language_model.") and "embed_tokens" not in k)
    first_q4, greedy_q4, margin_q4 = ref_mc.greedy(snapped, config, ids, config["image_token_index"], feats, 16)
    _write_f32(FIXTURES / "mcllava-first_logits_q4_reference.f32", first_q4)
    golden = {
        "question": QUESTION,
        "image": "mcllava-image.png",
        "knobs": MC_KNOBS,
        "prompt_ids": ids,  # one <image>, replaced by all the image's tokens
        "image_token_id": config["image_token_index"],
        "num_image_tokens": feats.shape[1],
        "keep": keep,
        "coords": coords.tolist(),
        "image_features": {"file": "mcllava-image_features.f32", "shape": list(feats.shape), **_stats(feats)},
        "first_logits": {"file": "mcllava-first_logits.f32", "argmax": int(first.argmax())},
        "first_logits_q4_reference": {"file": "mcllava-first_logits_q4_reference.f32",
                                      **_q4_cosines(first, first_q4, lambda st, i: ref_mc.greedy(st, config, i, config["image_token_index"], feats, 1)[0],
                                                    lambda q: tok.encode(f"<|im_start|>user\n<image>\n{q}<|im_end|>\n<|im_start|>assistant\n"), state, snapped),
                                      "greedy_ids": greedy_q4, "min_top2_margin": margin_q4},
        "greedy_ids": greedy_ids,
        "greedy_text": tok.decode(greedy_ids),
        "min_top2_margin": margin,
        "converter": report,
    }
    _write_json(FIXTURES / "mcllava-golden.json", golden)
    print(json.dumps({k: golden[k] for k in ("greedy_ids", "min_top2_margin", "num_image_tokens")}))


PIIP_BUNDLE = REPO / "public/models/tiny-converted-piip"


def piip_goldens() -> None:
    """The tiny PIIP-LLaVA release: converted, and the reference on the 200 x 150 test image
    at the tower's sizes (256 high, 96 low)."""
    source = FIXTURES / "piip-llava"
    tiny_release.write_piip(FIXTURES)
    shutil.rmtree(PIIP_BUNDLE, ignore_errors=True)
    report = convert(source, PIIP_BUNDLE, "fp32", None)
    convert(source, PIIP_BUNDLE, "q4", None)
    # timm's layer scale spelt `weight` (PIIP's ConvNeXtBlockWithoutGamma): the same bundle.
    with tempfile.TemporaryDirectory() as tmp:
        renamed = Path(tmp) / "piip"
        shutil.copytree(source, renamed)
        for shard in renamed.glob("pytorch_model-*.bin"):
            state = torch.load(shard)
            torch.save({(k[: -len("gamma")] + "weight" if k.endswith(".gamma") else k): v for k, v in state.items()}, shard)
        other = Path(tmp) / "bundle"
        convert(renamed, other, "fp32", None)
        convert(renamed, other, "q4", None)
        differ = [f.name for f in (PIIP_BUNDLE / "onnx").iterdir() if not filecmp.cmp(f, other / "onnx" / f.name, shallow=False)]
        if differ:
            raise SystemExit(f"layer scale spelt `weight` gives a different bundle ({differ})")
    config = json.loads((source / "config.json").read_text())
    backbone = piip_config.read_tower_config(source / tiny_release.PIIP_TOWER_PY)["backbone"]
    high_size, low_size = backbone["branch2"]["img_size"], backbone["branch1"]["img_size"]
    state = {k: v.float() for k, v in checkpoint.tensors(source)}
    image = make_test_image()
    high, low = ref_piip.pixel_values(image, high_size, low_size)
    clip_heads = tiny_release.PIIP_CLIP["num_attention_heads"]  # the fixture's truth (the converter infers it)
    feats = ref_piip.features(state, backbone, high, low, clip_heads)
    sp = spm.SentencePieceProcessor(model_file=str(source / "tokenizer.model"))
    ids = ref.prompt_ids(sp, QUESTION)
    first, greedy_ids, margin = ref.greedy(state, config, ids, feats, 16)
    # Both branches reach the answer: the low branch's input zeroed changes the features.
    low_matters = float((ref_piip.features(state, backbone, high, torch.zeros_like(low), clip_heads) - feats).abs().max())
    snapped = _on_q4_grid(state, _llama_matrix)
    first_q4, greedy_q4, margin_q4 = ref.greedy(snapped, config, ids, feats, 16)
    _write_f32(FIXTURES / "piip-image_features.f32", feats)
    _write_f32(FIXTURES / "piip-first_logits.f32", first)
    _write_f32(FIXTURES / "piip-first_logits_q4_reference.f32", first_q4)
    golden = {
        "question": QUESTION,
        "image": "image.png",
        "resolution": high_size,
        "low_resolution": low_size,
        "prompt_ids_llava": ids,
        "image_token_id": config["vocab_size"],
        "num_image_tokens": feats.shape[1],
        "pixel_values": {"shape": list(high.shape), **_stats(high)},
        "pixel_values_low": {"shape": list(low.shape), **_stats(low)},
        "low_input_zeroed_max_change": low_matters,
        "image_features": {"file": "piip-image_features.f32", "shape": list(feats.shape), **_stats(feats)},
        "first_logits": {"file": "piip-first_logits.f32", "argmax": int(first.argmax())},
        "first_logits_q4_reference": {"file": "piip-first_logits_q4_reference.f32",
                                      **_q4_cosines(first, first_q4, lambda st, i: ref.greedy(st, config, i, feats, 1)[0], lambda q: ref.prompt_ids(sp, q), state, snapped),
                                      "greedy_ids": greedy_q4, "min_top2_margin": margin_q4},
        "greedy_ids": greedy_ids,
        "greedy_text": sp.decode(greedy_ids),
        "min_top2_margin": margin,
        "converter": report,
    }
    _write_json(FIXTURES / "piip-golden.json", golden)
    print(json.dumps({k: golden[k] for k in ("greedy_ids", "min_top2_margin", "num_image_tokens", "low_input_zeroed_max_change")}))


if __name__ == "__main__":
    main()
