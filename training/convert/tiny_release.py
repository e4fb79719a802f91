"""Tiny random checkpoints in the seeds' released formats, for proving the converter here
(the real ones cannot be downloaded on this machine).

    /usr/bin/python3 -m training.convert.tiny_release        -> e2e/fixtures/convert/

`convllava-sft/`: ConvLLaVA-sft's layout: LLaVA-llama `config.json`
(`LlavaLlamaForCausalLM`, `mm_projector_type` mlp2x_gelu, `mm_hidden_size`, pad), bf16
`pytorch_model-0000k-of-00002.bin` shards written by torch.save with
`pytorch_model.bin.index.json`, the tower copied under `model.vision_tower.vision_tower.`
with HF ConvNextModel names, projector `model.mm_projector.{0,2}`, Llama keys, a
SentencePiece BPE `tokenizer.model` (byte fallback, <unk> <s> </s>) and LLaVA's
tokenizer_config / special_tokens_map / generation_config. `convllava-convnext/`: the tower
alone, as the separate `ConvLLaVA-ConvNeXt-*` repos hold it (HF ConvNextModel config and
`pytorch_model.bin`, layer scale spelt `layer_scale_parameter`), for a sft directory
without the copy.

`mcllava/`: MC-LLaVA-3b's layout: `model_type` mc-llava, two bf16 safetensors shards
written by hand with `model.safetensors.index.json`, the SigLIP tower under
`vision_model.vision_tower.vision_model.` (its unused `post_layernorm` included),
`vision_model.coord_embed.{0,2}`, `multi_modal_projector.linear_{1,2}`, the Phi-2
decoder under `language_model.` (biased q/k/v/`dense`, fc1/fc2, `final_layernorm`,
biased `lm_head`), a byte-level BPE `tokenizer.json` with `<|im_end|>` `<|im_start|>`
`<image>` `<pad>` appended in the released order.

`piip-llava/`: PIIP-LLaVA's layout (see `write_piip`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import sentencepiece as spm
import torch

from ..corpus import CORPUS, SYSTEM_PROMPT

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "e2e/fixtures/convert"
SEED = 7

# Stand-ins for the real sizes (depths [3, 3, 27, 3, 6], widths [192 .. 3072], Vicuna-7B).
TOWER = {"depths": [1, 1, 2, 1, 1], "hidden_sizes": [8, 16, 24, 32, 48], "patch_size": 4, "num_stages": 5}
TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 512}
VOCAB = 320
RESOLUTION = 256  # the tower's `mm_vision_resolution`; 16 tokens at stride 64


def train_sentencepiece(path: Path) -> None:
    """A Llama-style BPE SentencePiece model (byte fallback, ids 0-2 = <unk> <s> </s>)."""
    # Relative paths from inside a temporary directory: the model records its trainer's
    # input and prefix, so absolute ones would make the bytes depend on the machine.
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            _train_here()
        finally:
            os.chdir(here)
        shutil.copy(Path(tmp) / "sp.model", path)


def _train_here() -> None:
    Path("corpus.txt").write_text("\n".join([SYSTEM_PROMPT, "USER: ASSISTANT:", CORPUS] * 3), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input="corpus.txt", model_prefix="sp", vocab_size=VOCAB, model_type="bpe", byte_fallback=True,
        character_coverage=1.0, num_threads=1, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity", split_digits=True, minloglevel=2,
    )


def tower_state(gen: torch.Generator, widths: list[int] | None = None, depths: list[int] | None = None) -> dict[str, torch.Tensor]:
    """HF ConvNextModel's names and shapes, random values (default: the fixture's sizes)."""
    w, d = widths or TOWER["hidden_sizes"], depths or TOWER["depths"]
    rnd = lambda *shape, scale=0.3: (torch.randn(*shape, generator=gen) * scale)  # noqa: E731
    s = {"embeddings.patch_embeddings.weight": rnd(w[0], 3, 4, 4), "embeddings.patch_embeddings.bias": rnd(w[0], scale=0.1),
         "embeddings.layernorm.weight": 1 + rnd(w[0], scale=0.1), "embeddings.layernorm.bias": rnd(w[0], scale=0.1)}
    for i in range(len(w)):
        if i > 0:
            s[f"encoder.stages.{i}.downsampling_layer.0.weight"] = 1 + rnd(w[i - 1], scale=0.1)
            s[f"encoder.stages.{i}.downsampling_layer.0.bias"] = rnd(w[i - 1], scale=0.1)
            s[f"encoder.stages.{i}.downsampling_layer.1.weight"] = rnd(w[i], w[i - 1], 2, 2, scale=0.5 / w[i - 1] ** 0.5)
            s[f"encoder.stages.{i}.downsampling_layer.1.bias"] = rnd(w[i], scale=0.1)
        for j in range(d[i]):
            p = f"encoder.stages.{i}.layers.{j}."
            s[p + "dwconv.weight"], s[p + "dwconv.bias"] = rnd(w[i], 1, 7, 7, scale=0.15), rnd(w[i], scale=0.1)
            s[p + "layernorm.weight"], s[p + "layernorm.bias"] = 1 + rnd(w[i], scale=0.1), rnd(w[i], scale=0.1)
            s[p + "pwconv1.weight"], s[p + "pwconv1.bias"] = rnd(4 * w[i], w[i], scale=w[i] ** -0.5), rnd(4 * w[i], scale=0.1)
            s[p + "pwconv2.weight"], s[p + "pwconv2.bias"] = rnd(w[i], 4 * w[i], scale=(4 * w[i]) ** -0.5), rnd(w[i], scale=0.1)
            s[p + "layer_scale_parameter"] = 0.5 + torch.rand(w[i], generator=gen) * 0.5
    return s


def language_state(gen: torch.Generator, text: dict | None = None, vocab: int = VOCAB, mm: int | None = None) -> dict[str, torch.Tensor]:
    """LLaVA-llama names: model.embed_tokens, model.layers.i.*, model.norm, lm_head, model.mm_projector.{0,2}
    (default: the fixture's sizes; `mm` the tower width the projector reads)."""
    text = text or TEXT
    h, m, n = text["hidden_size"], text["intermediate_size"], text["num_hidden_layers"]
    rnd = lambda *shape, scale: torch.randn(*shape, generator=gen) * scale  # noqa: E731
    s = {"model.embed_tokens.weight": rnd(vocab, h, scale=1.0)}
    for i in range(n):
        p = f"model.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            s[p + f"self_attn.{name}.weight"] = rnd(h, h, scale=h**-0.5)
        s[p + "mlp.gate_proj.weight"], s[p + "mlp.up_proj.weight"] = rnd(m, h, scale=h**-0.5), rnd(m, h, scale=h**-0.5)
        s[p + "mlp.down_proj.weight"] = rnd(h, m, scale=m**-0.5)
        s[p + "input_layernorm.weight"], s[p + "post_attention_layernorm.weight"] = 1 + rnd(h, scale=0.1), 1 + rnd(h, scale=0.1)
    s["model.norm.weight"] = 1 + rnd(h, scale=0.1)
    s["lm_head.weight"] = rnd(vocab, h, scale=3.0 * h**-0.5)
    mm = mm or TOWER["hidden_sizes"][-1]
    s["model.mm_projector.0.weight"], s["model.mm_projector.0.bias"] = rnd(h, mm, scale=mm**-0.5), rnd(h, scale=0.1)
    s["model.mm_projector.2.weight"], s["model.mm_projector.2.bias"] = rnd(h, h, scale=h**-0.5), rnd(h, scale=0.1)
    return s


def write_bin_shards(root: Path, shards: dict[str, dict[str, torch.Tensor]]) -> None:
    """`pytorch_model-0000k-of-0000n.bin` files written by torch.save, with their index."""
    for name, state in shards.items():
        torch.save(state, root / name)
    total = sum(v.numel() * v.element_size() for s in shards.values() for v in s.values())
    index = {"metadata": {"total_size": total}, "weight_map": {k: name for name, s in shards.items() for k in sorted(s)}}
    (root / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2))


