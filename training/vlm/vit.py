"""The low-resolution control: an isotropic ViT (LLaVA-1.5's geometry: 336 px, patch 14,
24 x 24 = 576 tokens), pre-norm blocks, 2-D sin-cos (or learned) positions, no CLS token."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..loupe_models import MlpGeluProjector
from ..loupe_models.llama import LlamaDecoder
from .config import ModelConfig, VitConfig

_HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def sincos_2d(grid: int, dim: int) -> torch.Tensor:
    """MAE's fixed 2-D embedding: half the channels encode the row, half the column."""
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs a width divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    parts = []
    for coord in (ys.flatten(), xs.flatten()):
        angles = coord[:, None] * omega[None]
        parts += [angles.sin(), angles.cos()]
    return torch.cat(parts, dim=1).float()[None]  # [1, grid*grid, dim]


class VitBlock(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        d = cfg.hidden_size
        self.heads = cfg.num_heads
        self.norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        hidden = int(d * cfg.mlp_ratio)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if _HAS_SDPA:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class VitEncoder(nn.Module):
    """pixel_values [B,3,S,S] -> [B, (S/p)^2, C]; S must equal cfg.image_size."""

    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Conv2d(3, cfg.hidden_size, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.hidden_size))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        elif cfg.pos_embed == "sincos":
            self.register_buffer("pos_embed", sincos_2d(cfg.grid, cfg.hidden_size), persistent=False)
        else:
            raise ValueError(f"Unknown pos_embed: {cfg.pos_embed!r} (expected sincos | learned)")
        self.blocks = nn.ModuleList(VitBlock(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def block_outputs(self, pixel_values: torch.Tensor) -> list[torch.Tensor]:
        """[B, N, C] after each block (the last one normed, as `forward` returns it)."""
        x = self.patch_embed(pixel_values).flatten(2).transpose(1, 2)  # row-major patches
        x = x + self.pos_embed
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        outs[-1] = self.norm(x)
        return outs

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.block_outputs(pixel_values)[-1]


class VitTower(nn.Module):
    def __init__(self, cfg: VitConfig, text_dim: int):
        super().__init__()
        self.encoder = VitEncoder(cfg)
        self.projector = MlpGeluProjector(cfg.hidden_size, text_dim)

    def cells(self, pixel_values: torch.Tensor, uv: torch.Tensor | None = None) -> torch.Tensor:
        """The output cells before the projector (positions come from the ViT's own embedding)."""
        return self.encoder(pixel_values)

    def dense(self, pixel_values: torch.Tensor, uv: torch.Tensor | None = None, cells: bool = True):
        """({patch: the middle block's tokens as NHWC}, output cells), as VisionTower.dense
        (a ViT has no cheaper partial pass: `cells` is ignored)."""
        outs = self.encoder.block_outputs(pixel_values)
        g, p = self.encoder.cfg.grid, self.encoder.cfg.patch_size
        middle = outs[len(outs) // 2 - 1]
        return {p: middle.reshape(middle.shape[0], g, g, -1)}, outs[-1]

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(pixel_values))


class VitLlava(nn.Module):
    """Same attribute layout as tiny_model.TinyConvLlava (vision / embed_tokens / decoder),
    so the training, evaluation and quantization-simulation code treats both alike. A
    subclass names another tower (MC-LLaVA's) in `tower`."""

    tower: type[nn.Module] = VitTower

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.vision_cfg, self.text_cfg = cfg.vit, cfg.text
        self.vision = self.tower(cfg.vit, cfg.text.hidden_size)
        self.embed_tokens = nn.Embedding(cfg.text.vocab_size, cfg.text.hidden_size)
        self.decoder = LlamaDecoder(cfg.text)
