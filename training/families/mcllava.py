"""`tiny-random-mcllava`: MC-LLaVA (visheratin/MC-LLaVA-3b) in miniature, with golden values.

    /usr/bin/python3 -m training.make_family_bundles --only mcllava

The vision graph is MC-LLaVA's (families/siglip.py): a SigLIP-style ViT over each 384 px
crop (patch 32 here, 12 x 12 patches, patch 0 dropped -> 143 tokens per crop), the crop's
centre through `coord_embed` added to every token, `mlp2x_gelu`. It takes a batch of
crops and their `coords`; the runtime keeps each image's last `split` tokens (REFERENCE
§2). A Llama-style decoder stands in for Phi-2 (the layout is the ecosystem's; Phi-2's
weights are issue 13's converter's business), with MC-LLaVA's ChatML prompt (no system
turn) and `<|im_end|>` as EOS.

Golden values follow the runtime's whole path on a 640 x 480 image at max_crops 4 and
num_tokens 96: the crop plan (preprocess_plans.plan_multicrop), the pixels
(preprocess_pixels.execute, SigLIP's mean 0.5 / std 0.5), the graph on the batch of 3 with
their coords, the token selection, the prompt, 16 greedy tokens. A seed is kept when the
greedy output is clear-cut and both the image and the coords change it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..bundle_config import llama_text_config
from ..loupe_models import LlamaConfig, LlamaDecoder
from ..make_tiny_bundle import _write_json
from ..preprocess import make_test_image, normalise
from ..preprocess_plans import plan_multicrop
from ..preprocess_pixels import execute
from ..tiny_model import expand_image_tokens, greedy_generate, prompt_embeddings
from .build import REPO, MAX_SEEDS, NEW_TOKENS, QUESTION
from .graph_bundle import export_graphs, random_model, rejection, tensor_record, write_golden
from .chatml import ENDOFTEXT, IM_END, IM_START, IMAGE, SPECIAL_TOKENS, tokenizer_config, train_tokenizer
from .siglip import McLlavaVision, SiglipConfig

NAME = "tiny-random-mcllava"
VOCAB_SIZE = 512
VISION = SiglipConfig()
MEAN = STD = (0.5, 0.5, 0.5)
MAX_CROPS, NUM_TOKENS = 4, 96
IMAGE_SIZE = (640, 480)

# MC-LLaVA's prompt: ChatML without a system turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def render_prompt(messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Python twin of CHAT_TEMPLATE."""
    text = "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)
    return text + (f"{IM_START}assistant\n" if add_generation_prompt else "")


class McLlava(nn.Module):
    def __init__(self, text: LlamaConfig):
        super().__init__()
        self.text_cfg = text
        self.vision = McLlavaVision(VISION, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)
        self.decoder = LlamaDecoder(text)


def inputs_for(image) -> tuple[torch.Tensor, torch.Tensor, list[int], list]:
    """(pixel_values [M, 3, 384, 384], coords [M, 2], tokens kept per image, plan inputs)."""
    plan = plan_multicrop(image.width, image.height, MAX_CROPS, (NUM_TOKENS,))
    pixels = [normalise(p.rgb, MEAN, STD) for p in execute(plan, image)]
    coords = torch.tensor([i.coord for i in plan.inputs], dtype=torch.float32)
    keep = [i.keep_tokens[str(NUM_TOKENS)] for i in plan.inputs]
    return torch.from_numpy(np.concatenate(pixels)), coords, keep, plan.inputs


@torch.no_grad()
def selected_features(model: McLlava, pixel_values: torch.Tensor, coords: torch.Tensor, keep: list[int]) -> torch.Tensor:
    """The graph on the batch, then each image's last `keep[i]` tokens -> [1, sum(keep), D]."""
    out = model.vision(pixel_values, coords)
    return torch.cat([out[i, out.shape[1] - k :] for i, k in enumerate(keep)])[None]


def _greedy(model, input_ids, pixel_values, coords, keep, image_token_id):
    features = selected_features(model, pixel_values, coords, keep)
    return greedy_generate(model, prompt_embeddings(model, input_ids, features, image_token_id), NEW_TOKENS), features


