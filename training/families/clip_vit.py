"""CLIP ViT vision tower as LLaVA-1.5 reads it (HF `CLIPVisionModel` + `LlavaForConditionalGeneration`).

Patch conv (no bias), CLS token + learned absolute position embeddings, `pre_layrnorm`,
pre-norm encoder layers (LayerNorm, MHA with biases, LayerNorm, MLP with quick_gelu).
LLaVA takes `hidden_states[vision_feature_layer]` (-2: the input of the last layer, so
the last layer and `post_layernorm` never reach the output) and drops the CLS token
(`vision_feature_select_strategy` "default"). Fixed input size: the position table has
exactly 1 + (size / patch)^2 rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ClipVisionConfig:
    hidden_size: int = 32
    intermediate_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    image_size: int = 112
    patch_size: int = 14
    layer_norm_eps: float = 1e-5
    feature_layer: int = -2  # index into hidden_states (embeddings + one per layer)

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ClipAttention(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        d = cfg.hidden_size
        self.heads, self.head_dim = cfg.num_attention_heads, d // cfg.num_attention_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self._split(self.q_proj(x)) * self.head_dim**-0.5
        k, v = self._split(self.k_proj(x)), self._split(self.v_proj(x))
        out = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).flatten(2))


class ClipMlp(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = QuickGELU()
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ClipEncoderLayer(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.self_attn = ClipAttention(cfg)
        self.layer_norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = ClipMlp(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class ClipVisionEncoder(nn.Module):
    """pixel_values [B,3,S,S] -> patch features [B, (S/p)^2, hidden] (CLS dropped)."""

    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        self.patch_embedding = nn.Conv2d(3, d, cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(d))
        self.position_embedding = nn.Embedding(cfg.num_patches + 1, d)
        self.pre_layrnorm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList(ClipEncoderLayer(cfg) for _ in range(cfg.num_hidden_layers))

    def hidden_states(self, pixel_values: torch.Tensor) -> list[torch.Tensor]:
        patches = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        x = self.pre_layrnorm(torch.cat([cls, patches], dim=1) + self.position_embedding.weight)
        states = [x]
        for layer in self.layers:
            x = layer(x)
            states.append(x)
        return states

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.hidden_states(pixel_values)[self.cfg.feature_layer][:, 1:]
