"""Pure geometry of Loupe's resolution strategies: (image size, strategy, knobs) -> plan.

No pixels here, so every number a plan holds can be checked against the TypeScript
planner without a canvas. `preprocess_pixels.py` executes a plan with PIL.

Rectangles are [x, y, width, height]; a crop box (PIL's `crop`) is [x0, y0, x1, y1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

CONVLLAVA_STRIDE = 64
MULTICROP_CROP = 384
MULTICROP_FILL = (127, 127, 127)
MULTICROP_PATCH_TOKENS = 728  # 27x27 SigLIP patches minus patch 0
CONVLLAVA_FILL = (122, 116, 104)
PYRAMID_FILL = (123, 116, 103)
TILES_FILL = (0, 0, 0)


@dataclass
class PlannedInput:
    role: str  # global | crop | thumbnail | tile | image | high | low
    source: list[float]  # the part of the image visible in this input, [x, y, w, h]
    width: int
    height: int
    tokens: int | None
    crop_box: list[int] | None = None  # multicrop: PIL crop box in image pixels
    tile_box: list[int] | None = None  # tiles: [x, y, w, h] on the padded canvas
    coord: list[float] | None = None  # multicrop: normalised centre
    keep_tokens: dict[str, int] | None = None  # multicrop: per num_tokens knob


@dataclass
class Canvas:
    """The image (resized to `resized`, or as is) pasted at `paste` on a filled canvas."""

    width: int
    height: int
    fill: tuple[int, int, int]
    paste: list[int]
    resized: list[int]


@dataclass
class Plan:
    strategy: str
    knobs: dict
    fill: tuple[int, int, int]  # also the colour transparent pixels become
    image_width: int
    image_height: int
    inputs: list[PlannedInput]
    canvas: Canvas | None = None
    notes: list[str] = field(default_factory=list)


def _whole(w: int, h: int) -> list[float]:
    return [0, 0, w, h]


def square_canvas(w: int, h: int, fill: tuple[int, int, int]) -> Canvas:
    """LLaVA's expand2square: centred on the short axis, offset floor((side - short) / 2)."""
    side = max(w, h)
    return Canvas(side, side, fill, [(side - w) // 2, (side - h) // 2], [w, h])


def plan_convllava_square(w: int, h: int, resolution: int) -> Plan:
    tokens = (resolution // CONVLLAVA_STRIDE) ** 2
    return Plan(
        "convllava-square",
        {"resolution": resolution, "stride": CONVLLAVA_STRIDE},
        CONVLLAVA_FILL,
        w,
        h,
        [PlannedInput("image", _whole(w, h), resolution, resolution, tokens)],
        canvas=square_canvas(w, h, CONVLLAVA_FILL),
    )


ASPECT_TOLERANCE = math.log(1.1)


def native_grid(w: int, h: int, budget: int, stride: int = CONVLLAVA_STRIDE) -> tuple[int, int]:
    """(cols, rows) of stride cells for aspect-preserving ConvLLaVA.

    Never finer than one cell per started stride of image (no pointless upscaling).
    Among grids within the budget, prefer those within 10 % of the image's aspect ratio,
    then the most cells, then the least aspect error; the first such grid wins ties."""
    if budget < 1:
        raise ValueError(f"token budget must be >= 1, got {budget}")
    max_cols = max(1, math.ceil(w / stride))
    max_rows = max(1, math.ceil(h / stride))
    aspect = w / h
    best = (1, 1)
    best_key = None
    for rows in range(1, min(budget, max_rows) + 1):
        cols = min(max(1, math.floor(rows * aspect + 0.5)), budget // rows, max_cols)
        if cols < 1:
            continue
        error = abs(math.log(cols / rows / aspect))
        key = (error <= ASPECT_TOLERANCE, cols * rows, -error)
        if best_key is None or key > best_key:
            best, best_key = (cols, rows), key
    return best


def plan_convllava_native(w: int, h: int, budget: int) -> Plan:
    cols, rows = native_grid(w, h, budget)
    size = (cols * CONVLLAVA_STRIDE, rows * CONVLLAVA_STRIDE)
    return Plan(
        "convllava-native",
        {"token_budget": budget, "stride": CONVLLAVA_STRIDE, "grid": [cols, rows]},
        CONVLLAVA_FILL,
        w,
        h,
        [PlannedInput("image", _whole(w, h), size[0], size[1], cols * rows)],
    )


def multicrop_grid(w: int, h: int, max_crops: int, crop: int = MULTICROP_CROP) -> tuple[int, list[list[int]]]:
    """MC-LLaVA's crop plan (REFERENCE §2) -> (final crop size, crop boxes x-outer).

    Python's // is floor division, as the reference's, also for negative (W - c)."""
    if max_crops == 0 or (w <= crop * 3 // 2 and h <= crop * 3 // 2):
        return crop, []
    c, s = crop, crop // 2
    while ((w - c) // s + 1) * ((h - c) // s + 1) > max_crops:
        c += 10
        s = c // 2
    x_steps, y_steps = max(1, (w - c) // s + 1), max(1, (h - c) // s + 1)
    if x_steps == 1 and y_steps == 1:
        return c, []
    boxes = []
    for i in range(x_steps):
        x0 = i * s
        x1 = w if i == x_steps - 1 else x0 + c  # the last crop is widened, not shifted
        for j in range(y_steps):
            y0 = j * s
            y1 = h if j == y_steps - 1 else y0 + c
            boxes.append([x0, y0, x1, y1])
    return c, boxes


def token_split(num_tokens: int, images: int) -> list[int]:
    split = int(num_tokens / images)
    return [split] * (images - 1) + [num_tokens - (images - 1) * split]


def plan_multicrop(w: int, h: int, max_crops: int, num_tokens: tuple[int, ...] = (728, 100), crop: int = MULTICROP_CROP) -> Plan:
    """crop: the grid's starting crop and the side every input is squashed to (MC-LLaVA's
    SigLIP: 384; a bundle says its own in preprocessor_config's `loupe.crop_size`)."""
    c, boxes = multicrop_grid(w, h, max_crops, crop)
    boxes = [[0, 0, w, h]] + boxes
    splits = {str(n): token_split(n, len(boxes)) for n in num_tokens}
    inputs = []
    for index, (x0, y0, x1, y1) in enumerate(boxes):
        keep = {n: split[index] for n, split in splits.items()}
        inputs.append(
            PlannedInput(
                "global" if index == 0 else "crop",
                [x0, y0, x1 - x0, y1 - y0],
                crop,
                crop,
                keep[str(num_tokens[0])],
                crop_box=[x0, y0, x1, y1],
                coord=[(x0 + x1) / 2 / w, (y0 + y1) / 2 / h],
                keep_tokens=keep,
            )
        )
    grid = _grid_shape(boxes[1:])
    return Plan(
        "multicrop",
        {"crop": crop, "max_crops": max_crops, "num_tokens": list(num_tokens), "final_crop": c, "grid": grid},
        MULTICROP_FILL,
        w,
        h,
        inputs,
    )


def _grid_shape(boxes: list[list[int]]) -> list[int]:
    return [len({b[0] for b in boxes}), len({b[1] for b in boxes})]


def plan_pyramid(w: int, h: int, high: int, low: int) -> Plan:
    """PIIP: the high input is the padded square; the low input is a bilinear downscale of
    the normalised high tensor. Token count is the vision graph's business (merged on the
    high-res grid at the small branch's stride), so it is left out here."""
    return Plan(
        "pyramid",
        {"high": high, "low": low},
        PYRAMID_FILL,
        w,
        h,
        [
            PlannedInput("high", _whole(w, h), high, high, None),
            PlannedInput("low", _whole(w, h), low, low, None),
        ],
        canvas=square_canvas(w, h, PYRAMID_FILL),
        notes=["tokens come from the vision graph (high-res grid / its stride)"],
    )


def tile_grids(max_tiles: int) -> list[tuple[int, int]]:
    return [(c, r) for c in range(1, max_tiles + 1) for r in range(1, max_tiles + 1) if c * r <= max_tiles]


def select_best_resolution(w: int, h: int, candidates: list[tuple[int, int]]) -> tuple[int, int]:
    """LLaVA-NeXT: most effective (downscaled, never upscaled) pixels, then least waste."""
    best, best_effective, best_wasted = candidates[0], -1, math.inf
    for tw, th in candidates:
        scale = min(tw / w, th / h)
        effective = min(int(w * scale) * int(h * scale), w * h)
        wasted = tw * th - effective
        if effective > best_effective or (effective == best_effective and wasted < best_wasted):
            best, best_effective, best_wasted = (tw, th), effective, wasted
    return best


def tiles_canvas(w: int, h: int, tw: int, th: int) -> Canvas:
    """LLaVA-NeXT's resize_and_pad: fit the image into (tw, th), centre it on black."""
    scale_w, scale_h = tw / w, th / h
    if scale_w < scale_h:
        new_w, new_h = tw, min(math.ceil(h * scale_w), th)
    else:
        new_w, new_h = min(math.ceil(w * scale_h), tw), th
    return Canvas(tw, th, TILES_FILL, [(tw - new_w) // 2, (th - new_h) // 2], [new_w, new_h])


def plan_tiles(w: int, h: int, tile: int, max_tiles: int) -> Plan:
    candidates = [(c * tile, r * tile) for c, r in tile_grids(max_tiles)]
    tw, th = select_best_resolution(w, h, candidates)
    canvas = tiles_canvas(w, h, tw, th)
    tokens = (tile // CONVLLAVA_STRIDE) ** 2
    inputs = [PlannedInput("thumbnail", _whole(w, h), tile, tile, tokens)]
    for ty in range(0, th, tile):
        for tx in range(0, tw, tile):
            inputs.append(
                PlannedInput("tile", _visible_source(canvas, tx, ty, tile, w, h), tile, tile, tokens, tile_box=[tx, ty, tile, tile])
            )
    return Plan(
        "tiles",
        {"tile": tile, "max_tiles": max_tiles, "grid": [tw // tile, th // tile], "stride": CONVLLAVA_STRIDE},
        TILES_FILL,
        w,
        h,
        inputs,
        canvas=canvas,
        notes=["tile source rects are approximate (3 decimals): the resize is not an integer ratio"],
    )


def _visible_source(canvas: Canvas, tx: int, ty: int, tile: int, w: int, h: int) -> list[float]:
    """The image rectangle a tile shows: tile ∩ pasted image, mapped back to image pixels.
    Width or height 0 means the tile is all padding."""
    (px, py), (rw, rh) = canvas.paste, canvas.resized
    x0, x1 = max(tx, px), min(tx + tile, px + rw)
    y0, y1 = max(ty, py), min(ty + tile, py + rh)
    if x1 <= x0 or y1 <= y0:
        return [0, 0, 0, 0]
    sx, sy = w / rw, h / rh
    return [round(v, 3) for v in ((x0 - px) * sx, (y0 - py) * sy, (x1 - x0) * sx, (y1 - y0) * sy)]
