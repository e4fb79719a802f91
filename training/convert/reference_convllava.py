"""A PyTorch reference for a released ConvLLaVA checkpoint, written from the published
facts and run on its own tensor names (HF ConvNextModel tower, LLaVA-llama projector and
Llama decoder), independent of Loupe's modules and the converter's key mapping:

- image: expand2square with (122, 116, 104), bicubic to `mm_vision_resolution`, CLIP
  mean / std; tower: patchify conv + channels-first LayerNorm, per stage a LayerNorm +
  2x2 stride-2 conv (stages 1-4), blocks dwconv 7x7 -> LayerNorm -> Linear -> GELU ->
  Linear -> layer scale, residual; the last stage's map, row-major, no final norm;
- projector `mm_projector.{0,2}` with GELU; the prompt tokenised as LLaVA's
  `tokenizer_image_token` does (SentencePiece per chunk around `<image>`, the chunks after
  the first without their BOS, -200 where the image goes);
- Llama: RMSNorm, rotary (rotate-half), causal attention recomputed for every step
  (no cache), SiLU-gated MLP; greedy decoding.
"""

from __future__ import annotations

import math

import sentencepiece as spm
import torch
from PIL import Image
from torch.nn import functional as F

from ..preprocess import CLIP_MEAN, CLIP_STD, normalise, pad_to_square

IMAGE_INDEX = -200
VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)


def pixel_values(image: Image.Image, resolution: int) -> torch.Tensor:
    square = pad_to_square(image.convert("RGB"), (122, 116, 104)).resize((resolution, resolution), Image.BICUBIC)
    return torch.from_numpy(normalise(square, CLIP_MEAN, CLIP_STD))


def _ln_channels_first(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    return F.layer_norm(x.permute(0, 2, 3, 1), w.shape, w, b, eps).permute(0, 3, 1, 2)


def tower(s: dict[str, torch.Tensor], pv: torch.Tensor, depths: list[int], eps: float = 1e-6) -> torch.Tensor:
    """HF ConvNextModel's last_hidden_state as ConvLLaVA reads it -> [1, N, C]."""
    x = F.conv2d(pv, s["embeddings.patch_embeddings.weight"], s["embeddings.patch_embeddings.bias"], stride=4)
    x = _ln_channels_first(x, s["embeddings.layernorm.weight"], s["embeddings.layernorm.bias"], eps)
    for i, depth in enumerate(depths):
        p = f"encoder.stages.{i}."
        if i > 0:
            x = _ln_channels_first(x, s[p + "downsampling_layer.0.weight"], s[p + "downsampling_layer.0.bias"], eps)
            x = F.conv2d(x, s[p + "downsampling_layer.1.weight"], s[p + "downsampling_layer.1.bias"], stride=2)
        for j in range(depth):
            q = f"{p}layers.{j}."
            y = F.conv2d(x, s[q + "dwconv.weight"], s[q + "dwconv.bias"], padding=3, groups=x.shape[1]).permute(0, 2, 3, 1)
            y = F.layer_norm(y, y.shape[-1:], s[q + "layernorm.weight"], s[q + "layernorm.bias"], eps)
            y = F.linear(F.gelu(F.linear(y, s[q + "pwconv1.weight"], s[q + "pwconv1.bias"])), s[q + "pwconv2.weight"], s[q + "pwconv2.bias"])
            x = x + (y * s[q + "layer_scale_parameter"]).permute(0, 3, 1, 2)
    return x.flatten(2).transpose(1, 2)


def project(s: dict[str, torch.Tensor], cells: torch.Tensor) -> torch.Tensor:
    h = F.gelu(F.linear(cells, s["model.mm_projector.0.weight"], s["model.mm_projector.0.bias"]))
    return F.linear(h, s["model.mm_projector.2.weight"], s["model.mm_projector.2.bias"])


def prompt_ids(sp: spm.SentencePieceProcessor, question: str) -> list[int]:
    """LLaVA's vicuna_v1 prompt through `tokenizer_image_token`."""
    text = f"{VICUNA_SYSTEM} USER: <image>\n{question} ASSISTANT:"
    chunks = [[sp.bos_id()] + sp.encode(c) for c in text.split("<image>")]
    ids = chunks[0]
    for chunk in chunks[1:]:
        ids += [IMAGE_INDEX] + chunk[1:]
    return ids


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def logits(s: dict[str, torch.Tensor], cfg: dict, embeds: torch.Tensor) -> torch.Tensor:
    """Llama over the whole sequence [1, S, H] -> logits [1, S, V]."""
    heads, eps = cfg["num_attention_heads"], cfg.get("rms_norm_eps", 1e-6)
    kv_heads = cfg.get("num_key_value_heads", heads)
    seq, width = embeds.shape[1], embeds.shape[2]
    dim = width // heads
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, dim, 2).float() / dim))
    angles = torch.arange(seq).float()[:, None] * inv
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    mask = torch.full((seq, seq), float("-inf")).triu(1)
    x = embeds
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = _rms(x, s[p + "input_layernorm.weight"], eps)
        q = F.linear(h, s[p + "self_attn.q_proj.weight"]).view(1, seq, heads, dim).transpose(1, 2)
        k = F.linear(h, s[p + "self_attn.k_proj.weight"]).view(1, seq, kv_heads, dim).transpose(1, 2)
        v = F.linear(h, s[p + "self_attn.v_proj.weight"]).view(1, seq, kv_heads, dim).transpose(1, 2)
        q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
        k, v = k.repeat_interleave(heads // kv_heads, 1), v.repeat_interleave(heads // kv_heads, 1)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dim) + mask, -1) @ v
        x = x + F.linear(attn.transpose(1, 2).reshape(1, seq, width), s[p + "self_attn.o_proj.weight"])
        h = _rms(x, s[p + "post_attention_layernorm.weight"], eps)
        x = x + F.linear(F.silu(F.linear(h, s[p + "mlp.gate_proj.weight"])) * F.linear(h, s[p + "mlp.up_proj.weight"]), s[p + "mlp.down_proj.weight"])
    return F.linear(_rms(x, s["model.norm.weight"], eps), s["lm_head.weight"])


@torch.no_grad()
def greedy(s: dict[str, torch.Tensor], cfg: dict, ids: list[int], features: torch.Tensor, steps: int) -> tuple[torch.Tensor, list[int], float]:
    """(first-step logits [V], greedy ids, smallest top-2 margin)."""
    at = ids.index(IMAGE_INDEX)
    table = s["model.embed_tokens.weight"]
    embeds = torch.cat([table[ids[:at]], features[0], table[ids[at + 1 :]]])[None]
    first, out, margin = None, [], math.inf
    for _ in range(steps):
        last = logits(s, cfg, embeds)[0, -1]
        first = last if first is None else first
        top = torch.topk(last, 2).values
        margin = min(margin, float(top[0] - top[1]))
        out.append(int(last.argmax()))
        embeds = torch.cat([embeds, table[out[-1]][None, None]], dim=1)
    return first, out, margin
