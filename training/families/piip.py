"""PIIP's parameter-inverted pyramid in miniature (REFERENCE §3): a narrow ConvNeXt on the
high-resolution input, a wider one on the low-resolution input, deformable cross-attention
both ways after some stages, merge on the high grid.

Interactions: after stage k of both branches, each branch's cells attend to the other's
map: per head, `points` samples around the cell's own relative position (offsets and
weights predicted from the cell), bilinear sampling written with Floor, Gather and
arithmetic only (onnxruntime's GridSample has a patchy WebGPU record), added through a
gate (`ca_weight`). Merge: the low branch's last map resized bilinearly to the high grid,
per branch Linear -> GroupNorm -> GELU -> Linear to the decoder width, summed; tokens
row-major over the high grid (stride = the narrow branch's).

Every size is read from tensors, never from Python ints, so the exported graph takes any
pair of sizes that are multiples of the stride.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..loupe_models.convnext import ConvNeXtConfig, ConvNeXtStage


@dataclass
class PiipConfig:
    high: ConvNeXtConfig = field(default_factory=lambda: ConvNeXtConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1]))
    low: ConvNeXtConfig = field(default_factory=lambda: ConvNeXtConfig(hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 1, 1]))
    interactions: tuple[int, ...] = (1, 2)  # after these stages (0-based)
    heads: int = 2
    points: int = 4
    groups: int = 32  # GroupNorm in each branch's projector


def cell_centres(feature_map: torch.Tensor) -> torch.Tensor:
    """[1, H*W, 2]: (x, y) of each cell's centre in [0, 1], row-major, from the map's shape."""
    ones = torch.ones_like(feature_map[:1, 0])  # [1, H, W]
    x = (ones.cumsum(2) - 0.5) / ones.sum(2, keepdim=True)
    y = (ones.cumsum(1) - 0.5) / ones.sum(1, keepdim=True)
    return torch.stack([x, y], dim=-1).flatten(1, 2)


def bilinear_gather(value: torch.Tensor, height: torch.Tensor, width: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """value [B, heads, H*W, dh] sampled at pixel coordinates (x, y) [B, heads, N]
    (pixel centres at integers, zero outside, as grid_sample with align_corners=False
    and zero padding) -> [B, heads, N, dh]."""
    x0, y0 = torch.floor(x), torch.floor(y)
    out = 0
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - (x - xi).abs()) * (1 - (y - yi).abs())
            inside = (xi >= 0) & (xi <= width - 1) & (yi >= 0) & (yi <= height - 1)
            xc = torch.minimum(torch.maximum(xi, torch.zeros_like(xi)), width - 1)
            yc = torch.minimum(torch.maximum(yi, torch.zeros_like(yi)), height - 1)
            index = (yc * width + xc).long()[..., None].expand(-1, -1, -1, value.shape[-1])
            out = out + torch.gather(value, 2, index) * (weight * inside.to(weight.dtype))[..., None]
    return out


class DeformableCrossAttention(nn.Module):
    """Cells of `query_map` read `points` samples per head of `value_map` around their own
    relative position; the result is added to the query map through the gate."""

    def __init__(self, query_dim: int, value_dim: int, heads: int, points: int):
        super().__init__()
        self.heads, self.points = heads, points
        self.query_norm = nn.LayerNorm(query_dim)
        self.feat_norm = nn.LayerNorm(value_dim)
        self.value_proj = nn.Linear(value_dim, query_dim)
        self.sampling_offsets = nn.Linear(query_dim, heads * points * 2)
        self.attention_weights = nn.Linear(query_dim, heads * points)
        self.output_proj = nn.Linear(query_dim, query_dim)
        self.ca_weight = nn.Parameter(torch.zeros(1))

    def forward(self, query_map: torch.Tensor, value_map: torch.Tensor) -> torch.Tensor:
        h, p = self.heads, self.points
        q = self.query_norm(query_map.flatten(2).transpose(1, 2))  # [B, Q, Cq]
        value = self.value_proj(self.feat_norm(value_map.flatten(2).transpose(1, 2)))  # [B, K, Cq]
        value = value.reshape(value.shape[0], value.shape[1], h, -1).transpose(1, 2)  # [B, h, K, dh]
        ones = torch.ones_like(value_map[:1, 0])  # [1, Hk, Wk]
        height, width = ones.sum(1)[:, :1], ones.sum(2)[:, :1]  # [1, 1] each
        offsets = self.sampling_offsets(q).reshape(q.shape[0], q.shape[1], h, p, 2)  # in value pixels
        weights = self.attention_weights(q).reshape(q.shape[0], q.shape[1], h, p).softmax(-1)
        ref = cell_centres(query_map)  # [1, Q, 2]
        x = ref[..., 0, None, None] * width[..., None, None] - 0.5 + offsets[..., 0]
        y = ref[..., 1, None, None] * height[..., None, None] - 0.5 + offsets[..., 1]
        sampled = bilinear_gather(value, height[..., None], width[..., None], x.transpose(1, 2).flatten(2), y.transpose(1, 2).flatten(2))
        sampled = sampled.reshape(sampled.shape[0], h, -1, p, sampled.shape[-1])  # [B, h, Q, p, dh]
        out = (sampled * weights.transpose(1, 2)[..., None]).sum(3)  # [B, h, Q, dh]
        out = self.output_proj(out.transpose(1, 2).flatten(2))  # [B, Q, Cq]
        return query_map + self.ca_weight * out.transpose(1, 2).reshape(query_map.shape)


class BranchProjector(nn.Module):
    """PIIP's per-branch projector: Linear -> GroupNorm -> GELU -> Linear."""

    def __init__(self, in_dim: int, out_dim: int, groups: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, out_dim)
        self.norm = nn.GroupNorm(groups, out_dim)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(out_dim, out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.linear_1(tokens).transpose(1, 2)).transpose(1, 2)
        return self.linear_2(self.act(h))


