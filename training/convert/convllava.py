"""ConvLLaVA-sft (LLaVA-llama format, ConvNeXt tower) -> a Loupe `convllava` bundle.

Key mapping (HF / LLaVA names -> Loupe's modules, training/loupe_models):
- tower (`model.vision_tower.vision_tower.` in the sft shards, or a separate
  ConvNextModel checkpoint, optionally under `convnext.`): `embeddings.patch_embeddings`
  -> stage 0 `downsample.0`, `embeddings.layernorm` -> stage 0 `downsample.1`;
  `encoder.stages.i.downsampling_layer.{0,1}` -> stage i `downsample.{0,1}`;
  `encoder.stages.i.layers.j.{dwconv,layernorm,pwconv1,pwconv2,layer_scale_parameter}` ->
  `blocks.j.{dwconv,norm,pwconv1,pwconv2,layer_scale}` (timm's `gamma` / `weight` also taken);
- `model.mm_projector.{0,2}` -> projector `linear_{1,2}`;
- `model.embed_tokens`, `model.layers.*`, `model.norm`, `lm_head` -> embed_tokens and the
  decoder (same names);
- image token -200 is not an id: the bundle appends `<image>` (id = vocab size) with a zero
  embedding row, and an lm_head row whose logit is pinned at -1e4 (a bias), so it is never
  generated.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from ..bundle_config import llama_text_config
from ..loupe_models import ConvNeXtConfig, LlamaConfig
from ..tiny_model import TinyConvLlava, VisionTower

TOWER_PREFIXES = ("model.vision_tower.vision_tower.", "vision_tower.vision_tower.")
IMAGE_TOKEN = "<image>"
NEVER = -1e4


def is_convllava(config: dict) -> bool:
    tower = str(config.get("mm_vision_tower", "")).lower()
    # PIIP-LLaVA names a Python config file (whose name may say convnext too).
    return "LlavaLlamaForCausalLM" in config.get("architectures", []) and "convnext" in tower and not tower.endswith(".py")


def _tower_key(name: str) -> str | None:
    """HF ConvNextModel / timm name -> Loupe's `vision.encoder.*`, None for the rest."""
    name = name.removeprefix("convnext.")
    rules = [
        (r"^embeddings\.patch_embeddings\.(weight|bias)$", r"stages.0.downsample.0.\1"),
        (r"^embeddings\.layernorm\.(weight|bias)$", r"stages.0.downsample.1.\1"),
        (r"^encoder\.stages\.(\d+)\.downsampling_layer\.([01])\.(weight|bias)$", r"stages.\1.downsample.\2.\3"),
        (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm\.(weight|bias)$", r"stages.\1.blocks.\2.norm.\3"),
        (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.(dwconv|pwconv1|pwconv2)\.(weight|bias)$", r"stages.\1.blocks.\2.\3.\4"),
        (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.(layer_scale_parameter|gamma|weight)$", r"stages.\1.blocks.\2.layer_scale"),
    ]
    for pattern, target in rules:
        if re.match(pattern, name):
            return "vision.encoder." + re.sub(pattern, target, name)
    return None


def _language_key(name: str) -> str | None:
    if name.startswith("model.mm_projector."):
        return {"0": "vision.projector.linear_1.", "2": "vision.projector.linear_2."}[name.split(".")[2]] + name.split(".")[-1]
    if name == "model.embed_tokens.weight":
        return "embed_tokens.weight"
    if name.startswith("model.layers.") or name == "model.norm.weight":
        return "decoder." + name.removeprefix("model.")
    if name == "lm_head.weight":
        return "decoder.lm_head.weight"
    return None


def tower_config(state_names: list[str], tower_json: dict | None) -> ConvNeXtConfig:
    """Depths and widths from a tower config.json, else read off the tensor names / shapes."""
    if tower_json:
        return ConvNeXtConfig(hidden_sizes=list(tower_json["hidden_sizes"]), depths=list(tower_json["depths"]), patch_size=tower_json.get("patch_size", 4))
    depths: dict[int, int] = {}
    for name in state_names:
        m = re.match(r"vision\.encoder\.stages\.(\d+)\.blocks\.(\d+)\.", name)
        if m:
            depths[int(m[1])] = max(depths.get(int(m[1]), 0), int(m[2]) + 1)
    return ConvNeXtConfig(hidden_sizes=[], depths=[depths[i] for i in sorted(depths)])


def text_config(config: dict) -> LlamaConfig:
    heads = config["num_attention_heads"]
    return LlamaConfig(
        hidden_size=config["hidden_size"],
        intermediate_size=config["intermediate_size"],
        num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=heads,
        num_key_value_heads=config.get("num_key_value_heads", heads),
        head_dim=config["hidden_size"] // heads,
        max_position_embeddings=config.get("max_position_embeddings", 2048),
        rms_norm_eps=config.get("rms_norm_eps", 1e-6),
        rope_theta=config.get("rope_theta", 10000.0),
        vocab_size=config["vocab_size"] + 1,  # + <image>
    )


class VisionAndEmbeddings(nn.Module):
    """The parts exported through PyTorch when the decoder is streamed (stream_decoder.py):
    what `export_vision` and `export_embed` read, never the 27 GB fp32 decoder."""

    def __init__(self, vision: ConvNeXtConfig, text: LlamaConfig):
        super().__init__()
        self.vision_cfg, self.text_cfg = vision, text
        self.vision = VisionTower(vision, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)


@torch.no_grad()
def build_model(config: dict, weights, tower_weights=None, tower_json: dict | None = None, decoder: bool = True) -> tuple[nn.Module, dict]:
    """Loupe's ConvLLaVA module filled from the checkpoint's tensors (iterables of (name,
    tensor), read shard by shard) -> (model, report with the weight bytes and largest
    tensor). decoder=False: only the tower, projector and embeddings are kept in memory."""
    mapped: dict[str, torch.Tensor] = {}
    sizes: dict[str, int] = {}
    for source in (weights, tower_weights or ()):
        for name, tensor in source:
            tower_name = next((name[len(p):] for p in TOWER_PREFIXES if name.startswith(p)), name if source is tower_weights else None)
            key = _tower_key(tower_name) if tower_name is not None else _language_key(name)
            if key is None or (key in mapped and source is tower_weights):
                continue  # the copy in the sft shards wins over a separate tower
            sizes[name] = tensor.numel() * tensor.element_size()
            if decoder or not key.startswith("decoder."):
                mapped[key] = tensor.float()
    names = [k for k in mapped if k.startswith("vision.encoder.")]
    vision = tower_config(names, tower_json)
    if not vision.hidden_sizes:
        vision.hidden_sizes = [mapped[f"vision.encoder.stages.{i}.blocks.0.norm.weight"].shape[0] for i in range(len(vision.depths))]
    text = text_config(config)
    model = TinyConvLlava(vision, text) if decoder else VisionAndEmbeddings(vision, text)
    return fill(model, mapped, config, "ConvLLaVA"), weight_report(sizes)


def fill(model: nn.Module, mapped: dict[str, torch.Tensor], config: dict, what: str) -> nn.Module:
    """Loads the mapped tensors, with LLaVA's -200 turned into an appended `<image>`: a zero
    embedding row and (with a decoder) an lm_head row whose bias pins it at NEVER."""
    vocab, width = config["vocab_size"], model.text_cfg.hidden_size
    mapped["embed_tokens.weight"] = torch.cat([mapped["embed_tokens.weight"], torch.zeros(1, width)])
    if hasattr(model, "decoder"):
        mapped["decoder.lm_head.weight"] = torch.cat([mapped["decoder.lm_head.weight"], torch.zeros(1, width)])
        model.decoder.lm_head = nn.Linear(width, vocab + 1, bias=True)
        bias = torch.zeros(vocab + 1)
        bias[vocab] = NEVER
        mapped["decoder.lm_head.bias"] = bias
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise SystemExit(f"checkpoint does not fill Loupe's {what}: missing {missing[:8]}, unexpected {unexpected[:8]}")
    return model.eval()


def weight_report(sizes: dict[str, int]) -> dict:
    """What loading it costs, before any download: the checkpoint's weight bytes and largest tensor."""
    largest = max(sizes, key=sizes.get)
    return {"weight_bytes": sum(sizes.values()), "largest_tensor": {"name": largest, "bytes": sizes[largest]}, "tensors": len(sizes)}


def json_files(config: dict, model: nn.Module, report: dict, tokenizer: dict, dtypes: dict[str, str], external: dict[str, int]) -> dict[str, dict]:
    v, t = model.vision_cfg, model.text_cfg
    vocab = config["vocab_size"]
    resolution = int(config.get("mm_vision_resolution", 1536))
    stride = v.patch_size * 2 ** (len(v.hidden_sizes) - 1)
    bos, eos = config.get("bos_token_id", 1), config.get("eos_token_id", 2)
    model_config = {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": vocab,
        "projector_hidden_act": "gelu",
        "vision_feature_select_strategy": "full",
        "vision_feature_layer": -1,
        "vocab_size": vocab + 1,
        "vision_config": {"model_type": "convnext", "num_stages": len(v.hidden_sizes), "depths": v.depths, "hidden_sizes": v.hidden_sizes,
                          "patch_size": v.patch_size, "layer_norm_eps": 1e-6, "hidden_act": "gelu"},
        "text_config": llama_text_config(t, bos, eos),  # t.vocab_size counts the appended <image>
        "transformers.js_config": {"dtype": dtypes, **({"use_external_data_format": external} if external else {})},
        # What loading it costs, before any download (issue 13): the checkpoint's weights.
        "loupe_weights": report,
        "loupe_converted_from": {"architectures": config.get("architectures"), "mm_vision_tower": config.get("mm_vision_tower"),
                                 "image_token_index": -200},
    }
    preprocessor = {
        "image_processor_type": "CLIPImageProcessor",
        "size": {"shortest_edge": resolution},
        "crop_size": {"height": resolution, "width": resolution},
        "do_center_crop": False, "do_normalize": True, "do_rescale": True, "rescale_factor": 1 / 255,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
        "loupe": {"strategy": "convllava-square", "resolution": resolution, "resolutions": [resolution], "stride": stride,
                  "pad_color": [122, 116, 104], "token_budget": (resolution // stride) ** 2},
    }
    return {"config.json": model_config, "preprocessor_config.json": preprocessor, **vicuna_files(config, t, tokenizer)}


def vicuna_files(config: dict, t: LlamaConfig, tokenizer: dict) -> dict[str, dict]:
    """The LLaVA-llama text side: vicuna_v1 chat template, SentencePiece-derived tokenizer,
    generation config, LlavaProcessor."""
    bos, eos = config.get("bos_token_id", 1), config.get("eos_token_id", 2)
    chat_template = (
        "{{ bos_token }}" + "A chat between a curious user and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the user's questions. "
        "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'USER: ' + message['content'] + ' ' }}"
        "{% elif message['role'] == 'assistant' %}{{ 'ASSISTANT: ' + message['content'] + eos_token }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
    )
    pieces = {i: p for p, i in tokenizer["model"]["vocab"].items()}
    tokenizer_config = {
        "tokenizer_class": "LlamaTokenizer", "add_bos_token": False, "add_eos_token": False, "legacy": True,
        "bos_token": pieces[bos], "eos_token": pieces[eos], "unk_token": tokenizer["model"]["unk_token"],
        "model_max_length": t.max_position_embeddings, "clean_up_tokenization_spaces": False,
        "chat_template": chat_template,
    }
    return {
        "generation_config.json": {"bos_token_id": bos, "eos_token_id": eos, "max_length": t.max_position_embeddings},
        "processor_config.json": {"processor_class": "LlavaProcessor", "image_token": IMAGE_TOKEN},
        "tokenizer.json": tokenizer,
        "tokenizer_config.json": tokenizer_config,
    }
