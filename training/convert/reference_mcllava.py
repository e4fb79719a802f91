"""A PyTorch reference for a released MC-LLaVA checkpoint, on its own tensor names and
independent of Loupe's modules: the crops and token selection of REFERENCE §2, SigLIP
(patch conv + positions, pre-norm layers with tanh-GELU MLPs, last hidden state without
`post_layernorm`, patch 0 dropped), `coord_embed` added to every token, the projector, and
Phi-2 (parallel attention + MLP after one LayerNorm, partial rotary, biases) recomputed
over the whole sequence at every greedy step.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from ..preprocess import normalise
from ..preprocess_plans import plan_multicrop
from ..preprocess_pixels import execute

TOWER = "vision_model.vision_tower.vision_model."


def crops(image, max_crops: int, num_tokens: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """(pixel_values [M, 3, 384, 384], coords [M, 2], tokens kept per image)."""
    plan = plan_multicrop(image.width, image.height, max_crops, (num_tokens,))
    pixels = np.concatenate([normalise(p.rgb, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) for p in execute(plan, image)])
    coords = torch.tensor([i.coord for i in plan.inputs], dtype=torch.float32)
    return torch.from_numpy(pixels), coords, [i.keep_tokens[str(num_tokens)] for i in plan.inputs]


def _linear(s, name, x):
    return F.linear(x, s[name + ".weight"], s[name + ".bias"])


def _ln(s, name, x, eps):
    return F.layer_norm(x, x.shape[-1:], s[name + ".weight"], s[name + ".bias"], eps)


def siglip(s: dict, cfg: dict, pv: torch.Tensor) -> torch.Tensor:
    """Last hidden state [M, grid, width]."""
    x = F.conv2d(pv, s[TOWER + "embeddings.patch_embedding.weight"], s[TOWER + "embeddings.patch_embedding.bias"], stride=cfg["patch_size"])
    x = x.flatten(2).transpose(1, 2) + s[TOWER + "embeddings.position_embedding.weight"]
    heads, eps = cfg["num_attention_heads"], cfg.get("layer_norm_eps", 1e-6)
    b, n, d = x.shape
    for i in range(cfg["num_hidden_layers"]):
        p = f"{TOWER}encoder.layers.{i}."
        h = _ln(s, p + "layer_norm1", x, eps)
        q, k, v = (_linear(s, p + f"self_attn.{n_}", h).view(b, n, heads, d // heads).transpose(1, 2) for n_ in ("q_proj", "k_proj", "v_proj"))
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), -1) @ v
        x = x + _linear(s, p + "self_attn.out_proj", attn.transpose(1, 2).reshape(b, n, d))
        h = _ln(s, p + "layer_norm2", x, eps)
        x = x + _linear(s, p + "mlp.fc2", F.gelu(_linear(s, p + "mlp.fc1", h), approximate="tanh"))
    return x


@torch.no_grad()
def features(s: dict, cfg: dict, pv: torch.Tensor, coords: torch.Tensor, keep: list[int]) -> torch.Tensor:
    """Each image's last `keep[i]` tokens (patch 0 dropped) + coord_embed, projected -> [1, sum(keep), D]."""
    tokens = siglip(s, cfg["vision_config"], pv)[:, 1:]
    kept = torch.cat([tokens[i, tokens.shape[1] - k :] + _coord(s, coords[i]) for i, k in enumerate(keep)])
    h = F.gelu(_linear(s, "multi_modal_projector.linear_1", kept))
    return _linear(s, "multi_modal_projector.linear_2", h)[None]


def _coord(s, c):
    return _linear(s, "vision_model.coord_embed.2", F.gelu(_linear(s, "vision_model.coord_embed.0", c)))


def _rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def phi_logits(s: dict, cfg: dict, embeds: torch.Tensor) -> torch.Tensor:
    heads, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    seq, width = embeds.shape[1], embeds.shape[2]
    dim = width // heads
    rot = int(cfg["partial_rotary_factor"] * dim)
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, rot, 2).float() / rot))
    angles = torch.arange(seq).float()[:, None] * inv
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    mask = torch.full((seq, seq), float("-inf")).triu(1)

    def rope(t):
        return torch.cat((t[..., :rot] * cos + _rotate_half(t[..., :rot]) * sin, t[..., rot:]), -1)

    x = embeds
    for i in range(cfg["num_hidden_layers"]):
        p = f"language_model.model.layers.{i}."
        h = _ln(s, p + "input_layernorm", x, eps)
        q, k, v = (_linear(s, p + f"self_attn.{n}", h).view(1, seq, heads, dim).transpose(1, 2) for n in ("q_proj", "k_proj", "v_proj"))
        attn = torch.softmax(rope(q) @ rope(k).transpose(-1, -2) / math.sqrt(dim) + mask, -1) @ v
        mlp = _linear(s, p + "mlp.fc2", F.gelu(_linear(s, p + "mlp.fc1", h), approximate="tanh"))
        x = x + _linear(s, p + "self_attn.dense", attn.transpose(1, 2).reshape(1, seq, width)) + mlp
    return _linear(s, "language_model.lm_head", _ln(s, "language_model.model.final_layernorm", x, eps))


@torch.no_grad()
def greedy(s: dict, cfg: dict, ids: list[int], image_token: int, feats: torch.Tensor, steps: int):
    """MC-LLaVA replaces its one <image> token by all the image's features."""
    at = ids.index(image_token)
    table = s["language_model.model.embed_tokens.weight"]
    embeds = torch.cat([table[ids[:at]], feats[0], table[ids[at + 1 :]]])[None]
    first, out, margin = None, [], math.inf
    for _ in range(steps):
        last = phi_logits(s, cfg["text_config"], embeds)[0, -1]
        first = last if first is None else first
        top = torch.topk(last, 2).values
        margin = min(margin, float(top[0] - top[1]))
        out.append(int(last.argmax()))
        embeds = torch.cat([embeds, table[out[-1]][None, None]], dim=1)
    return first, out, margin
