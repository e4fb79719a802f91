"""PIIP-LLaVA on Loupe-Synth (issue 12): a parameter-inverted pyramid trained with the recipe.

PIIP (REFERENCE §3) runs a *narrow* ConvNeXt on the high-resolution input and a *wide* one
on the low-resolution input (the bilinear half-size downscale of the normalised high
tensor), lets them read each other through deformable cross-attention after some stages,
and merges on the high grid: the low branch's last map resized bilinearly to it, one
projector per branch (Linear -> GroupNorm -> GELU -> Linear), summed. The building blocks are
the tiny random PIIP's (families/piip.py), so the trained graph is the one the runtime's
`piip` family already runs.

For the recipe the tower exposes what the other towers do:
  cells(high)  [B, N, C_high + C_low]: the high branch's cells (with the 2-D position code the
               shipped ConvLLaVA has) beside the low branch's map resized to the high grid, i.e.
               exactly what the two projectors read, so features cache it and the decoder
               stage trains both projectors;
  dense(high)  fine maps at strides 8 and 16 of the high input with both branches' channels
               side by side (the low branch at half size has those strides one stage
               earlier), and the cells.
A window of the high input (origin on the 64-pixel grid) downscales to exactly the same
pixels as the matching window of the whole low input (a 2x bilinear downscale reads pixels
2i and 2i+1 only), so windows train both branches and their interactions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..families.piip import BranchProjector, DeformableCrossAttention
from ..loupe_models.convnext import ConvNeXtConfig, ConvNeXtEncoder
from ..loupe_models.llama import LlamaDecoder
from ..loupe_models.position import grid_uv, sincos_code


@dataclass
class PyramidSpec:
    """The low branch and the interactions (the high branch is ModelConfig.convnext)."""

    low: dict = field(default_factory=lambda: asdict(ConvNeXtConfig(hidden_sizes=[32, 64, 128, 256, 384], depths=[1, 2, 2, 2, 1])))
    interactions: list[int] = field(default_factory=lambda: [3, 4])  # after these stages (0-based)
    heads: int = 4
    points: int = 4
    groups: int = 32  # GroupNorm groups in each projector
    # The high input's trained sides (the low branch sees half of each); the largest is the
    # bundle's default.
    resolutions: list[int] = field(default_factory=lambda: [768, 1024, 1536])

    @property
    def low_config(self) -> ConvNeXtConfig:
        return ConvNeXtConfig(**self.low)


def low_input(pixel_values: torch.Tensor) -> torch.Tensor:
    """The low branch's input: the normalised high tensor downscaled to half size, bilinear,
    align_corners=False, no antialias (REFERENCE §3)."""
    h, w = pixel_values.shape[-2:]
    return F.interpolate(pixel_values, size=(h // 2, w // 2), mode="bilinear", align_corners=False)


class PiipEncoder(nn.Module):
    """Both branches and their interactions (everything the encoder stage trains)."""

    def __init__(self, high: ConvNeXtConfig, spec: PyramidSpec):
        super().__init__()
        low = spec.low_config
        if high.num_stages != low.num_stages:
            raise ValueError("both branches need the same number of stages")
        self.high, self.low = ConvNeXtEncoder(high), ConvNeXtEncoder(low)
        self.high_from_low = nn.ModuleDict(
            {str(k): DeformableCrossAttention(high.hidden_sizes[k], low.hidden_sizes[k], spec.heads, spec.points) for k in spec.interactions})
        self.low_from_high = nn.ModuleDict(
            {str(k): DeformableCrossAttention(low.hidden_sizes[k], high.hidden_sizes[k], spec.heads, spec.points) for k in spec.interactions})

    def maps(self, high: torch.Tensor, low: torch.Tensor, stages: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(high map, low map) NCHW after each of the first `stages` stages (all: None)."""
        out = []
        for k, (stage_high, stage_low) in enumerate(list(zip(self.high.stages, self.low.stages))[:stages]):
            high, low = stage_high(high), stage_low(low)
            if str(k) in self.high_from_low:
                high, low = self.high_from_low[str(k)](high, low), self.low_from_high[str(k)](low, high)
            out.append((high, low))
        return out


class PiipTower(nn.Module):
    """What vision_encoder.onnx holds: (pixel_values [B,3,H,W], pixel_values_low [B,3,H/2,W/2])
    -> image_features [B, (H/64)(W/64), text width]."""

    # The projectors' GroupNorm normalises over all of an image's cells: project them all.
    projects_whole_image = True

    def __init__(self, high: ConvNeXtConfig, spec: PyramidSpec, text_dim: int):
        super().__init__()
        self.cfg, self.spec = high, spec
        self.encoder = PiipEncoder(high, spec)
        self.high_dim, self.low_dim = high.hidden_sizes[-1], spec.low_config.hidden_sizes[-1]
        self.projector_high = BranchProjector(self.high_dim, text_dim, spec.groups)
        self.projector_low = BranchProjector(self.low_dim, text_dim, spec.groups)

    def _cells(self, high: torch.Tensor, low: torch.Tensor, uv: torch.Tensor | None) -> torch.Tensor:
        """Last maps -> [B, N, C_high + C_low] on the high grid (position code on the high part)."""
        rows, cols = high.shape[-2:]
        low = F.interpolate(low, size=(rows, cols), mode="bilinear", align_corners=False)
        high = high.flatten(2).transpose(1, 2)
        if self.cfg.position_code:
            where = grid_uv(rows, cols, high.device)[None] if uv is None else uv
            high = high + self.cfg.position_code * sincos_code(where, high.shape[-1])
        return torch.cat([high, low.flatten(2).transpose(1, 2)], dim=-1)

    def cells(self, pixel_values: torch.Tensor, uv: torch.Tensor | None = None, pixel_values_low: torch.Tensor | None = None) -> torch.Tensor:
        low = low_input(pixel_values) if pixel_values_low is None else pixel_values_low
        high, low = self.encoder.maps(pixel_values, low)[-1]
        return self._cells(high, low, uv)

    def dense(self, pixel_values: torch.Tensor, uv: torch.Tensor | None = None, cells: bool = True):
        """({8, 16: NHWC maps, both branches' channels}, cells or None); cells=False runs
        the stages up to stride 16 only (no interaction is that early)."""
        maps = self.encoder.maps(pixel_values, low_input(pixel_values), None if cells else 3)
        fine = {self.cfg.patch_size * 2**i: torch.cat([maps[i][0], maps[i - 1][1]], dim=1).permute(0, 2, 3, 1) for i in (1, 2)}
        return fine, (self._cells(*maps[-1], uv) if cells else None)

    def project(self, cells: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """Cached cells -> the decoder's image rows: one projector per branch, summed."""
        return self.projector_high(cells[..., : self.high_dim]) + self.projector_low(cells[..., self.high_dim :])

    def text_side(self) -> dict[str, nn.Module]:
        return {"projector_high": self.projector_high, "projector_low": self.projector_low}

    def forward(self, pixel_values: torch.Tensor, pixel_values_low: torch.Tensor | None = None) -> torch.Tensor:
        return self.project(self.cells(pixel_values, None, pixel_values_low))


class PiipLlava(nn.Module):
    """Same attribute layout as TinyConvLlava (vision / embed_tokens / decoder)."""

    def __init__(self, high: ConvNeXtConfig, spec: PyramidSpec, text):
        super().__init__()
        self.vision_cfg, self.text_cfg = high, text
        self.vision = PiipTower(high, spec, text.hidden_size)
        self.embed_tokens = nn.Embedding(text.vocab_size, text.hidden_size)
        self.decoder = LlamaDecoder(text)
