"""MC-LLaVA (`model_type` mc-llava: SigLIP crops with coordinates, Phi-2) -> a Loupe
`mc-llava` bundle.

Key mapping (released names -> Loupe's modules, training/families/siglip.py and
training/loupe_models/phi.py):
- `vision_model.vision_tower.vision_model.{embeddings.patch_embedding, embeddings.position_embedding,
  encoder.layers.i.*}` -> `vision.encoder.{patch_embedding, position_embedding, layers.i.*}`
  (same names inside a layer); `post_layernorm` and a pooling `head` are not used (MC-LLaVA
  reads the last hidden state);
- `vision_model.coord_embed.{0,2}` -> `vision.coord_embed.{0,2}`;
- `multi_modal_projector.linear_{1,2}` -> `vision.projector.linear_{1,2}`;
- `language_model.model.embed_tokens` -> `embed_tokens`; `language_model.model.layers.i.*`,
  `.final_layernorm` -> `decoder.*`; `language_model.lm_head` -> `decoder.lm_head`.
`<image>` is a real id here (50297 in the release), so the vocabulary is kept as is.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from ..families.siglip import McLlavaVision, SiglipConfig
from ..loupe_models.phi import PhiConfig, PhiDecoder
from .convllava import weight_report

TOWER = "vision_model.vision_tower.vision_model."
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def detect(config: dict) -> bool:
    return config.get("model_type") == "mc-llava"


class McLlava(nn.Module):
    def __init__(self, vision: SiglipConfig, text: PhiConfig, decoder: bool = True):
        super().__init__()
        self.text_cfg = text
        self.vision = McLlavaVision(vision, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)
        if decoder:
            self.decoder = PhiDecoder(text)


def _key(name: str) -> str | None:
    if name.startswith(TOWER):
        rest = name[len(TOWER):]
        if rest.startswith(("post_layernorm.", "head.")):
            return None
        return "vision.encoder." + re.sub(r"^embeddings\.", "", rest).replace("encoder.layers.", "layers.")
    rules = [
        (r"^vision_model\.coord_embed\.([02])\.(weight|bias)$", r"vision.coord_embed.\1.\2"),
        (r"^multi_modal_projector\.(linear_[12])\.(weight|bias)$", r"vision.projector.\1.\2"),
        (r"^language_model\.model\.embed_tokens\.weight$", "embed_tokens.weight"),
        (r"^language_model\.model\.(layers\.\d+\..+|final_layernorm\.(weight|bias))$", r"decoder.\1"),
        (r"^language_model\.lm_head\.(weight|bias)$", r"decoder.lm_head.\1"),
    ]
    for pattern, target in rules:
        if re.match(pattern, name):
            return re.sub(pattern, target, name)
    return None


def configs(config: dict) -> tuple[SiglipConfig, PhiConfig]:
    v, t = config["vision_config"], config["text_config"]
    vision = SiglipConfig(hidden_size=v["hidden_size"], intermediate_size=v["intermediate_size"], num_hidden_layers=v["num_hidden_layers"],
                          num_attention_heads=v["num_attention_heads"], image_size=v["image_size"], patch_size=v["patch_size"],
                          layer_norm_eps=v.get("layer_norm_eps", 1e-6))
    text = PhiConfig(hidden_size=t["hidden_size"], intermediate_size=t["intermediate_size"], num_hidden_layers=t["num_hidden_layers"],
                     num_attention_heads=t["num_attention_heads"], partial_rotary_factor=t.get("partial_rotary_factor", 0.4),
                     rope_theta=t.get("rope_theta", 10000.0), layer_norm_eps=t.get("layer_norm_eps", 1e-5),
                     vocab_size=t.get("vocab_size", config.get("vocab_size")), max_position_embeddings=t.get("max_position_embeddings", 2048))
    return vision, text


@torch.no_grad()
def build_model(config: dict, weights, decoder: bool = True) -> tuple[McLlava, dict]:
    """decoder=False: only the tower, projector and embeddings in memory (the q4 decoder is
    streamed by stream_decoder.write_phi_q4)."""
    vision, text = configs(config)
    model = McLlava(vision, text, decoder)
    mapped, sizes = {}, {}
    for name, tensor in weights:
        key = _key(name)
        if key is not None:
            sizes[name] = tensor.numel() * tensor.element_size()
            if decoder or not key.startswith("decoder."):
                mapped[key] = tensor.float()
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not k.endswith("inv_freq")]
    if missing or unexpected:
        raise SystemExit(f"checkpoint does not fill Loupe's MC-LLaVA: missing {missing[:8]}, unexpected {unexpected[:8]}")
    return model.eval(), weight_report(sizes)


def json_files(config: dict, model: McLlava, report: dict, tokenizer: dict, tokenizer_config: dict, dtypes: dict[str, str], external: dict[str, int]) -> dict[str, dict]:
    v, t = config["vision_config"], model.text_cfg
    eos = config["text_config"].get("eos_token_id", tokenizer["model"]["vocab"].get("<|im_end|>"))
    model_config = {
        "model_type": "mc-llava",
        "architectures": config.get("architectures", ["LlavaForCausalLM"]),
        "image_token_index": config["image_token_index"],
        "vocab_size": t.vocab_size,
        "vision_config": {"model_type": "siglip_vision_model", **{k: v[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                                                                    "num_attention_heads", "image_size", "patch_size")}},
        "text_config": {"model_type": "phi", "hidden_size": t.hidden_size, "intermediate_size": t.intermediate_size,
                        "num_hidden_layers": t.num_hidden_layers, "num_attention_heads": t.num_attention_heads,
                        "num_key_value_heads": t.num_key_value_heads, "head_dim": t.head_dim,
                        "partial_rotary_factor": t.partial_rotary_factor, "rope_theta": t.rope_theta, "layer_norm_eps": t.layer_norm_eps,
                        "max_position_embeddings": t.max_position_embeddings, "vocab_size": t.vocab_size, "eos_token_id": eos},
        "transformers.js_config": {"dtype": dtypes, **({"use_external_data_format": external} if external else {})},
        "loupe_weights": report,
        "loupe_converted_from": {"model_type": "mc-llava", "architectures": config.get("architectures")},
    }
    preprocessor = {
        "image_processor_type": "SiglipImageProcessor",
        "size": {"height": v["image_size"], "width": v["image_size"]},
        "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
    }
    return {
        "config.json": model_config,
        "generation_config.json": {"eos_token_id": eos, "max_length": t.max_position_embeddings},
        "preprocessor_config.json": preprocessor,
        "processor_config.json": {"processor_class": "MCLlavaProcessor", "image_token": "<image>"},
        "tokenizer.json": tokenizer,
        "tokenizer_config.json": {**tokenizer_config, "chat_template": CHAT_TEMPLATE},
    }
