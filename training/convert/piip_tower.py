"""PIIP-LLaVA's vision tower (OpenGVLab/PIIP `2branch_mix`) as Loupe exports it, with the
released parameter names under `vision.tower.` / `vision.projector.` so the checkpoint
loads by prefix (REAL-MODELS.md §2):

- branch1 `clip_model` (HF CLIPVisionModel names) on the low-resolution image: patch conv,
  CLS + position table (the grid part resized bicubically to the input's grid), pre-norm;
- branch2 `convnext_model` (timm names) on the high-resolution image: `stem.{0,1}`, per
  stage `downsample.{0,1}` and `blocks.j.{conv_dw, norm, mlp.fc1, mlp.fc2, gamma}`, run as
  one flat list of layers (downsamples count as layers, as PIIP's wrapper does);
- `interactions.k.interaction_units_12`: after the k-th slice of both branches, each reads
  the other through deformable cross-attention (1 level, `heads` x `points` samples around
  the cell's own relative position) and a ConvFFN, both through learned gates; the
  sampling is bilinear with zero padding (grid_sample's align_corners=False), written with
  Floor and Gather (families/piip.py `bilinear_gather`);
- the projector `branch{1,2}.{1: Linear, 3: GroupNorm, 6: Linear}` (GELU between), the CLIP
  map resized bilinearly to the ConvNeXt grid first, both summed: one token per cell of the
  high-resolution grid.

`forward(pixel_values, pixel_values_low)`: the high-resolution tensor for the ConvNeXt
branch and the low-resolution one for CLIP; sizes are read from tensors, so the graph takes
any pair of multiples of the two strides.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..families.clip_vit import ClipEncoderLayer, ClipVisionConfig
from ..families.piip import bilinear_gather, cell_centres
from ..loupe_models.convnext import ChannelLayerNorm

INTERACTION_EPS = 1e-6  # PIIP's norm_layer "ln": LayerNorm(eps=1e-6)
CONVNEXT_EPS = 1e-6  # timm ConvNeXt


@dataclass
class PiipTowerConfig:
    clip: ClipVisionConfig  # the low-resolution branch; image_size = its input side
    convnext_dims: list[int]
    convnext_depths: list[int]
    high_size: int
    clip_interactions: list[list[int]]  # [first, last] CLIP layer of each slice
    convnext_interactions: list[list[int]]  # [first, last] ConvNeXt layer (downsample or block)
    heads: int
    points: int
    deform_ratio: float
    cffn_ratio: float
    with_cffn: bool
    with_proj: bool
    projector_groups: int = 32

    @property
    def stride(self) -> int:
        return 4 * 2 ** (len(self.convnext_dims) - 1)

    def convnext_layer_dims(self) -> list[int]:
        """Output width of each flat ConvNeXt layer (stage 0 has no downsample)."""
        dims: list[int] = []
        for s, (dim, depth) in enumerate(zip(self.convnext_dims, self.convnext_depths)):
            dims += [dim] * (depth + (1 if s > 0 else 0))
        return dims


def _tokens(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2).transpose(1, 2)


def _map(tokens: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[B, H*W, C] back to [B, C, H, W] with `like`'s H and W."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], like.shape[2], like.shape[3])


class ClipEmbeddings(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        d = cfg.hidden_size
        self.patch_embedding = nn.Conv2d(3, d, cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(d))
        self.position_embedding = nn.Embedding(cfg.num_patches + 1, d)
        self.grid = cfg.image_size // cfg.patch_size


class ClipBranch(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.embeddings = ClipEmbeddings(cfg)
        self.pre_layrnorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(ClipEncoderLayer(cfg) for _ in range(cfg.num_hidden_layers))

    def embed(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (CLS [B, 1, D], patch map [B, D, h, w]) after the position table and pre-norm."""
        e = self.embeddings
        patches = e.patch_embedding(pixel_values)  # [B, D, h, w]
        table = e.position_embedding.weight
        grid = table[1:].reshape(1, e.grid, e.grid, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=patches.shape[-2:], mode="bicubic", align_corners=False)
        x = torch.cat([(e.class_embedding + table[0]).expand(patches.shape[0], 1, -1), _tokens(patches + grid)], dim=1)
        x = self.pre_layrnorm(x)
        return x[:, :1], _map(x[:, 1:], patches)

    def run(self, cls: torch.Tensor, x: torch.Tensor, first: int, last: int) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.cat([cls, _tokens(x)], dim=1)
        for layer in self.encoder.layers[first : last + 1]:
            h = layer(h)
        return h[:, :1], _map(h[:, 1:], x)