def llava_llama_config(name: str, mm_hidden: int, mm_vision_tower: str, resolution: int | None = None) -> dict:
    """A LLaVA-llama `config.json` (LlavaLlamaForCausalLM, Vicuna-style Llama, pad)."""
    return {
        "_name_or_path": name,
        "architectures": ["LlavaLlamaForCausalLM"],
        "model_type": "llava_llama",
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
        "hidden_act": "silu", "initializer_range": 0.02, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
        "num_key_value_heads": TEXT["num_attention_heads"], "vocab_size": VOCAB, "torch_dtype": "bfloat16", "use_cache": True,
        **TEXT,
        "image_aspect_ratio": "pad",
        "mm_hidden_size": mm_hidden,
        "mm_projector_type": "mlp2x_gelu",
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -1,
        "mm_vision_tower": mm_vision_tower,
        **({"mm_vision_resolution": resolution} if resolution is not None else {}),
        "mm_use_im_start_end": False, "mm_use_im_patch_token": False, "tokenizer_padding_side": "right",
    }


def _save_bf16(state: dict[str, torch.Tensor], path: Path) -> None:
    torch.save({k: v.to(torch.bfloat16) for k, v in state.items()}, path)


def write_convllava(out: Path = OUT) -> None:
    gen = torch.Generator().manual_seed(SEED)
    tower = tower_state(gen)
    language = language_state(gen)
    sft, alone = out / "convllava-sft", out / "convllava-convnext"
    for d in (sft, alone):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    # Two shards, split inside the decoder like the real ones, the tower copy in the second.
    keys = list(language)
    first = {k: language[k] for k in keys[: len(keys) // 2]}
    second = {**{k: language[k] for k in keys[len(keys) // 2 :]}, **{f"model.vision_tower.vision_tower.{k}": v for k, v in tower.items()}}
    shards = {"pytorch_model-00001-of-00002.bin": first, "pytorch_model-00002-of-00002.bin": second}
    write_bin_shards(sft, {name: {k: v.to(torch.bfloat16) for k, v in state.items()} for name, state in shards.items()})
    config = llava_llama_config("ConvLLaVA-sft-tiny", TOWER["hidden_sizes"][-1], "ConvLLaVA/ConvLLaVA-ConvNeXt-tiny", RESOLUTION)
    (sft / "config.json").write_text(json.dumps(config, indent=2))
    (sft / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "max_length": 512}))
    train_sentencepiece(sft / "tokenizer.model")
    (sft / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False, "legacy": True,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>", "model_max_length": 512,
    }, indent=2))
    (sft / "special_tokens_map.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}))
    # The tower repo: HF ConvNextModel.
    (alone / "config.json").write_text(json.dumps({"architectures": ["ConvNextModel"], "model_type": "convnext", "layer_norm_eps": 1e-6,
                                                    "hidden_act": "gelu", "image_size": RESOLUTION, **TOWER}, indent=2))
    _save_bf16(tower, alone / "pytorch_model.bin")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    write_convllava(args.out)
    write_mcllava(args.out)
    write_piip(args.out)


def write_safetensors(state: dict[str, torch.Tensor], path: Path) -> None:
    """safetensors written by hand: 8-byte little-endian header length, the JSON header
    (space-padded to a multiple of 8), then each tensor's raw little-endian bytes. bf16 is
    the top 16 bits of float32 (round to nearest even)."""
    import numpy as np

    header: dict = {}
    blobs: list[bytes] = []
    offset = 0
    for name, tensor in state.items():
        if tensor.dtype == torch.bfloat16:
            bits = tensor.float().numpy().view(np.uint32)
            raw = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
            dtype = "BF16"
        else:
            raw, dtype = tensor.float().numpy().astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with path.open("wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# MC-LLaVA-3b in miniature: SigLIP so400m/14 @384 (1152 wide, 27 layers) -> 32 wide, 2
# layers, patch 32; Phi-2 (2560 wide, 32 layers) -> 64 wide, 2 layers, head 16, rotary 0.4.
MC_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 384, "patch_size": 32}
MC_TEXT = {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "partial_rotary_factor": 0.4,
           "layer_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 512}
MC_VOCAB = 400
# Appended after the BPE, in the released order (ids 50295-50298 there).
MC_SPECIALS = ("<|im_end|>", "<|im_start|>", "<image>", "<pad>")


def mcllava_state(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """MC-LLaVA's tensor names (REAL-MODELS.md §2), random values; SigLIP's post_layernorm
    is there and must be ignored."""
    v, t = MC_VISION, MC_TEXT
    rnd = lambda *shape, scale: torch.randn(*shape, generator=gen) * scale  # noqa: E731
    d, m, grid = v["hidden_size"], v["intermediate_size"], (v["image_size"] // v["patch_size"]) ** 2
    tower = "vision_model.vision_tower.vision_model."
    s = {tower + "embeddings.patch_embedding.weight": rnd(d, 3, v["patch_size"], v["patch_size"], scale=(3 * v["patch_size"] ** 2) ** -0.5),
         tower + "embeddings.patch_embedding.bias": rnd(d, scale=0.1),
         tower + "embeddings.position_embedding.weight": rnd(grid, d, scale=0.5)}
    for i in range(v["num_hidden_layers"]):
        p = f"{tower}encoder.layers.{i}."
        for n in ("layer_norm1", "layer_norm2"):
            s[p + n + ".weight"], s[p + n + ".bias"] = 1 + rnd(d, scale=0.1), rnd(d, scale=0.1)
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            s[p + f"self_attn.{n}.weight"], s[p + f"self_attn.{n}.bias"] = rnd(d, d, scale=d**-0.5), rnd(d, scale=0.1)
        s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"] = rnd(m, d, scale=d**-0.5), rnd(m, scale=0.1)
        s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"] = rnd(d, m, scale=m**-0.5), rnd(d, scale=0.1)
    s[tower + "post_layernorm.weight"], s[tower + "post_layernorm.bias"] = 1 + rnd(d, scale=0.5), rnd(d, scale=0.5)
    s["vision_model.coord_embed.0.weight"], s["vision_model.coord_embed.0.bias"] = rnd(d, 2, scale=1.0), rnd(d, scale=0.1)
    s["vision_model.coord_embed.2.weight"], s["vision_model.coord_embed.2.bias"] = rnd(d, d, scale=d**-0.5), rnd(d, scale=0.1)
    h, f, vocab = t["hidden_size"], t["intermediate_size"], MC_VOCAB
    s["multi_modal_projector.linear_1.weight"], s["multi_modal_projector.linear_1.bias"] = rnd(h, d, scale=d**-0.5), rnd(h, scale=0.1)
    s["multi_modal_projector.linear_2.weight"], s["multi_modal_projector.linear_2.bias"] = rnd(h, h, scale=h**-0.5), rnd(h, scale=0.1)
    s["language_model.model.embed_tokens.weight"] = rnd(vocab, h, scale=1.0)
    for i in range(t["num_hidden_layers"]):
        p = f"language_model.model.layers.{i}."
        s[p + "input_layernorm.weight"], s[p + "input_layernorm.bias"] = 1 + rnd(h, scale=0.1), rnd(h, scale=0.1)
        for n in ("q_proj", "k_proj", "v_proj", "dense"):
            s[p + f"self_attn.{n}.weight"], s[p + f"self_attn.{n}.bias"] = rnd(h, h, scale=h**-0.5), rnd(h, scale=0.1)
        s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"] = rnd(f, h, scale=h**-0.5), rnd(f, scale=0.1)
        s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"] = rnd(h, f, scale=f**-0.5), rnd(h, scale=0.1)
    s["language_model.model.final_layernorm.weight"], s["language_model.model.final_layernorm.bias"] = 1 + rnd(h, scale=0.1), rnd(h, scale=0.1)
    s["language_model.lm_head.weight"], s["language_model.lm_head.bias"] = rnd(vocab, h, scale=3.0 * h**-0.5), rnd(vocab, scale=0.1)
    return s


def write_mcllava(out: Path = OUT) -> None:
    from ..corpus import CORPUS as corpus
    from ..tokenizer_bpe import ByteLevelBPE

    root = out / "mcllava"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    state = {k: v.to(torch.bfloat16) for k, v in mcllava_state(torch.Generator().manual_seed(SEED + 1)).items()}
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2], "model-00002-of-00002.safetensors": keys[len(keys) // 2 :]}
    for name, names in shards.items():
        write_safetensors({k: state[k] for k in names}, root / name)
    total = sum(v.numel() * 2 for v in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": {k: name for name, names in shards.items() for k in names}}
    (root / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    chatml = "\n".join(f"<|im_start|>{r}\n{c}<|im_end|>" for r, c in (("user", "What is in the image?"), ("assistant", "A red circle.")))
    tok = ByteLevelBPE.train(corpus + "\n" + chatml * 3, MC_VOCAB, special_tokens=MC_SPECIALS, specials_last=True)
    (root / "tokenizer.json").write_text(json.dumps(tok.tokenizer_json(), ensure_ascii=False))
    ids = {t: tok.vocab[t] for t in MC_SPECIALS}
    (root / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CodeGenTokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "pad_token": "<pad>",
        "unk_token": "<|endoftext|>", "model_max_length": MC_TEXT["max_position_embeddings"],
        "added_tokens_decoder": {str(i): {"content": t, "special": True, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False}
                                 for t, i in ids.items()},
    }, indent=2))
    config = {
        "_name_or_path": "MC-LLaVA-3b-tiny",
        "architectures": ["LlavaForCausalLM"],
        "auto_map": {"AutoConfig": "configuration_llava.LlavaConfig", "AutoModelForCausalLM": "modeling_llava.LlavaForCausalLM"},
        "model_type": "mc-llava",
        "image_token_index": ids["<image>"],
        "pad_token_id": ids["<pad>"],
        "projector_hidden_act": "gelu",
        "vision_embed_dim": MC_VISION["hidden_size"],
        "vocab_size": MC_VOCAB,
        "text_config": {"model_type": "phi", "architectures": ["PhiForCausalLM"], "hidden_act": "gelu_new", "vocab_size": MC_VOCAB,
                        "qk_layernorm": False, "eos_token_id": ids["<|im_end|>"], **MC_TEXT},
        "vision_config": {"model_type": "siglip_vision_model", "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6, **MC_VISION},
        "torch_dtype": "bfloat16",
    }
    (root / "config.json").write_text(json.dumps(config, indent=2))
    (root / "generation_config.json").write_text(json.dumps({"eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<pad>"]}))


# PIIP-LLaVA (ConvNeXt-B @1024 + CLIP-L/16 @336, 12 interactions) in miniature: ConvNeXt
# [16, 32, 48, 64] x [1, 1, 2, 1] @256 and a CLIP 128 wide (2 heads of 64), 3 layers, patch 16
# @96, 3 interactions; the Llama decoder and SentencePiece tokenizer of the ConvLLaVA fixture.
PIIP_CLIP = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 3, "num_attention_heads": 2, "patch_size": 16, "image_size": 96}
PIIP_CONVNEXT = {"dims": [16, 32, 48, 64], "depths": [1, 1, 2, 1], "image_size": 256}
PIIP_TOWER_PY = "llava/configs/piip-llava_convnext-tiny_clip-tiny_256-96_tiny.py"
PIIP_TOWER_TEXT = '''model = dict(
    backbone=dict(
        n_points=4,
        deform_num_heads=2,
        cffn_ratio=0.25,
        deform_ratio=0.5,
        with_cffn=True,
        interact_attn_type='deform',
        interaction_drop_path_rate=0.4,
        model_cls="2branch_mix",
        unfreeze="none",
        use_branch_merging=False,
        branch1=dict(
            model_type="clip_hf",
            img_size=96,
            patch_size=16,
            pretrain_patch_size=16,
            interaction_indexes=[[0, 0], [1, 1], [2, 2]],
            pretrained='tiny/clip-vit-tiny-patch16-96',
            use_cls_token=True,
        ),
        branch2=dict(
            model_type="convnext_timm",
            img_size=256,
            interaction_indexes=[[0, 2], [3, 5], [6, 7]],
            downsample_ratios=[4, 8, 8, 16, 16, 16, 32, 32],
            pretrained="convnext_tiny_random",
        ),
    ),
    projector=dict(
        type="separate_2branch_v1",
        dim1=128,
        dim2=64,
        norm="gn",
    )
)
'''
PIIP_DEFORM = {"heads": 2, "points": 4, "ratio": 0.5, "cffn_ratio": 0.25}


def piip_state(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """PIIP-LLaVA's tower names (REAL-MODELS.md §2) under model.vision_tower.vision_tower.,
    random values; CLIP's unused post_layernorm and timm's unused head.norm included."""
    rnd = lambda *shape, scale: torch.randn(*shape, generator=gen) * scale  # noqa: E731
    ln = lambda p, d: {p + ".weight": 1 + rnd(d, scale=0.1), p + ".bias": rnd(d, scale=0.1)}  # noqa: E731
    lin = lambda p, o, i, bias=0.1: {p + ".weight": rnd(o, i, scale=i**-0.5), p + ".bias": rnd(o, scale=bias)}  # noqa: E731
    t = "model.vision_tower.vision_tower."
    c, d = t + "branch1.clip_model.", PIIP_CLIP["hidden_size"]
    patch, grid = PIIP_CLIP["patch_size"], PIIP_CLIP["image_size"] // PIIP_CLIP["patch_size"]
    s = {c + "embeddings.patch_embedding.weight": rnd(d, 3, patch, patch, scale=(3 * patch**2) ** -0.5),
         c + "embeddings.class_embedding": rnd(d, scale=0.5), c + "embeddings.position_embedding.weight": rnd(grid**2 + 1, d, scale=0.5),
         **ln(c + "pre_layrnorm", d), **ln(c + "post_layernorm", d)}
    for i in range(PIIP_CLIP["num_hidden_layers"]):
        p = f"{c}encoder.layers.{i}."
        s.update({**ln(p + "layer_norm1", d), **ln(p + "layer_norm2", d)})
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            s.update(lin(p + f"self_attn.{n}", d, d))
        s.update({**lin(p + "mlp.fc1", PIIP_CLIP["intermediate_size"], d), **lin(p + "mlp.fc2", d, PIIP_CLIP["intermediate_size"])})
    cn, dims = t + "branch2.convnext_model.", PIIP_CONVNEXT["dims"]
    s.update({cn + "stem.0.weight": rnd(dims[0], 3, 4, 4, scale=0.3), cn + "stem.0.bias": rnd(dims[0], scale=0.1), **ln(cn + "stem.1", dims[0])})
    flat = []
    for i, (w, depth) in enumerate(zip(dims, PIIP_CONVNEXT["depths"])):
        if i > 0:
            s.update({**ln(f"{cn}stages.{i}.downsample.0", dims[i - 1]),
                      f"{cn}stages.{i}.downsample.1.weight": rnd(w, dims[i - 1], 2, 2, scale=0.5 / dims[i - 1] ** 0.5),
                      f"{cn}stages.{i}.downsample.1.bias": rnd(w, scale=0.1)})
            flat.append(w)
        for j in range(depth):
            p = f"{cn}stages.{i}.blocks.{j}."
            s.update({p + "conv_dw.weight": rnd(w, 1, 7, 7, scale=0.15), p + "conv_dw.bias": rnd(w, scale=0.1), **ln(p + "norm", w),
                      **lin(p + "mlp.fc1", 4 * w, w), **lin(p + "mlp.fc2", w, 4 * w), p + "gamma": 0.5 + torch.rand(w, generator=gen) * 0.5})
            flat.append(w)
    s.update(ln(cn + "head.norm", dims[-1]))
    heads, points, ratio = PIIP_DEFORM["heads"], PIIP_DEFORM["points"], PIIP_DEFORM["ratio"]
    for k, (_, last) in enumerate([[0, 2], [3, 5], [6, 7]]):
        u, d2 = f"{t}interactions.{k}.interaction_units_12.", flat[last]
        s.update({**lin(u + "branch2to1_proj", d, d2), **lin(u + "branch1to2_proj", d2, d)})
        for side, dim in (("branch2to1_injector", d), ("branch1to2_injector", d2)):
            p = f"{u}{side}."
            inner, hidden = int(dim * ratio), int(dim * PIIP_DEFORM["cffn_ratio"])
            s.update({**ln(p + "query_norm", dim), **ln(p + "feat_norm", dim), **ln(p + "ffn_norm", dim),
                      p + "attn.sampling_offsets.weight": rnd(heads * points * 2, dim, scale=0.3 * dim**-0.5),
                      p + "attn.sampling_offsets.bias": rnd(heads * points * 2, scale=1.5),
                      **lin(p + "attn.attention_weights", heads * points, dim, bias=0.5),
                      **lin(p + "attn.value_proj", inner, dim), **lin(p + "attn.output_proj", dim, inner),
                      p + "ca_weight": 0.5 + torch.rand(dim, generator=gen) * 0.5, p + "cffn_weight": 0.5 + torch.rand(dim, generator=gen) * 0.5,
                      **lin(p + "ffn.fc1", hidden, dim), p + "ffn.dwconv.dwconv.weight": rnd(hidden, 1, 3, 3, scale=0.3),
                      p + "ffn.dwconv.dwconv.bias": rnd(hidden, scale=0.1), **lin(p + "ffn.fc2", dim, hidden)})
    h = TEXT["hidden_size"]
    for branch, dim in (("branch1", d), ("branch2", dims[-1])):
        p = f"model.mm_projector.{branch}."
        s.update({**lin(p + "1", h, dim), **ln(p + "3", h), **lin(p + "6", h, h)})
    return s


def write_piip(out: Path = OUT) -> None:
    """`piip-llava/`: PIIP-LLaVA's layout: LLaVA-llama config.json whose mm_vision_tower is
    the tower's config .py (shipped beside it), two bf16 `.bin` shards + index, the tower
    under `model.vision_tower.vision_tower.` (CLIP's int64 position_ids buffer included),
    projector `model.mm_projector.branch{1,2}.{1,3,6}`, the Llama keys and SentencePiece
    tokenizer of the ConvLLaVA fixture."""
    root = out / "piip-llava"
    shutil.rmtree(root, ignore_errors=True)
    (root / Path(PIIP_TOWER_PY).parent).mkdir(parents=True)
    gen = torch.Generator().manual_seed(SEED + 2)
    language = {k: v for k, v in language_state(gen).items() if not k.startswith("model.mm_projector.")}
    tower = piip_state(gen)
    keys = list(language)
    first = {k: v.to(torch.bfloat16) for k, v in list(language.items())[: len(keys) // 2]}
    second = {k: v.to(torch.bfloat16) for k, v in [*list(language.items())[len(keys) // 2 :], *tower.items()]}
    grid = PIIP_CLIP["image_size"] // PIIP_CLIP["patch_size"]
    second["model.vision_tower.vision_tower.branch1.clip_model.embeddings.position_ids"] = torch.arange(grid**2 + 1)[None]
    shards = {"pytorch_model-00001-of-00002.bin": first, "pytorch_model-00002-of-00002.bin": second}
    write_bin_shards(root, shards)
    (root / PIIP_TOWER_PY).write_text(PIIP_TOWER_TEXT)
    config = llava_llama_config("PIIP-LLaVA-tiny", PIIP_CLIP["hidden_size"], PIIP_TOWER_PY)
    (root / "config.json").write_text(json.dumps(config, indent=2))
    (root / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "max_length": 512}))
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(out / "convllava-sft" / name, root / name)


if __name__ == "__main__":
    main()
