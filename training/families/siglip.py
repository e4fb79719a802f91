"""A SigLIP-style ViT tower as MC-LLaVA reads it, and MC-LLaVA's vision graph.

SigLIP: patch conv with bias, learned position embeddings for (S/p)^2 patches, no CLS
token and no pre-norm, pre-norm encoder layers (LayerNorm, MHA with biases, LayerNorm,
MLP with tanh-GELU). MC-LLaVA takes the last hidden state without `post_layernorm`,
drops patch 0, adds `coord_embed(coords)` (Linear(2, d) -> GELU -> Linear(d, d)) to every
token and projects with `mlp2x_gelu` (REFERENCE §2). Which tokens of each crop reach the
prompt (the last `split`) is the runtime's choice, after the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..loupe_models import MlpGeluProjector
from ..loupe_models.phi import TanhGeluMlp
from .clip_vit import ClipAttention


@dataclass
class SiglipConfig:
    hidden_size: int = 32
    intermediate_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    image_size: int = 384
    patch_size: int = 32
    layer_norm_eps: float = 1e-6

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class SiglipLayer(nn.Module):
    def __init__(self, cfg: SiglipConfig):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.self_attn = ClipAttention(cfg)  # same maths: MHA with q/k/v/out biases
        self.layer_norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = TanhGeluMlp(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class SiglipTower(nn.Module):
    """pixel_values [B, 3, S, S] -> last hidden state [B, (S/p)^2, hidden]."""

    def __init__(self, cfg: SiglipConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embedding = nn.Conv2d(3, cfg.hidden_size, cfg.patch_size, stride=cfg.patch_size)
        self.position_embedding = nn.Embedding(cfg.num_patches, cfg.hidden_size)
        self.layers = nn.ModuleList(SiglipLayer(cfg) for _ in range(cfg.num_hidden_layers))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2) + self.position_embedding.weight
        for layer in self.layers:
            x = layer(x)
        return x


class McLlavaVision(nn.Module):
    """What `vision_encoder.onnx` holds: (pixel_values [B, 3, S, S], coords [B, 2]) ->
    image_features [B, (S/p)^2 - 1, text width]."""

    def __init__(self, cfg: SiglipConfig, text_dim: int):
        super().__init__()
        d = cfg.hidden_size
        self.encoder = SiglipTower(cfg)
        self.coord_embed = nn.Sequential(nn.Linear(2, d), nn.GELU(), nn.Linear(d, d))
        self.projector = MlpGeluProjector(d, text_dim)

    def forward(self, pixel_values: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(pixel_values)[:, 1:]
        return self.projector(tokens + self.coord_embed(coords)[:, None, :])