class TimmMlp(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TimmBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=CONVNEXT_EPS)
        self.mlp = TimmMlp(dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mlp(self.norm(self.conv_dw(x).permute(0, 2, 3, 1))) * self.gamma
        return x + h.permute(0, 3, 1, 2)


class TimmStage(nn.Module):
    def __init__(self, previous: int, dim: int, depth: int, first: bool):
        super().__init__()
        self.downsample = nn.Identity() if first else nn.Sequential(ChannelLayerNorm(previous, eps=CONVNEXT_EPS), nn.Conv2d(previous, dim, 2, stride=2))
        self.blocks = nn.ModuleList(TimmBlock(dim) for _ in range(depth))


class ConvNextBranch(nn.Module):
    def __init__(self, dims: list[int], depths: list[int]):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), ChannelLayerNorm(dims[0], eps=CONVNEXT_EPS))
        self.stages = nn.ModuleList(TimmStage(dims[max(s - 1, 0)], dims[s], depths[s], s == 0) for s in range(len(dims)))
        # PIIP's flat layer list: each stage's downsample (stages 1+) then its blocks.
        self.layers: list[nn.Module] = []
        for s, stage in enumerate(self.stages):
            self.layers += ([] if s == 0 else [stage.downsample]) + list(stage.blocks)

    def run(self, x: torch.Tensor, first: int, last: int) -> torch.Tensor:
        for layer in self.layers[first : last + 1]:
            x = layer(x)
        return x


class DeformAttention(nn.Module):
    """MSDeformAttn with one level: value from `feat`, `points` samples per head around the
    query cell's centre, offsets in the value map's cells."""

    def __init__(self, dim: int, heads: int, points: int, ratio: float):
        super().__init__()
        self.heads, self.points = heads, points
        inner = int(dim * ratio)
        self.sampling_offsets = nn.Linear(dim, heads * points * 2)
        self.attention_weights = nn.Linear(dim, heads * points)
        self.value_proj = nn.Linear(dim, inner)
        self.output_proj = nn.Linear(inner, dim)

    def forward(self, query: torch.Tensor, query_map: torch.Tensor, feat: torch.Tensor, feat_map: torch.Tensor) -> torch.Tensor:
        b, q, h, p = query.shape[0], query.shape[1], self.heads, self.points
        value = self.value_proj(feat)
        value = value.reshape(b, value.shape[1], h, -1).transpose(1, 2)  # [B, h, K, dh]
        ones = torch.ones_like(feat_map[:1, 0])  # [1, Hk, Wk]
        height, width = ones.sum(1)[:, :1], ones.sum(2)[:, :1]  # [1, 1] each
        offsets = self.sampling_offsets(query).reshape(b, q, h, p, 2)
        weights = self.attention_weights(query).reshape(b, q, h, p).softmax(-1)
        ref = cell_centres(query_map)  # [1, Q, 2] in [0, 1]
        # grid_sample (align_corners=False): pixel = location * size - 0.5, location = ref + offset / size.
        x = ref[..., 0, None, None] * width[..., None, None] - 0.5 + offsets[..., 0]
        y = ref[..., 1, None, None] * height[..., None, None] - 0.5 + offsets[..., 1]
        sampled = bilinear_gather(value, height[..., None], width[..., None], x.transpose(1, 2).flatten(2), y.transpose(1, 2).flatten(2))
        sampled = sampled.reshape(b, h, q, p, sampled.shape[-1])
        out = (sampled * weights.transpose(1, 2)[..., None]).sum(3)  # [B, h, Q, dh]
        return self.output_proj(out.transpose(1, 2).flatten(2))


class DWConv(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)


