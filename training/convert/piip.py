"""PIIP-LLaVA (LLaVA-llama format, `mm_vision_tower` a PIIP config .py) -> a Loupe `piip`
bundle.

Key mapping: `model.vision_tower.vision_tower.X` -> `vision.tower.X` (piip_tower.py keeps the
released names: `branch1.clip_model.*`, `branch2.convnext_model.*`,
`interactions.k.interaction_units_12.*`), timm's layer scale `blocks.j.weight` -> `gamma`;
`model.mm_projector.branch{1,2}.*` -> `vision.projector.*`; the Llama decoder and the -200
image token as ConvLLaVA (convllava.py). Left out: CLIP's `post_layernorm` and
`position_ids`, timm's `head` / `norm_pre` (PIIP's forward never reaches them).

Sizes come from the tower config file (image sizes, interaction slices, deformable heads /
points / ratios) and from tensor shapes (widths, depths, patch, position table). CLIP's
head count is not in either: CLIP-B/L use 64-wide heads, so heads = width / 64.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from ..bundle_config import llama_text_config
from ..families.clip_vit import ClipVisionConfig
from ..loupe_models import LlamaConfig, LlamaDecoder
from .convllava import _language_key, fill, text_config, vicuna_files, weight_report
from .piip_tower import PiipTowerConfig, PiipVisionTower

TOWER = "model.vision_tower.vision_tower."
CLIP_HEAD_DIM = 64
IGNORED = (r"branch1\.clip_model\.post_layernorm\.", r"position_ids$", r"branch2\.convnext_model\.(head|norm_pre)\.")


def detect(config: dict) -> bool:
    return "LlavaLlamaForCausalLM" in config.get("architectures", []) and str(config.get("mm_vision_tower", "")).endswith(".py")


def _key(name: str) -> str | None:
    if name.startswith(TOWER):
        rest = name[len(TOWER):]
        if any(re.search(p, rest) for p in IGNORED):
            return None
        return "vision.tower." + re.sub(r"(blocks\.\d+)\.weight$", r"\1.gamma", rest)
    if name.startswith("model.mm_projector."):
        return "vision.projector." + name.removeprefix("model.mm_projector.")
    return _language_key(name)


def tower_config(tower_py: dict, shapes: dict[str, torch.Size]) -> PiipTowerConfig:
    backbone = tower_py["backbone"]
    b1, b2 = backbone["branch1"], backbone["branch2"]
    for branch, kind in ((b1, "clip_hf"), (b2, "convnext_timm")):
        if branch.get("model_type") != kind:
            raise SystemExit(f"PIIP tower: this converter reads branch1 clip_hf + branch2 convnext_timm (the released PIIP-LLaVA towers), not {b1.get('model_type')} + {b2.get('model_type')}")
    if backbone.get("interact_attn_type", "normal") != "deform" or backbone.get("model_cls") != "2branch_mix":
        raise SystemExit("PIIP tower: only model_cls 2branch_mix with deformable interactions is supported")
    c = "vision.tower.branch1.clip_model."
    width, _, patch, _ = shapes[c + "embeddings.patch_embedding.weight"]
    layers = sum(1 for k in shapes if re.fullmatch(re.escape(c) + r"encoder\.layers\.\d+\.layer_norm1\.weight", k))
    grid = int(round(math.sqrt(shapes[c + "embeddings.position_embedding.weight"][0] - 1)))
    clip = ClipVisionConfig(hidden_size=width, intermediate_size=shapes[c + "encoder.layers.0.mlp.fc1.weight"][0], num_hidden_layers=layers,
                            num_attention_heads=max(1, width // CLIP_HEAD_DIM), image_size=grid * patch, patch_size=patch, layer_norm_eps=1e-5)
    cn = "vision.tower.branch2.convnext_model.stages."
    dims, depths = [], []
    while f"{cn}{len(dims)}.blocks.0.norm.weight" in shapes:
        s = len(dims)
        dims.append(shapes[f"{cn}{s}.blocks.0.norm.weight"][0])
        depths.append(sum(1 for k in shapes if re.fullmatch(re.escape(f"{cn}{s}.blocks.") + r"\d+\.norm\.weight", k)))
    return PiipTowerConfig(
        clip=clip, convnext_dims=dims, convnext_depths=depths, high_size=b2["img_size"],
        clip_interactions=[[r[0], r[-1]] for r in b1["interaction_indexes"]],
        convnext_interactions=[[r[0], r[-1]] for r in b2["interaction_indexes"]],
        heads=backbone.get("deform_num_heads", 6), points=backbone.get("n_points", 4), deform_ratio=backbone.get("deform_ratio", 1.0),
        cffn_ratio=backbone.get("cffn_ratio", 0.25), with_cffn=backbone.get("with_cffn", False), with_proj=backbone.get("interaction_proj", True),
    )


class PiipLlava(nn.Module):
    def __init__(self, vision: PiipTowerConfig, text: LlamaConfig, decoder: bool):
        super().__init__()
        self.vision_cfg, self.text_cfg = vision, text
        self.vision = PiipVisionTower(vision, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)
        if decoder:
            self.decoder = LlamaDecoder(text)


@torch.no_grad()
def build_model(config: dict, tower_py: dict, weights, decoder: bool = True) -> tuple[PiipLlava, dict]:
    """(model filled from the checkpoint's tensors, read shard by shard; weight report).
    decoder=False keeps only the tower, projector and embeddings in memory."""
    mapped: dict[str, torch.Tensor] = {}
    sizes: dict[str, int] = {}
    for name, tensor in weights:
        key = _key(name)
        if key is None:
            continue
        sizes[name] = tensor.numel() * tensor.element_size()
        if decoder or not key.startswith("decoder."):
            mapped[key] = tensor.float()
    vision = tower_config(tower_py, {k: v.shape for k, v in mapped.items()})
    model = PiipLlava(vision, text_config(config), decoder)
    return fill(model, mapped, config, "PIIP-LLaVA"), weight_report(sizes)


def json_files(config: dict, tower_py: dict, model: PiipLlava, report: dict, tokenizer: dict, dtypes: dict[str, str], external: dict[str, int]) -> dict[str, dict]:
    v, t = model.vision_cfg, model.text_cfg
    b1 = tower_py["backbone"]["branch1"]
    high, low = v.high_size, b1["img_size"]
    bos, eos = config.get("bos_token_id", 1), config.get("eos_token_id", 2)
    clip = v.clip
    model_config = {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": config["vocab_size"],
        "vocab_size": config["vocab_size"] + 1,
        "vision_config": {
            "model_type": "piip", "hidden_sizes": v.convnext_dims, "depths": v.convnext_depths, "patch_size": 4, "layer_norm_eps": 1e-6,
            # The wider branch, on the low-resolution input: a CLIP ViT (Loupe reads it for device limits).
            "low_branch": {"model_type": "clip_vision_model", "hidden_size": clip.hidden_size, "intermediate_size": clip.intermediate_size,
                           "num_hidden_layers": clip.num_hidden_layers, "num_attention_heads": clip.num_attention_heads,
                           "patch_size": clip.patch_size, "image_size": low},
            "interaction_indexes": {"branch1": v.clip_interactions, "branch2": v.convnext_interactions},
            "deform_num_heads": v.heads, "deform_num_points": v.points,
        },
        "text_config": llama_text_config(t, bos, eos),
        "transformers.js_config": {"dtype": dtypes, **({"use_external_data_format": external} if external else {})},
        "loupe_weights": report,
        "loupe_converted_from": {"architectures": config.get("architectures"), "mm_vision_tower": config.get("mm_vision_tower"), "image_token_index": -200},
    }
    mean = [0.485, 0.456, 0.406]
    preprocessor = {
        "image_processor_type": "CLIPImageProcessor",
        "size": {"shortest_edge": high}, "crop_size": {"height": high, "width": high},
        "do_center_crop": True, "do_normalize": True, "do_rescale": True, "rescale_factor": 1 / 255,
        "image_mean": mean, "image_std": [0.229, 0.224, 0.225], "resample": 3,
        "loupe": {"strategy": "pyramid", "resolution": high, "low_resolution": low, "resolutions": [high], "stride": v.stride,
                  "low_stride": clip.patch_size, "pad_color": [int(m * 255) for m in mean]},
    }
    return {"config.json": model_config, "preprocessor_config.json": preprocessor, **vicuna_files(config, t, tokenizer)}
