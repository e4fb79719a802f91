"""The JSON files of a LLaVA-style bundle, as the HF / transformers.js ecosystem names
them, plus the `loupe` block the runtime reads its resolution strategy from."""

from __future__ import annotations

from .loupe_models import ConvNeXtConfig, LlamaConfig
from .preprocess import CLIP_MEAN, CLIP_STD, PAD_COLOR
from .tokenizer_bpe import BOS_ID, EOS_ID, IMAGE_ID, PAD_ID


def llama_text_config(text: LlamaConfig, bos: int, eos: int, pad: int | None = None) -> dict:
    """config.json's `text_config` for the repo's Llama-style decoder."""
    out = {
        "model_type": "llama",
        "hidden_size": text.hidden_size,
        "intermediate_size": text.intermediate_size,
        "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads,
        "head_dim": text.head_dim,
        "max_position_embeddings": text.max_position_embeddings,
        "rms_norm_eps": text.rms_norm_eps,
        "rope_theta": text.rope_theta,
        "hidden_act": "silu",
        "vocab_size": text.vocab_size,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "tie_word_embeddings": False,
    }
    return {k: v for k, v in out.items() if v is not None}


def model_config(vision: ConvNeXtConfig, text: LlamaConfig) -> dict:
    return llava_config({
        "model_type": "convnext",
        "num_stages": vision.num_stages,
        "depths": vision.depths,
        "hidden_sizes": vision.hidden_sizes,
        "patch_size": vision.patch_size,
        "layer_norm_eps": vision.layer_norm_eps,
        "hidden_act": "gelu",
    }, text)


def llava_config(vision_config: dict, text: LlamaConfig) -> dict:
    """`llava` config.json around a vision_config: the graph's output is the features (no
    feature selection left to do), Llama text config with the repo's special tokens."""
    return {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": IMAGE_ID,
        "projector_hidden_act": "gelu",
        "vision_feature_select_strategy": "full",
        "vision_feature_layer": -1,
        "vocab_size": text.vocab_size,
        "vision_config": vision_config,
        "text_config": llama_text_config(text, BOS_ID, EOS_ID, PAD_ID),
        # The dtypes this bundle ships, per module, so a runtime never guesses a file
        # that is not there (e.g. fp16 on a GPU with shader-f16).
        "transformers.js_config": {
            "dtype": {"vision_encoder": "fp32", "embed_tokens": "fp32", "decoder_model_merged": "q4"},
        },
    }


def generation_config(max_length: int) -> dict:
    return {
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID,
        "max_length": max_length,
        "do_sample": False,
    }


def preprocessor_config(resolution: int, stride: int) -> dict:
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": resolution},
        "crop_size": {"height": resolution, "width": resolution},
        "do_center_crop": False,
        "do_normalize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "image_mean": list(CLIP_MEAN),
        "image_std": list(CLIP_STD),
        "resample": 3,  # PIL bicubic
        "do_convert_rgb": True,
        "loupe": {
            "strategy": "convllava-square",
            "resolution": resolution,
            "resolutions": [stride * k for k in (1, 2, 3, 4)],
            "stride": stride,
            "pad_color": list(PAD_COLOR),
            "token_budget": 576,
        },
    }
