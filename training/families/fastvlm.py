"""`tiny-random-fastvlm`: onnx-community/FastVLM-0.5B-ONNX in miniature (REAL-MODELS.md §1).

`llava_qwen2` with a flat config (no text_config; head_dim derived, 64 / 4 = 16), Qwen2
decoder (q/k/v biases, rope theta 1e6, RMSNorm eps 1e-6), FastViTHD-shaped tower of
stride 64 with the projector inside `vision_encoder`, ChatML prompt. Preprocessing: CLIP
processor without normalisation (mean 0, std 1), shortest edge + center crop at 128.

The decoder's fp16 / q4f16 variants also carry what the real (0.5B+) bundles need
(VARIANT_FEATURES): `decoder_model_merged_fp16.onnx` keeps its weights in
`decoder_model_merged_fp16.onnx_data` (declared in `use_external_data_format`);
`decoder_model_merged_q4f16.onnx` takes `num_logits_to_keep` and a float16 KV cache.
"""

from __future__ import annotations

from ..loupe_models import LlamaConfig
from .chatml import ENDOFTEXT, IM_END, IMAGE, SPECIAL_TOKENS, render_chatml, tokenizer_config, train_tokenizer
from .clip_processor import ClipProcessorConfig
from .family import Family
from .fastvit import FastViTConfig, FastViTEncoder, unit_variance_init
from .variants import external_data_format

RESOLUTION = 128
VOCAB_SIZE = 512
VARIANT_FEATURES = {
    "decoder_model_merged": {"fp16": ("external_data",), "q4f16": ("num_logits_to_keep", "float16_kv_cache")},
}


def _encoder():
    cfg = FastViTConfig()
    return FastViTEncoder(cfg), cfg.out_dim


def _json_files(f: Family) -> dict[str, dict]:
    t, vocab = f.text, f.tokenizer.vocab
    _, mm_hidden = _encoder()
    config = {
        "model_type": "llava_qwen2",
        "architectures": ["LlavaQwen2ForCausalLM"],
        "hidden_size": t.hidden_size,
        "intermediate_size": t.intermediate_size,
        "num_hidden_layers": t.num_hidden_layers,
        "num_attention_heads": t.num_attention_heads,
        "num_key_value_heads": t.num_key_value_heads,
        "max_position_embeddings": t.max_position_embeddings,
        "rope_theta": t.rope_theta,
        "rms_norm_eps": t.rms_norm_eps,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
        "vocab_size": t.vocab_size,
        "bos_token_id": vocab[ENDOFTEXT],
        "eos_token_id": vocab[IM_END],
        "image_token_index": vocab[IMAGE],
        "mm_hidden_size": mm_hidden,
        "mm_projector_type": "mlp2x_gelu",
        "image_aspect_ratio": "pad",
        "use_cache": True,
        "transformers.js_config": {
            "dtype": {"vision_encoder": "fp32", "embed_tokens": "fp32", "decoder_model_merged": "fp32"},
            "use_external_data_format": external_data_format(f.variant_features),
        },
    }
    return {
        "config.json": config,
        "generation_config.json": {"bos_token_id": vocab[ENDOFTEXT], "eos_token_id": vocab[IM_END]},
        "preprocessor_config.json": f.processor.json(),
        "processor_config.json": {
            "processor_class": "LlavaProcessor",
            "image_token": IMAGE,
            "patch_size": f.patch_size,
            "num_additional_image_tokens": 0,
        },
        "tokenizer.json": f.tokenizer.tokenizer_json(),
        "tokenizer_config.json": tokenizer_config(f.tokenizer, t.max_position_embeddings),
    }


def family() -> Family:
    tokenizer = train_tokenizer(VOCAB_SIZE)
    text = LlamaConfig(
        vocab_size=VOCAB_SIZE, rope_theta=1_000_000.0, rms_norm_eps=1e-6, attention_bias=True
    )
    return Family(
        name="tiny-random-fastvlm",
        text=text,
        make_encoder=_encoder,
        tokenizer=tokenizer,
        render_prompt=render_chatml,
        processor=ClipProcessorConfig(
            shortest_edge=RESOLUTION,
            crop_height=RESOLUTION,
            crop_width=RESOLUTION,
            image_mean=(0.0, 0.0, 0.0),
            image_std=(1.0, 1.0, 1.0),
        ),
        patch_size=64,
        image_token_id=tokenizer.vocab[IMAGE],
        special_ids={tokenizer.vocab[t] for t in SPECIAL_TOKENS},
        trace_size=(128, 192),
        dynamic_size=True,
        exact_image_size=(RESOLUTION + 43, RESOLUTION),  # odd surplus: floor vs round crop offsets differ
        json_files=_json_files,
        after_init=lambda model, seed: unit_variance_init(model.vision.encoder, seed),
        variant_features=VARIANT_FEATURES,
    )
