"""A PyTorch reference for a released PIIP-LLaVA checkpoint, written from OpenGVLab/PIIP's
`2branch_mix` forward and run on the checkpoint's own tensor names, independent of the
converter's module (piip_tower.py) and its key mapping:

- image: expand2square with the ImageNet mean colour (123, 116, 103), bicubic to branch2's
  `img_size`, ImageNet mean / std; branch1's input is that tensor bilinearly resized by
  `img_size1 / img_size2` (F.interpolate with scale_factor, align_corners=False);
- branch1 (HF CLIP names): patch conv, the position table's grid bicubically resized to the
  patch grid, CLS kept through the layers, `pre_layrnorm`, pre-norm layers with quick_gelu;
- branch2 (timm ConvNeXt names): stem, then the flat list of layers (each stage's downsample,
  then its blocks; layer scale `gamma` or `weight`);
- per interaction: both branches' slices, then MSDeformAttn (1 level) both ways in
  grid_sample form (`ms_deform_attn_core_pytorch`), gated by `ca_weight`, and a gated
  ConvFFN; branch1 is updated first, each side reading the other's pre-update tokens
  through its `*_proj`;
- projector `model.mm_projector.branch{1,2}.{1,3,6}` (the CLIP map bilinearly resized to the
  ConvNeXt grid first), summed, row-major over the ConvNeXt grid.
The decoder, prompt and greedy loop are ConvLLaVA's (vicuna_v1, -200, Llama):
reference_convllava.
"""

from __future__ import annotations

import math

import torch
from PIL import Image
from torch.nn import functional as F

from ..preprocess import IMAGENET_MEAN, IMAGENET_STD, normalise, pad_to_square

TOWER = "model.vision_tower.vision_tower."


def pixel_values(image: Image.Image, high: int, low: int) -> tuple[torch.Tensor, torch.Tensor]:
    square = pad_to_square(image.convert("RGB"), tuple(int(m * 255) for m in IMAGENET_MEAN)).resize((high, high), Image.BICUBIC)
    x = torch.from_numpy(normalise(square, IMAGENET_MEAN, IMAGENET_STD))
    return x, F.interpolate(x, scale_factor=low / high, mode="bilinear", align_corners=False)


def _ln(x: torch.Tensor, s: dict, p: str, eps: float) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], s[p + ".weight"], s[p + ".bias"], eps)


def _lin(x: torch.Tensor, s: dict, p: str) -> torch.Tensor:
    return F.linear(x, s[p + ".weight"], s.get(p + ".bias"))


