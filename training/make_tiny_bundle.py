"""Build `public/models/tiny-random-convllava/` and its golden values in
`e2e/fixtures/tiny-random-convllava/`.

    /usr/bin/python3 -m training.make_tiny_bundle            (from the repo root)

Steps: train the tokenizer, pick the first seed whose random model is usefully
non-degenerate, export fp32 graphs, write the q4 / int8 variants, write the golden
values from PyTorch, then run `training/verify_bundle.mjs` (onnxruntime-web and
transformers.js in Node) and record what it measured. Any failed check aborts.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from PIL import Image

from . import bundle_config, export_onnx, quantize
from .evidence import answer_evidence
from .corpus import CORPUS
from .fixtures import write_bad_io_fixture
from .loupe_models import ConvNeXtConfig, LlamaConfig
from .preprocess import make_test_image, preprocess_square
from .quant_sim import cosine, with_int8_vision_and_embed, with_q4_decoder
from .tiny_model import TinyConvLlava, expand_image_tokens, greedy_generate, init_weights, prompt_embeddings
from .tokenizer_bpe import EOS_ID, IMAGE_ID, ByteLevelBPE, render_vicuna_prompt, tokenizer_config

REPO = Path(__file__).resolve().parent.parent
BUNDLE = Path("public/models/tiny-random-convllava")
FIXTURES = Path("e2e/fixtures/tiny-random-convllava")
BAD_IO = Path("e2e/fixtures/bad-io")

FIRST_SEED = 0
MAX_SEEDS = 100
RESOLUTION = 128
QUESTION = "What is in the image?"
NEW_TOKENS = 16
MIN_MARGIN = 0.05
MIN_COSINE = 0.99
TOKENIZER_SAMPLES = ["Hello world!", "café 🙂", "  two  spaces\tand\ttabs\n\nend ", "<s>USER: 42 + 7 = 49</s>"]


def _model_configs() -> tuple[ConvNeXtConfig, LlamaConfig]:
    return ConvNeXtConfig(), LlamaConfig()


def screen_seed(seed: int, input_ids: list[int], pixels: torch.Tensor, grey: torch.Tensor):
    """Build the model for `seed`; return (model, report) or (None, reason)."""
    torch.manual_seed(seed)
    model = TinyConvLlava(*_model_configs())
    init_weights(model, seed)
    model.eval()
    with torch.no_grad():
        features = model.vision(pixels)
        grey_features = model.vision(grey)
    result = greedy_generate(model, prompt_embeddings(model, input_ids, features, IMAGE_ID), NEW_TOKENS)
    if min(result.margins) < MIN_MARGIN:
        return None, f"top-2 margin {min(result.margins):.4f}"
    if EOS_ID in result.ids:
        return None, "generates EOS"
    grey_ids = greedy_generate(model, prompt_embeddings(model, input_ids, grey_features, IMAGE_ID), NEW_TOKENS).ids
    if grey_ids == result.ids:
        return None, "image does not change the output"

    q4 = with_q4_decoder(model)
    q4_logits = greedy_generate(q4, prompt_embeddings(q4, input_ids, features, IMAGE_ID), 1).prompt_logits
    int8 = with_int8_vision_and_embed(model)
    with torch.no_grad():
        int8_features = int8.vision(pixels)
        ids = torch.tensor([input_ids])
        embed_cos = cosine(int8.embed_tokens(ids), model.embed_tokens(ids))
    sims = {
        "decoder_q4_first_logits_cosine": cosine(q4_logits, result.prompt_logits),
        "vision_encoder_int8_cosine": cosine(int8_features, features),
        "embed_tokens_int8_cosine": embed_cos,
    }
    if min(sims.values()) < MIN_COSINE:
        return None, f"simulated quantization cosines {sims}"
    return model, {
        "features": features,
        "result": result,
        "q4_logits": q4_logits,
        "simulated": sims,
    }


def _write_f32(path: Path, t: torch.Tensor | np.ndarray) -> None:
    np.asarray(t, dtype="<f4").tofile(path)


def _stats(t: torch.Tensor) -> dict:
    return {"mean": float(t.mean()), "std": float(t.std()), "min": float(t.min()), "max": float(t.max())}


_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9][-0-9.eE+,\s]*?)\s*\]")


def _write_json(path: Path, data: dict) -> None:
    """Indented JSON, but lists of numbers (ids, slices) stay on one line."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    text = _NUMBER_LIST.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    path.write_text(text + "\n", encoding="utf-8")


def write_onnx(model: TinyConvLlava, onnx_dir: Path) -> dict:
    fp32 = {
        "vision_encoder": export_onnx.export_vision(model, onnx_dir / "vision_encoder.onnx"),
        "embed_tokens": export_onnx.export_embed(model, onnx_dir / "embed_tokens.onnx"),
        "decoder_model_merged": export_onnx.export_decoder(model, onnx_dir / "decoder_model_merged.onnx", evidence=True),
    }
    rewrites = [
        ("decoder_model_merged", "_q4", quantize.to_matmul_nbits),
        ("vision_encoder", "_int8", quantize.to_int8_weights),
        ("embed_tokens", "_int8", quantize.to_int8_weights),
    ]
    counts = {}
    for name, suffix, rewrite in rewrites:
        graph, n = rewrite(fp32[name])
        onnx.checker.check_model(graph)
        onnx.save(graph, str(onnx_dir / f"{name}{suffix}.onnx"))
        counts[f"{name}{suffix}"] = n
    return counts


