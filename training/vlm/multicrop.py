"""MC-LLaVA on Loupe-Synth (issue 12): the crop plan as training data, and the tower.

MC-LLaVA (REFERENCE §2) runs one fixed-size ViT over the whole image and over overlapping
crops, adds `coord_embed(crop centre)` to every token, and keeps each input's *last*
`split` tokens so the prompt always holds exactly `num_tokens`. Here the ViT is the
control's (vit.py: 336 px, patch 14), so a crop yields 24 x 24 - 1 = 575 tokens (patch 0
dropped, as MC-LLaVA drops it), and the crop grid starts at 336 image pixels (the
bundle's `loupe.crop_size`, which the runtime reads for both).

Every geometric fact comes from the reference planner (preprocess_plans.plan_multicrop)
and its pixels from preprocess_pixels.execute, so training sees exactly what the runtime
feeds the graph.

What the kept tokens stand for (`token_extent`). MC-LLaVA keeps an input's *last* tokens:
the bottom rows of its patch grid, a strip of a few percent of the crop when the knobs
share 576 tokens among 17 inputs. SigLIP's tokens carry their crop's context; a tower taught
only what lies under each patch would hand the prompt that strip and nothing else. So the
last row's tokens are taught to stand for their whole patch *column* of the input (every
object centred in it, any height): with at least a row's worth of tokens kept, an input's
kept tokens cover all of it, in vertical strips; fewer tokens cover its right-hand part.
The bundle says so (`loupe.token_extent: "column"`), and the runtime's token rectangles
(overlay, evidence, zoom) follow.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..preprocess_pixels import execute
from ..preprocess_plans import plan_multicrop
from .config import VitConfig
from .labels import Frame
from .vit import VitLlava, VitTower

# What the stages draw per scene: (max_crops, weight) and (num_tokens, weight). The
# evaluation runs the seeds' knobs (max_crops 4 / 16 / 64, num_tokens 144 / 576); 64
# crops cost ~50 tower passes a scene, so the features stage draws it least.
TRAIN_MAX_CROPS = ((4, 0.35), (16, 0.45), (64, 0.2))
TRAIN_NUM_TOKENS = ((144, 0.3), (576, 0.7))
DEFAULT_MAX_CROPS = 16
DEFAULT_NUM_TOKENS = 576
# "column": the last patch row's tokens stand for their whole column of the input; "cell":
# every token for its own patch (MC-LLaVA's released geometry).
TOKEN_EXTENT = "column"


def draw_knobs(rng: random.Random) -> tuple[int, int]:
    max_crops = rng.choices([k for k, _ in TRAIN_MAX_CROPS], [w for _, w in TRAIN_MAX_CROPS])[0]
    num_tokens = rng.choices([k for k, _ in TRAIN_NUM_TOKENS], [w for _, w in TRAIN_NUM_TOKENS])[0]
    return max_crops, num_tokens


def tokens_per_input(vit: VitConfig) -> int:
    return vit.num_tokens - 1


@dataclass
class CropInputs:
    """One image as MC-LLaVA feeds it: the whole image first, then the crops."""

    pixels: torch.Tensor  # uint8 [M, 3, S, S]
    coords: torch.Tensor  # float32 [M, 2], each input's normalised centre
    boxes: list[list[int]]  # [x0, y0, x1, y1] in image pixels
    keep: list[int]  # tokens each input keeps (its last ones)


def crop_boxes(width: int, height: int, max_crops: int, num_tokens: int, vit: VitConfig) -> tuple[list[list[int]], list[list[float]], list[int]]:
    """(boxes, coords, keep) of the reference plan; keep is clamped to what a crop yields,
    as the runtime clamps it."""
    plan = plan_multicrop(width, height, max_crops, (num_tokens,), vit.image_size)
    per = tokens_per_input(vit)
    return ([list(i.crop_box) for i in plan.inputs], [list(i.coord) for i in plan.inputs],
            [min(per, i.keep_tokens[str(num_tokens)]) for i in plan.inputs])


def crop_inputs(image: Image.Image, max_crops: int, num_tokens: int, vit: VitConfig) -> CropInputs:
    plan = plan_multicrop(image.width, image.height, max_crops, (num_tokens,), vit.image_size)
    rgb = [np.asarray(p.rgb, dtype=np.uint8).transpose(2, 0, 1) for p in execute(plan, image)]
    boxes, coords, keep = crop_boxes(image.width, image.height, max_crops, num_tokens, vit)
    return CropInputs(torch.from_numpy(np.ascontiguousarray(np.stack(rgb))), torch.tensor(coords, dtype=torch.float32), boxes, keep)


def crop_frame(box: list[int], side: int) -> Frame:
    """The affine map from image pixels to one squashed crop's input pixels."""
    x0, y0, x1, y1 = box
    sx, sy = side / (x1 - x0), side / (y1 - y0)
    return Frame(side, side, sx, sy, -x0 * sx, -y0 * sy)


def kept_patches(keep: list[int], vit: VitConfig) -> list[tuple[int, int]]:
    """(input, patch index in its grid) of every kept token, in prompt order: the graph
    drops patch 0, so an input keeping k tokens keeps patches grid^2 - k .. grid^2 - 1."""
    n = vit.num_tokens
    return [(i, p) for i, k in enumerate(keep) for p in range(n - k, n)]