def json_files(tok, text: LlamaConfig) -> dict[str, dict]:
    v, vocab = VISION, tok.vocab
    config = {
        "model_type": "mc-llava",
        "architectures": ["LlavaForCausalLM"],
        "image_token_index": vocab[IMAGE],
        "vision_embed_dim": v.hidden_size,
        "projector_hidden_act": "gelu",
        "vocab_size": text.vocab_size,
        "vision_config": {
            "model_type": "siglip_vision_model",
            "hidden_size": v.hidden_size,
            "intermediate_size": v.intermediate_size,
            "num_hidden_layers": v.num_hidden_layers,
            "num_attention_heads": v.num_attention_heads,
            "image_size": v.image_size,
            "patch_size": v.patch_size,
            "layer_norm_eps": v.layer_norm_eps,
            "hidden_act": "gelu_pytorch_tanh",
        },
        "text_config": llama_text_config(text, vocab[ENDOFTEXT], vocab[IM_END]),
        "transformers.js_config": {"dtype": {"vision_encoder": "fp32", "embed_tokens": "fp32", "decoder_model_merged": "fp32"}},
    }
    preprocessor = {
        "image_processor_type": "SiglipImageProcessor",
        "do_resize": True,
        "size": {"height": v.image_size, "width": v.image_size},
        "resample": 3,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(MEAN),
        "image_std": list(STD),
        # MC-LLaVA's processor knobs; the crop side is the tower's input size.
        "loupe": {"strategy": "multicrop", "max_crops": MAX_CROPS, "num_tokens": NUM_TOKENS, "crop_size": v.image_size},
    }
    tok_config = {**tokenizer_config(tok, text.max_position_embeddings), "chat_template": CHAT_TEMPLATE}
    return {
        "config.json": config,
        "generation_config.json": {"bos_token_id": vocab[ENDOFTEXT], "eos_token_id": vocab[IM_END], "max_length": text.max_position_embeddings},
        "preprocessor_config.json": preprocessor,
        "processor_config.json": {"processor_class": "MCLlavaProcessor", "image_token": IMAGE},
        "tokenizer.json": tok.tokenizer_json(),
        "tokenizer_config.json": tok_config,
    }


def export(model: McLlava, onnx_dir) -> dict:
    gen = torch.Generator().manual_seed(0)
    dummy = (torch.randn(2, 3, VISION.image_size, VISION.image_size, generator=gen), torch.rand(2, 2, generator=gen))
    axes = {"pixel_values": {0: "batch_size"}, "coords": {0: "batch_size"}, "image_features": {0: "batch_size"}}
    return export_graphs(model, onnx_dir, dummy, ["pixel_values", "coords"], axes)


def build(first_seed: int = 0) -> dict:
    tok = train_tokenizer(VOCAB_SIZE)
    text = LlamaConfig(vocab_size=VOCAB_SIZE)
    image_token = tok.vocab[IMAGE]
    specials = {tok.vocab[t] for t in SPECIAL_TOKENS}
    bundle, fixtures = REPO / "public/models" / NAME, REPO / "e2e/fixtures" / NAME
    fixtures.mkdir(parents=True, exist_ok=True)

    image = make_test_image(*IMAGE_SIZE)
    pixel_values, coords, keep, planned = inputs_for(image)
    grey = inputs_for(make_test_image(*IMAGE_SIZE).point(lambda _: 128))[0]
    centred = torch.full_like(coords, 0.5)
    prompt_text = render_prompt([{"role": "user", "content": f"{IMAGE}\n{QUESTION}"}])
    prompt_ids = tok.encode(prompt_text)
    input_ids = expand_image_tokens(prompt_ids, image_token, NUM_TOKENS)
    prompt = {"question": QUESTION, "prompt_text": prompt_text, "prompt_ids": prompt_ids, "input_ids_expanded": input_ids,
              "image_token_id": image_token, "num_image_tokens": NUM_TOKENS}

    for seed in range(first_seed, first_seed + MAX_SEEDS):
        model = random_model(lambda: McLlava(text), seed)
        result, features = _greedy(model, input_ids, pixel_values, coords, keep, image_token)
        reason = rejection(result, specials, {
            "the image": _greedy(model, input_ids, grey, coords, keep, image_token)[0].ids,
            "centring every crop's coords": _greedy(model, input_ids, pixel_values, centred, keep, image_token)[0].ids,
        })
        if reason:
            print(f"{NAME}: seed {seed} rejected: {reason}")
            continue
        sizes = export(model, bundle / "onnx")
        for name, content in json_files(tok, text).items():
            _write_json(bundle / name, content)
        return write_golden(fixtures, NAME, seed, prompt, image, features, result, tok.decode, sizes, {
            "knobs": {"max_crops": MAX_CROPS, "num_tokens": NUM_TOKENS},
            # The crop plan and each input's pixels (sum and a few slices; the tensors
            # themselves are 1.7 MB each).
            "inputs": [
                {"role": p.role, "crop_box": p.crop_box, "coord": p.coord, "keep": k, **tensor_record(pixel_values[i], (0, 70_001, 300_007))}
                for i, (p, k) in enumerate(zip(planned, keep))
            ],
            "tokens_per_crop": VISION.num_patches - 1,
            "coords_change_output": True,
        })
    raise SystemExit(f"{NAME}: no usable seed in {MAX_SEEDS} tries")