def run_node_verifier() -> dict:
    proc = subprocess.run(
        ["node", "training/verify_bundle.mjs", str(BUNDLE), str(FIXTURES)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit("verify_bundle.mjs failed (see above)")
    sys.stderr.write(proc.stderr)  # the per-check ok lines
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-node", action="store_true", help="do not run the onnxruntime-web checks")
    args = parser.parse_args()

    tokenizer = ByteLevelBPE.train(CORPUS, LlamaConfig().vocab_size)
    prompt_text = render_vicuna_prompt([{"role": "user", "content": f"<image>\n{QUESTION}"}])
    prompt_ids = tokenizer.encode(prompt_text)
    vision_cfg, text_cfg = _model_configs()
    num_image_tokens = (RESOLUTION // vision_cfg.stride) ** 2
    input_ids = expand_image_tokens(prompt_ids, IMAGE_ID, num_image_tokens)

    image = make_test_image()
    pixel_values = preprocess_square(image, RESOLUTION)
    pixels = torch.from_numpy(pixel_values)
    grey = torch.from_numpy(preprocess_square(Image.new("RGB", image.size, (128, 128, 128)), RESOLUTION))

    for seed in range(FIRST_SEED, FIRST_SEED + MAX_SEEDS):
        model, report = screen_seed(seed, input_ids, pixels, grey)
        if model is not None:
            break
        print(f"seed {seed} rejected: {report}")
    else:
        raise SystemExit(f"no usable seed in {MAX_SEEDS} tries")
    print(f"seed {seed} accepted")

    bundle, fixtures = REPO / BUNDLE, REPO / FIXTURES
    onnx_dir = bundle / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    fixtures.mkdir(parents=True, exist_ok=True)
    counts = write_onnx(model, onnx_dir)

    _write_json(bundle / "config.json", bundle_config.model_config(vision_cfg, text_cfg))
    _write_json(bundle / "generation_config.json", bundle_config.generation_config(text_cfg.max_position_embeddings))
    _write_json(bundle / "preprocessor_config.json", bundle_config.preprocessor_config(RESOLUTION, vision_cfg.stride))
    _write_json(bundle / "tokenizer.json", tokenizer.tokenizer_json())
    _write_json(bundle / "tokenizer_config.json", tokenizer_config(text_cfg.max_position_embeddings))

    features, result = report["features"], report["result"]
    image.save(fixtures / "image.png", optimize=False)
    _write_f32(fixtures / "pixel_values.f32", pixel_values)
    _write_f32(fixtures / "image_features.f32", features)
    _write_f32(fixtures / "first_logits.f32", result.prompt_logits)
    _write_f32(fixtures / "first_logits_q4_reference.f32", report["q4_logits"])
    write_bad_io_fixture(REPO / BAD_IO / "vision_encoder.onnx")
    # Where the 16 greedy tokens looked: prompt + the first 15 of them, one forward.
    answer_embeds = torch.cat([prompt_embeddings(model, input_ids, features, IMAGE_ID), model.embed_tokens(torch.tensor([result.ids[:-1]]))], dim=1)
    evidence = answer_evidence(model.decoder, answer_embeds, len(input_ids), len(result.ids), (input_ids.index(IMAGE_ID), num_image_tokens))
    _write_f32(fixtures / "evidence.f32", evidence)

    golden = {
        "seed": seed,
        "torch_version": torch.__version__,
        "bundle_dir": str(BUNDLE),
        "image": {"file": "image.png", "width": image.size[0], "height": image.size[1]},
        "resolution": RESOLUTION,
        "question": QUESTION,
        "prompt_text": prompt_text,
        "prompt_ids": prompt_ids,
        "image_token_id": IMAGE_ID,
        "num_image_tokens": num_image_tokens,
        "input_ids_expanded": input_ids,
        "pixel_values": {"file": "pixel_values.f32", "shape": list(pixel_values.shape), **_stats(pixels)},
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
        "first_logits_q4_reference": {
            "file": "first_logits_q4_reference.f32",
            "note": "PyTorch logits with the q4 weights dequantized (what decoder_model_merged_q4 should give)",
        },
        "evidence": {
            "file": "evidence.f32",
            "note": "per image token: attention of the positions that produced the 16 greedy ids, mean over heads, layers and tokens (training/evidence.py)",
            "slice": evidence[:8].tolist(),
        },
        "greedy_ids": result.ids,
        "greedy_text": tokenizer.decode(result.ids),
        "min_top2_margin": min(result.margins),
        "image_changes_output": True,  # screen_seed rejects seeds where it does not
        "tokenizer_samples": [{"text": t, "ids": tokenizer.encode(t)} for t in TOKENIZER_SAMPLES],
        "quantized_matmuls_rewritten": counts,
        "quantized_simulated_torch": report["simulated"],
    }
    _write_json(fixtures / "golden.json", golden)

    if args.skip_node:
        print("skipping onnxruntime-web checks (--skip-node): golden.json has no `quantized` block")
        return
    measured = run_node_verifier()
    golden["quantized"] = measured["quantized"]
    golden["ort_fp32"] = measured["ort_fp32"]
    golden["ort_q4_vs_dequantized_reference_max_abs_diff"] = measured["q4_vs_dequantized_reference_max_abs_diff"]
    golden["onnxruntime_web_version"] = measured["onnxruntime_web_version"]
    _write_json(fixtures / "golden.json", golden)
    low = {k: v for k, v in measured["quantized"].items() if v < MIN_COSINE}
    if low:
        raise SystemExit(f"quantized cosine below {MIN_COSINE}: {low}")
    print(json.dumps({"seed": seed, "quantized": golden["quantized"], "ort_fp32": golden["ort_fp32"]}, indent=2))


if __name__ == "__main__":
    main()
