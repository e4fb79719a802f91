"""`tiny-random-piip`: a PIIP-LLaVA-style bundle in miniature (families/piip.py), with
golden values.

    /usr/bin/python3 -m training.make_family_bundles --only piip

`llava` with vision_config `piip`: a narrow ConvNeXt [8, 16, 24, 32] on the 256 px input
and a wider one [16, 32, 48, 64] on the 128 px input (both stride 32), deformable
cross-attention both ways after stages 1 and 2 (2 heads, 4 points), merged on the high
grid: 8 x 8 = 64 tokens. `vision_encoder.onnx` takes `pixel_values` and `pixel_values_low`,
each of any size that is a multiple of 32. Llama decoder, tokenizer and vicuna_v1 prompt
as tiny-random-convllava.

Goldens follow the runtime's path on the 200 x 150 test image: `plan_pyramid` (pad with
(123, 116, 103), bicubic to 256), ImageNet normalisation, the low input as the bilinear
downscale of the normalised high tensor, the graph, 16 greedy ids. A seed is kept when
the greedy output is clear-cut and both the image and the low branch's input (zeroed)
change it.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import bundle_config
from ..bundle_config import llama_text_config
from ..corpus import CORPUS
from ..loupe_models import LlamaConfig, LlamaDecoder
from ..make_tiny_bundle import _write_f32, _write_json
from ..preprocess import IMAGENET_MEAN, IMAGENET_STD, make_test_image
from ..preprocess_plans import PYRAMID_FILL, plan_pyramid
from ..preprocess_pixels import execute
from ..tiny_model import expand_image_tokens, greedy_generate, prompt_embeddings
from ..tokenizer_bpe import BOS_ID, EOS_ID, IMAGE_ID, PAD_ID, SPECIAL_TOKENS, ByteLevelBPE, render_vicuna_prompt
from ..tokenizer_bpe import tokenizer_config as vicuna_tokenizer_config
from .build import MAX_SEEDS, NEW_TOKENS, QUESTION, REPO
from .graph_bundle import export_graphs, random_model, rejection, tensor_record, write_golden
from .piip import PiipConfig, PiipVision

NAME = "tiny-random-piip"
VOCAB_SIZE = 512
VISION = PiipConfig()
HIGH, LOW = 256, 128
STRIDE = VISION.high.stride


class Piip(nn.Module):
    def __init__(self, text: LlamaConfig):
        super().__init__()
        self.text_cfg = text
        self.vision = PiipVision(VISION, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)
        self.decoder = LlamaDecoder(text)


def inputs_for(image, sizes: tuple[int, int] = (HIGH, LOW)) -> tuple[torch.Tensor, torch.Tensor]:
    high, low = execute(plan_pyramid(image.width, image.height, *sizes), image)
    return torch.from_numpy(high.tensor), torch.from_numpy(low.tensor)


def _greedy(model: Piip, input_ids: list[int], high: torch.Tensor, low: torch.Tensor):
    with torch.no_grad():
        features = model.vision(high, low)
    return greedy_generate(model, prompt_embeddings(model, input_ids, features, IMAGE_ID), NEW_TOKENS), features


def _branch(c) -> dict:
    return {"model_type": "convnext", "hidden_sizes": c.hidden_sizes, "depths": c.depths, "patch_size": c.patch_size, "layer_norm_eps": c.layer_norm_eps}


def json_files(tok: ByteLevelBPE, text: LlamaConfig) -> dict[str, dict]:
    config = {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": IMAGE_ID,
        "vocab_size": text.vocab_size,
        "vision_config": {
            **_branch(VISION.high),
            "model_type": "piip",
            # The wider branch on the low-resolution input (Loupe reads it for device limits).
            "low_branch": _branch(VISION.low),
            "interactions": list(VISION.interactions),
            "deform_num_heads": VISION.heads,
            "deform_num_points": VISION.points,
        },
        "text_config": llama_text_config(text, BOS_ID, EOS_ID, PAD_ID),
        "transformers.js_config": {"dtype": {"vision_encoder": "fp32", "embed_tokens": "fp32", "decoder_model_merged": "fp32"}},
    }
    preprocessor = {
        "image_processor_type": "CLIPImageProcessor",
        "size": {"height": HIGH, "width": HIGH},
        "resample": 3,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(IMAGENET_MEAN),
        "image_std": list(IMAGENET_STD),
        "loupe": {
            "strategy": "pyramid",
            "resolution": HIGH,
            "low_resolution": LOW,
            "resolutions": [HIGH // 2, HIGH * 3 // 4, HIGH],
            "stride": STRIDE,
            "pad_color": list(PYRAMID_FILL),
        },
    }
    return {
        "config.json": config,
        "generation_config.json": bundle_config.generation_config(text.max_position_embeddings),
        "preprocessor_config.json": preprocessor,
        "tokenizer.json": tok.tokenizer_json(),
        "tokenizer_config.json": vicuna_tokenizer_config(text.max_position_embeddings),
    }


def build(first_seed: int = 0) -> dict:
    tok = ByteLevelBPE.train(CORPUS, VOCAB_SIZE)
    text = LlamaConfig(vocab_size=VOCAB_SIZE)
    specials = set(range(len(SPECIAL_TOKENS)))
    bundle, fixtures = REPO / "public/models" / NAME, REPO / "e2e/fixtures" / NAME
    fixtures.mkdir(parents=True, exist_ok=True)

    image = make_test_image()
    high, low = inputs_for(image)
    grey_high, grey_low = inputs_for(image.point(lambda _: 128))
    tokens = (HIGH // STRIDE) ** 2
    prompt_text = render_vicuna_prompt([{"role": "user", "content": f"{SPECIAL_TOKENS[IMAGE_ID]}\n{QUESTION}"}])
    prompt_ids = tok.encode(prompt_text)
    input_ids = expand_image_tokens(prompt_ids, IMAGE_ID, tokens)
    prompt = {"question": QUESTION, "prompt_text": prompt_text, "prompt_ids": prompt_ids, "input_ids_expanded": input_ids,
              "image_token_id": IMAGE_ID, "num_image_tokens": tokens}

    for seed in range(first_seed, first_seed + MAX_SEEDS):
        model = random_model(lambda: Piip(text), seed)
        result, features = _greedy(model, input_ids, high, low)
        reason = rejection(result, specials, {
            "the image": _greedy(model, input_ids, grey_high, grey_low)[0].ids,
            "zeroing the low branch's input": _greedy(model, input_ids, high, torch.zeros_like(low))[0].ids,
        })
        if reason:
            print(f"{NAME}: seed {seed} rejected: {reason}")
            continue
        gen = torch.Generator().manual_seed(0)
        # Trace at a size pair other than the defaults (and non-square) so no size is baked in.
        dummy = (torch.randn(1, 3, 192, 224, generator=gen), torch.randn(1, 3, 96, 128, generator=gen))
        axes = {
            "pixel_values": {0: "batch_size", 2: "height", 3: "width"},
            "pixel_values_low": {0: "batch_size", 2: "low_height", 3: "low_width"},
            "image_features": {0: "batch_size", 1: "num_image_tokens"},
        }
        sizes = export_graphs(model, bundle / "onnx", dummy, ["pixel_values", "pixel_values_low"], axes)
        for name, content in json_files(tok, text).items():
            _write_json(bundle / name, content)
        # The same image planned at 192 / 96 (what a device fit makes of 256 / 128): the
        # graph at another size pair.
        small_high, small_low = inputs_for(image, (192, 96))
        with torch.no_grad():
            small_features = model.vision(small_high, small_low)
        _write_f32(fixtures / "small_image_features.f32", small_features)
        return write_golden(fixtures, NAME, seed, prompt, image, features, result, tok.decode, sizes, {
            "knobs": {"resolution": HIGH, "low_resolution": LOW},
            "pixel_values": {"shape": list(high.shape), **tensor_record(high)},
            "pixel_values_low": {"shape": list(low.shape), **tensor_record(low, (0, 20_001, 40_007))},
            "small": {"resolution": 192, "low_resolution": 96, "file": "small_image_features.f32", "shape": list(small_features.shape)},
            "low_branch_changes_output": True,
        })
    raise SystemExit(f"{NAME}: no usable seed in {MAX_SEEDS} tries")
