"""`tiny-random-llava15`: llava-hf/llava-1.5 (CLIP ViT-L/14-336 + Vicuna) scaled down.

`llava` with vision_config `clip_vision_model` (112 px, patch 14 -> 8x8 = 64 patches +
CLS) and a Llama text_config; features from hidden state -2 with CLS dropped, then the
`mlp2x_gelu` projector, all inside `vision_encoder` (fixed 112x112 input). Tokenizer and
vicuna_v1 template are tiny-random-convllava's. CLIP mean/std, shortest edge + crop 112.
"""

from __future__ import annotations

from .. import bundle_config
from ..corpus import CORPUS
from ..loupe_models import LlamaConfig
from ..preprocess import CLIP_MEAN, CLIP_STD
from ..tokenizer_bpe import BOS_ID, EOS_ID, IMAGE_ID, PAD_ID, SPECIAL_TOKENS, ByteLevelBPE, render_vicuna_prompt
from ..tokenizer_bpe import tokenizer_config as vicuna_tokenizer_config
from .clip_processor import ClipProcessorConfig
from .clip_vit import ClipVisionConfig, ClipVisionEncoder
from .family import Family

VOCAB_SIZE = 512
VISION = ClipVisionConfig()


def _encoder():
    return ClipVisionEncoder(VISION), VISION.hidden_size


def _json_files(f: Family) -> dict[str, dict]:
    t, v = f.text, VISION
    config = {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": IMAGE_ID,
        "projector_hidden_act": "gelu",
        "vision_feature_select_strategy": "default",
        "vision_feature_layer": v.feature_layer,
        "image_seq_length": f.num_image_tokens,
        "pad_token_id": PAD_ID,
        "tie_word_embeddings": False,
        "vocab_size": t.vocab_size,
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": v.hidden_size,
            "intermediate_size": v.intermediate_size,
            "num_hidden_layers": v.num_hidden_layers,
            "num_attention_heads": v.num_attention_heads,
            "image_size": v.image_size,
            "patch_size": v.patch_size,
            "num_channels": 3,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": v.layer_norm_eps,
        },
        "text_config": {
            "model_type": "llama",
            "hidden_size": t.hidden_size,
            "intermediate_size": t.intermediate_size,
            "num_hidden_layers": t.num_hidden_layers,
            "num_attention_heads": t.num_attention_heads,
            "num_key_value_heads": t.num_key_value_heads,
            "head_dim": t.head_dim,
            "max_position_embeddings": t.max_position_embeddings,
            "rms_norm_eps": t.rms_norm_eps,
            "rope_theta": t.rope_theta,
            "hidden_act": "silu",
            "vocab_size": t.vocab_size,
            "bos_token_id": BOS_ID,
            "eos_token_id": EOS_ID,
            "pad_token_id": PAD_ID,
            "tie_word_embeddings": False,
        },
        "transformers.js_config": {
            "dtype": {"vision_encoder": "fp32", "embed_tokens": "fp32", "decoder_model_merged": "fp32"},
        },
    }
    return {
        "config.json": config,
        "generation_config.json": bundle_config.generation_config(t.max_position_embeddings),
        "preprocessor_config.json": f.processor.json(),
        # No vision_feature_select_strategy here: HF Python would then subtract 1 for
        # "default" and transformers.js 4.3 would not (see training/README.md).
        "processor_config.json": {
            "processor_class": "LlavaProcessor",
            "image_token": SPECIAL_TOKENS[IMAGE_ID],
            "patch_size": f.patch_size,
            "num_additional_image_tokens": 0,
        },
        "tokenizer.json": f.tokenizer.tokenizer_json(),
        "tokenizer_config.json": vicuna_tokenizer_config(t.max_position_embeddings),
    }


def family() -> Family:
    return Family(
        name="tiny-random-llava15",
        text=LlamaConfig(vocab_size=VOCAB_SIZE),
        make_encoder=_encoder,
        tokenizer=ByteLevelBPE.train(CORPUS, VOCAB_SIZE),
        render_prompt=render_vicuna_prompt,
        processor=ClipProcessorConfig(
            shortest_edge=VISION.image_size,
            crop_height=VISION.image_size,
            crop_width=VISION.image_size,
            image_mean=CLIP_MEAN,
            image_std=CLIP_STD,
        ),
        patch_size=VISION.patch_size,
        image_token_id=IMAGE_ID,
        special_ids=set(range(len(SPECIAL_TOKENS))),
        trace_size=(VISION.image_size, VISION.image_size),
        dynamic_size=False,
        exact_image_size=(VISION.image_size, VISION.image_size + 39),  # odd surplus, vertical crop
        json_files=_json_files,
    )