def token_boxes(boxes: list[list[int]], keep: list[int], vit: VitConfig, extent: str = TOKEN_EXTENT) -> np.ndarray:
    """float32 [T, 4]: the image rectangle (x0, y0, x1, y1) each kept token stands for: its
    patch, or with extent "column" for the last patch row, the patch's whole column."""
    g = vit.grid
    out = np.zeros((sum(keep), 4), dtype=np.float32)
    for t, (i, p) in enumerate(kept_patches(keep, vit)):
        x0, y0, x1, y1 = boxes[i]
        w, h = (x1 - x0) / g, (y1 - y0) / g
        col, row = p % g, p // g
        top = 0 if extent == "column" and row == g - 1 else row
        out[t] = (x0 + col * w, y0 + top * h, x0 + (col + 1) * w, y0 + (row + 1) * h)
    return out


def column_labels(pairs: np.ndarray, word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A window's cell labels (pairs [g, g, P], word [g, g]) with the last row standing for
    its columns: every pair centred anywhere in the column, and the word of its lowest sign
    (one word per cell)."""
    pairs, word = pairs.copy(), word.copy()
    pairs[-1] = pairs.any(axis=0)
    for c in range(word.shape[1]):
        signs = np.flatnonzero(word[:, c])
        if len(signs):
            word[-1, c] = word[signs[-1], c]
    return pairs, word


def tokens_holding(tboxes: np.ndarray, objects, groups: list[list[int]]) -> list[list[int]]:
    """Each group of object ids -> the kept tokens whose patch holds one of their centres
    (an object can be in several inputs: the whole image and overlapping crops)."""
    by_id = {o.id: o for o in objects}
    out = []
    for group in groups:
        found: set[int] = set()
        for i in group:
            x0, y0, x1, y1 = by_id[i].bbox
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            hit = (tboxes[:, 0] <= cx) & (cx < tboxes[:, 2]) & (tboxes[:, 1] <= cy) & (cy < tboxes[:, 3])
            found.update(np.flatnonzero(hit).tolist())
        out.append(sorted(found))
    return out


class McTower(VitTower):
    """The ViT, MC-LLaVA's coordinate embedding (Linear(2, d) -> GELU -> Linear(d, d),
    added to every token) and the `mlp2x_gelu` projector. `dense` (the encoder stage)
    sees the whole patch grid; `tokens` and `forward` drop patch 0 as MC-LLaVA does."""

    def __init__(self, cfg: VitConfig, text_dim: int):
        super().__init__(cfg, text_dim)
        d = cfg.hidden_size
        self.coord_embed = nn.Sequential(nn.Linear(2, d), nn.GELU(), nn.Linear(d, d))

    def tokens(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[M, grid^2 - 1, C]: the tower's output without patch 0, before coordinates."""
        return self.encoder(pixel_values)[:, 1:]

    def project(self, tokens: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """tokens [..., C] and each token's crop centre [..., 2] -> text-width features."""
        return self.projector(tokens + self.coord_embed(coords))

    def forward(self, pixel_values: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """What vision_encoder.onnx holds: [M, 3, S, S], [M, 2] -> [M, grid^2 - 1, D]."""
        return self.project(self.tokens(pixel_values), coords[:, None, :].expand(-1, self.encoder.cfg.num_tokens - 1, -1))

    def kept_features(self, pixel_values: torch.Tensor, coords: torch.Tensor, keep: list[int]) -> torch.Tensor:
        """[sum(keep), D]: each input's last keep[i] tokens, as the runtime splices them."""
        out = self(pixel_values, coords)
        return torch.cat([out[i, out.shape[1] - k :] for i, k in enumerate(keep)])


class McLlava(VitLlava):
    """VitLlava with MC-LLaVA's tower (coordinate embeddings over each crop's tokens)."""

    tower = McTower


# ---- goldens for the runtime: the kept tokens' image rectangles ---------------------

GOLDEN = "e2e/fixtures/multicrop-tokens.json"
GOLDEN_CASES = ((3000, 2000, 4, 144), (2400, 3600, 16, 576), (4000, 2250, 64, 576), (1000, 700, 16, 576), (500, 400, 4, 576))


def goldens(vit: VitConfig = VitConfig(), every: int = 7) -> dict:
    """For a few images and knobs at the shipped geometry: the plan's boxes, coords and
    kept counts, and every `every`-th kept token's rectangle (plus the last): what
    features.py trains against and the runtime's tokenBoxes must reproduce."""
    cases = []
    for extent in ("cell", "column"):
        for w, h, max_crops, num_tokens in GOLDEN_CASES:
            boxes, coords, keep = crop_boxes(w, h, max_crops, num_tokens, vit)
            rects = token_boxes(boxes, keep, vit, extent)
            picked = sorted(set(range(0, len(rects), every)) | {len(rects) - 1})
            cases.append({"token_extent": extent, "width": w, "height": h, "max_crops": max_crops, "num_tokens": num_tokens, "boxes": boxes,
                          "coords": coords, "keep": keep, "tokens": {str(t): [round(float(v), 4) for v in rects[t]] for t in picked}})
    return {"crop_size": vit.image_size, "patch": vit.patch_size, "tokens_per_input": tokens_per_input(vit),
            "note": "token rectangles are [x0, y0, x1, y1] in image pixels, keyed by position among the kept tokens",
            "cases": cases}


if __name__ == "__main__":
    import json
    from pathlib import Path

    out = Path(__file__).resolve().parents[2] / GOLDEN
    data = goldens()
    cases = data.pop("cases")
    head = json.dumps(data)[:-1]
    out.write_text(head + ', "cases": [\n' + ",\n".join(json.dumps(c) for c in cases) + "\n]}\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size} bytes)")