class ConvFFN(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.dwconv, self.act, self.fc2 = nn.Linear(dim, hidden), DWConv(hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        h = self.dwconv.dwconv(_map(self.fc1(x), like))
        return self.fc2(self.act(_tokens(h)))


class Injector(nn.Module):
    def __init__(self, dim: int, cfg: PiipTowerConfig):
        super().__init__()
        self.query_norm = nn.LayerNorm(dim, eps=INTERACTION_EPS)
        self.feat_norm = nn.LayerNorm(dim, eps=INTERACTION_EPS)
        self.attn = DeformAttention(dim, cfg.heads, cfg.points, cfg.deform_ratio)
        self.ca_weight = nn.Parameter(torch.zeros(dim))
        self.with_cffn = cfg.with_cffn
        if cfg.with_cffn:
            self.cffn_weight = nn.Parameter(torch.zeros(dim))
            self.ffn = ConvFFN(dim, int(dim * cfg.cffn_ratio))
            self.ffn_norm = nn.LayerNorm(dim, eps=INTERACTION_EPS)

    def forward(self, query_map: torch.Tensor, feat: torch.Tensor, feat_map: torch.Tensor) -> torch.Tensor:
        query = _tokens(query_map)
        query = query + self.ca_weight * self.attn(self.query_norm(query), query_map, self.feat_norm(feat), feat_map)
        if self.with_cffn:
            query = query + self.cffn_weight * self.ffn(self.ffn_norm(query), query_map)
        return _map(query, query_map)


class InteractionUnit(nn.Module):
    """x1: CLIP (small image, large model), x2: ConvNeXt (large image, small model)."""

    def __init__(self, dim1: int, dim2: int, cfg: PiipTowerConfig):
        super().__init__()
        if not cfg.with_proj:
            raise SystemExit("PIIP towers without interaction_proj are not supported")
        self.branch2to1_proj = nn.Linear(dim2, dim1)
        self.branch1to2_proj = nn.Linear(dim1, dim2)
        self.branch2to1_injector = Injector(dim1, cfg)
        self.branch1to2_injector = Injector(dim2, cfg)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        to2, to1 = self.branch1to2_proj(_tokens(x1)), self.branch2to1_proj(_tokens(x2))
        return self.branch2to1_injector(x1, to1, x2), self.branch1to2_injector(x2, to2, x1)


class Interaction(nn.Module):
    def __init__(self, dim1: int, dim2: int, cfg: PiipTowerConfig):
        super().__init__()
        self.interaction_units_12 = InteractionUnit(dim1, dim2, cfg)


class PiipTower(nn.Module):
    def __init__(self, cfg: PiipTowerConfig):
        super().__init__()
        self.cfg = cfg
        self.branch1, self.branch2 = nn.Module(), nn.Module()
        self.branch1.clip_model = ClipBranch(cfg.clip)
        self.branch2.convnext_model = ConvNextBranch(cfg.convnext_dims, cfg.convnext_depths)
        dims2 = cfg.convnext_layer_dims()
        self.interactions = nn.ModuleList(Interaction(cfg.clip.hidden_size, dims2[last], cfg) for _, last in cfg.convnext_interactions)

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        clip, convnext = self.branch1.clip_model, self.branch2.convnext_model
        cls, x1 = clip.embed(low)
        x2 = convnext.stem(high)
        for k, interaction in enumerate(self.interactions):
            cls, x1 = clip.run(cls, x1, *self.cfg.clip_interactions[k])
            x2 = convnext.run(x2, *self.cfg.convnext_interactions[k])
            x1, x2 = interaction.interaction_units_12(x1, x2)
        return x1, x2


class ProjectorBranch(nn.Sequential):
    """Indices as PIIP's Sequential: 1 Linear, 3 GroupNorm, 4 GELU, 6 Linear (the rest permute)."""

    def __init__(self, in_dim: int, out_dim: int, groups: int):
        super().__init__(nn.Identity(), nn.Linear(in_dim, out_dim), nn.Identity(), nn.GroupNorm(groups, out_dim), nn.GELU(), nn.Identity(), nn.Linear(out_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W] -> [B, H*W, out]
        h = self[1](_tokens(x))
        h = self[4](self[3](h.transpose(1, 2))).transpose(1, 2)
        return self[6](h)


class TwoBranchProjector(nn.Module):
    def __init__(self, dim1: int, dim2: int, out_dim: int, groups: int):
        super().__init__()
        self.branch1 = ProjectorBranch(dim1, out_dim, groups)
        self.branch2 = ProjectorBranch(dim2, out_dim, groups)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        x1 = F.interpolate(x1, size=x2.shape[-2:], mode="bilinear", align_corners=False)
        return self.branch1(x1) + self.branch2(x2)


class PiipVisionTower(nn.Module):
    """What `vision_encoder.onnx` holds: (pixel_values [B, 3, S, S], pixel_values_low
    [B, 3, s, s]) -> image_features [B, (S / stride)^2, text width]."""

    def __init__(self, cfg: PiipTowerConfig, text_dim: int):
        super().__init__()
        self.cfg = cfg
        self.tower = PiipTower(cfg)
        self.projector = TwoBranchProjector(cfg.clip.hidden_size, cfg.convnext_dims[-1], text_dim, cfg.projector_groups)

    def forward(self, pixel_values: torch.Tensor, pixel_values_low: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.tower(pixel_values, pixel_values_low)
        return self.projector(x1, x2)
