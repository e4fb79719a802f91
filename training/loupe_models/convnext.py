"""ConvNeXt image tower with the 5th stage ConvLLaVA adds (total stride 64).

Layout follows the HF ConvNeXt / open_clip convnext the released towers use: stem
conv 4x4/4 + channel LayerNorm, stages 2..5 open with LayerNorm + conv 2x2/2, blocks
are depthwise 7x7 -> LayerNorm -> MLP (GELU, exact erf) -> layer scale -> residual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class ConvNeXtConfig:
    hidden_sizes: list[int] = field(default_factory=lambda: [8, 16, 24, 32, 48])
    depths: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 1])
    patch_size: int = 4
    layer_norm_eps: float = 1e-6
    # Amplitude of the fixed 2-D sin-cos position code added to the output cells
    # (position.py); 0: none, as in the released ConvLLaVA towers.
    position_code: float = 0.0

    @property
    def num_stages(self) -> int:
        return len(self.hidden_sizes)

    @property
    def stride(self) -> int:
        return self.patch_size * 2 ** (self.num_stages - 1)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over C of an NCHW map (permute, normalise, permute back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).permute(0, 2, 3, 1)  # NHWC so the Linears act on channels
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        h = h * self.layer_scale
        return x + h.permute(0, 3, 1, 2)


class ConvNeXtStage(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, depth: int, first: bool, cfg: ConvNeXtConfig):
        super().__init__()
        if first:
            # The stem: patchify, then normalise (norm comes after the conv here).
            self.downsample = nn.Sequential(
                nn.Conv2d(in_dim, out_dim, kernel_size=cfg.patch_size, stride=cfg.patch_size),
                ChannelLayerNorm(out_dim, eps=cfg.layer_norm_eps),
            )
        else:
            self.downsample = nn.Sequential(
                ChannelLayerNorm(in_dim, eps=cfg.layer_norm_eps),
                nn.Conv2d(in_dim, out_dim, kernel_size=2, stride=2),
            )
        self.blocks = nn.Sequential(*[ConvNeXtBlock(out_dim, cfg.layer_norm_eps) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class ConvNeXtEncoder(nn.Module):
    """pixel_values [B,3,H,W] -> tokens [B, (H/64)*(W/64), C_last], row-major."""

    def __init__(self, cfg: ConvNeXtConfig):
        super().__init__()
        self.cfg = cfg
        dims = [3] + cfg.hidden_sizes
        self.stages = nn.ModuleList(
            ConvNeXtStage(dims[i], dims[i + 1], cfg.depths[i], i == 0, cfg) for i in range(cfg.num_stages)
        )

    def stage_maps(self, pixel_values: torch.Tensor, stages: int | None = None) -> list[torch.Tensor]:
        """The NCHW output of the first `stages` stages (all: strides 4, 8, ..., 64), for
        dense supervision."""
        maps, x = [], pixel_values
        for stage in self.stages[:stages]:
            x = stage(x)
            maps.append(x)
        return maps

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = pixel_values
        for stage in self.stages:
            x = stage(x)
        # No final norm: ConvLLaVA feeds the raw last-stage map to the projector.
        return x.permute(0, 2, 3, 1).flatten(1, 2)