def _clip_layer(s: dict, p: str, x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, d = x.shape
    h = _ln(x, s, p + "layer_norm1", 1e-5)
    q, k, v = (_lin(h, s, f"{p}self_attn.{n_}_proj").view(b, n, heads, d // heads).transpose(1, 2) for n_ in "qkv")
    attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), -1) @ v
    x = x + _lin(attn.transpose(1, 2).reshape(b, n, d), s, p + "self_attn.out_proj")
    h = _lin(_ln(x, s, p + "layer_norm2", 1e-5), s, p + "mlp.fc1")
    return x + _lin(h * torch.sigmoid(1.702 * h), s, p + "mlp.fc2")


def _ln2d(x: torch.Tensor, s: dict, p: str) -> torch.Tensor:
    return _ln(x.permute(0, 2, 3, 1), s, p, 1e-6).permute(0, 3, 1, 2)


def _convnext_layers(s: dict) -> list[str]:
    """Flat layer prefixes: `stages.i.downsample` (i > 0) then `stages.i.blocks.j`."""
    c = TOWER + "branch2.convnext_model."
    layers = []
    for i in range(100):
        if c + f"stages.{i}.blocks.0.conv_dw.weight" not in s:
            break
        if c + f"stages.{i}.downsample.1.weight" in s:
            layers.append(c + f"stages.{i}.downsample")
        j = 0
        while c + f"stages.{i}.blocks.{j}.conv_dw.weight" in s:
            layers.append(c + f"stages.{i}.blocks.{j}")
            j += 1
    return layers


def _convnext_layer(s: dict, p: str, x: torch.Tensor) -> torch.Tensor:
    if p.endswith("downsample"):
        return F.conv2d(_ln2d(x, s, p + ".0"), s[p + ".1.weight"], s[p + ".1.bias"], stride=2)
    y = F.conv2d(x, s[p + ".conv_dw.weight"], s[p + ".conv_dw.bias"], padding=3, groups=x.shape[1]).permute(0, 2, 3, 1)
    y = _lin(F.gelu(_lin(_ln(y, s, p + ".norm", 1e-6), s, p + ".mlp.fc1")), s, p + ".mlp.fc2")
    scale = s[p + ".gamma"] if p + ".gamma" in s else s[p + ".weight"]
    return x + (y * scale).permute(0, 3, 1, 2)


def _deform(s: dict, p: str, query: torch.Tensor, q_hw: tuple[int, int], feat: torch.Tensor, f_hw: tuple[int, int], heads: int, points: int) -> torch.Tensor:
    """MSDeformAttn forward with ms_deform_attn_core_pytorch (one level)."""
    n, lq, _ = query.shape
    (qh, qw), (fh, fw) = q_hw, f_hw
    value = _lin(feat, s, p + "value_proj")
    dh = value.shape[-1] // heads
    value = value.view(n, fh * fw, heads, dh)
    offsets = _lin(query, s, p + "sampling_offsets").view(n, lq, heads, 1, points, 2)
    weights = torch.softmax(_lin(query, s, p + "attention_weights").view(n, lq, heads, points), -1).view(n, lq, heads, 1, points)
    ref_y, ref_x = torch.meshgrid(torch.linspace(0.5, qh - 0.5, qh), torch.linspace(0.5, qw - 0.5, qw), indexing="ij")
    ref = torch.stack((ref_x.reshape(-1) / qw, ref_y.reshape(-1) / qh), -1)[None, :, None]  # [1, Lq, 1, 2]
    normaliser = torch.tensor([fw, fh], dtype=torch.float32)
    locations = ref[:, :, None, :, None, :] + offsets / normaliser[None, None, None, None, None, :]
    v = value.flatten(2).transpose(1, 2).reshape(n * heads, dh, fh, fw)
    grid = (2 * locations - 1)[:, :, :, 0].transpose(1, 2).flatten(0, 1)  # [N*h, Lq, P, 2]
    sampled = F.grid_sample(v, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # [N*h, dh, Lq, P]
    w = weights.transpose(1, 2).reshape(n * heads, 1, lq, points)
    out = (sampled * w).sum(-1).view(n, heads * dh, lq).transpose(1, 2)
    return _lin(out, s, p + "output_proj")


def _injector(s: dict, p: str, query: torch.Tensor, q_hw, feat: torch.Tensor, f_hw, heads: int, points: int) -> torch.Tensor:
    attn = _deform(s, p + "attn.", _ln(query, s, p + "query_norm", 1e-6), q_hw, _ln(feat, s, p + "feat_norm", 1e-6), f_hw, heads, points)
    query = query + s[p + "ca_weight"] * attn
    if p + "ffn.fc1.weight" in s:
        h = _lin(_ln(query, s, p + "ffn_norm", 1e-6), s, p + "ffn.fc1")
        b, _, c = h.shape
        h = F.conv2d(h.transpose(1, 2).reshape(b, c, *q_hw), s[p + "ffn.dwconv.dwconv.weight"], s[p + "ffn.dwconv.dwconv.bias"], padding=1, groups=c)
        query = query + s[p + "cffn_weight"] * _lin(F.gelu(h.flatten(2).transpose(1, 2)), s, p + "ffn.fc2")
    return query


def _project(s: dict, p: str, x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, H*W, out]: Linear, GroupNorm(32), GELU, Linear."""
    h = _lin(x.permute(0, 2, 3, 1), s, p + "1").permute(0, 3, 1, 2)
    h = F.gelu(F.group_norm(h, 32, s[p + "3.weight"], s[p + "3.bias"], 1e-5))
    h = _lin(h.permute(0, 2, 3, 1), s, p + "6")
    return h.flatten(1, 2)


@torch.no_grad()
def features(s: dict[str, torch.Tensor], backbone: dict, high: torch.Tensor, low: torch.Tensor, clip_heads: int) -> torch.Tensor:
    """The tower and projector -> [1, (H/32)*(W/32), text width]."""
    heads, points = backbone["deform_num_heads"], backbone["n_points"]
    c = TOWER + "branch1.clip_model."
    patches = F.conv2d(low, s[c + "embeddings.patch_embedding.weight"], stride=s[c + "embeddings.patch_embedding.weight"].shape[-1])
    b, d, h1, w1 = patches.shape
    table = s[c + "embeddings.position_embedding.weight"]
    g = int(round(math.sqrt(table.shape[0] - 1)))
    grid = F.interpolate(table[1:].reshape(1, g, g, d).permute(0, 3, 1, 2), size=(h1, w1), mode="bicubic", align_corners=False)
    x = torch.cat([s[c + "embeddings.class_embedding"].expand(b, 1, d), patches.flatten(2).transpose(1, 2)], 1)
    x = x + torch.cat([table[:1][None], grid.reshape(1, d, h1 * w1).permute(0, 2, 1)], 1)
    x = _ln(x, s, c + "pre_layrnorm", 1e-5)
    cls1, x1 = x[:, :1], x[:, 1:]
    cn = TOWER + "branch2.convnext_model."
    x2 = _ln2d(F.conv2d(high, s[cn + "stem.0.weight"], s[cn + "stem.0.bias"], stride=4), s, cn + "stem.1")
    layers = _convnext_layers(s)
    for k, (r1, r2) in enumerate(zip(backbone["branch1"]["interaction_indexes"], backbone["branch2"]["interaction_indexes"])):
        h = torch.cat([cls1, x1], 1)
        for i in range(r1[0], r1[-1] + 1):
            h = _clip_layer(s, f"{c}encoder.layers.{i}.", h, clip_heads)
        cls1, x1 = h[:, :1], h[:, 1:]
        for i in range(r2[0], r2[-1] + 1):
            x2 = _convnext_layer(s, layers[i], x2)
        h2, w2 = x2.shape[-2:]
        t2 = x2.flatten(2).transpose(1, 2)
        u = f"{TOWER}interactions.{k}.interaction_units_12."
        to1, to2 = _lin(t2, s, u + "branch2to1_proj"), _lin(x1, s, u + "branch1to2_proj")
        x1 = _injector(s, u + "branch2to1_injector.", x1, (h1, w1), to1, (h2, w2), heads, points)
        t2 = _injector(s, u + "branch1to2_injector.", t2, (h2, w2), to2, (h1, w1), heads, points)
        x2 = t2.transpose(1, 2).reshape(b, -1, h2, w2)
    m1 = x1.transpose(1, 2).reshape(b, d, h1, w1)
    m1 = F.interpolate(m1, size=x2.shape[-2:], mode="bilinear", align_corners=False)
    return _project(s, "model.mm_projector.branch1.", m1) + _project(s, "model.mm_projector.branch2.", x2)