class PiipVision(nn.Module):
    """What `vision_encoder.onnx` holds: (pixel_values [1, 3, S, S], pixel_values_low
    [1, 3, s, s]) -> image_features [1, (S / stride)^2, text width]."""

    def __init__(self, cfg: PiipConfig, text_dim: int):
        super().__init__()
        self.cfg = cfg

        def stages(c: ConvNeXtConfig) -> nn.ModuleList:
            dims = [3] + c.hidden_sizes
            return nn.ModuleList(ConvNeXtStage(dims[i], dims[i + 1], c.depths[i], i == 0, c) for i in range(c.num_stages))

        self.high, self.low = stages(cfg.high), stages(cfg.low)
        self.high_from_low = nn.ModuleDict(
            {str(k): DeformableCrossAttention(cfg.high.hidden_sizes[k], cfg.low.hidden_sizes[k], cfg.heads, cfg.points) for k in cfg.interactions}
        )
        self.low_from_high = nn.ModuleDict(
            {str(k): DeformableCrossAttention(cfg.low.hidden_sizes[k], cfg.high.hidden_sizes[k], cfg.heads, cfg.points) for k in cfg.interactions}
        )
        self.projector_high = BranchProjector(cfg.high.hidden_sizes[-1], text_dim, cfg.groups)
        self.projector_low = BranchProjector(cfg.low.hidden_sizes[-1], text_dim, cfg.groups)

    def forward(self, pixel_values: torch.Tensor, pixel_values_low: torch.Tensor) -> torch.Tensor:
        high, low = pixel_values, pixel_values_low
        for k, (stage_high, stage_low) in enumerate(zip(self.high, self.low)):
            high, low = stage_high(high), stage_low(low)
            if str(k) in self.high_from_low:
                high, low = self.high_from_low[str(k)](high, low), self.low_from_high[str(k)](low, high)
        low = F.interpolate(low, size=high.shape[-2:], mode="bilinear", align_corners=False)
        return self.projector_high(high.flatten(2).transpose(1, 2)) + self.projector_low(low.flatten(2).transpose(1, 2))
