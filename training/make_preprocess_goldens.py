"""Write the preprocessing goldens the TypeScript runtime must reproduce, into
`e2e/fixtures/preprocess/`, and the bad-input images into `e2e/fixtures/images/`.

    /usr/bin/python3 -m training.make_preprocess_goldens      (from the repo root)

For every (source image, strategy case): `plan.json` (pure geometry) and the 8-bit RGB
of every planned input before normalisation as lossless PNG; float stages as raw
little-endian float32. Deterministic: fixed seeds, same bytes on every run.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from .bad_images import write_bad_images
from .golden_images import SOURCES
from .make_tiny_bundle import _write_f32, _write_json
from .preprocess_pixels import execute
from .preprocess_plans import (
    Plan,
    plan_convllava_native,
    plan_convllava_square,
    plan_multicrop,
    plan_pyramid,
    plan_tiles,
)

REPO = Path(__file__).resolve().parent.parent
PREPROCESS = Path("e2e/fixtures/preprocess")
IMAGES = Path("e2e/fixtures/images")
TOLERANCE = {
    "units": "0..255 pixel values; .f32 stages are compared after undoing the normalisation ((x * std + mean) * 255)",
    "mean_abs": 0.5,
    "max_abs": 3,
}
RECT_FORMAT = "source and tile_box: [x, y, width, height]; crop_box: [x0, y0, x1, y1] (PIL crop)"

Planner = Callable[[int, int], Plan]

COMMON_CASES: dict[str, Planner] = {
    "convllava-square-128": lambda w, h: plan_convllava_square(w, h, 128),
    "convllava-square-256": lambda w, h: plan_convllava_square(w, h, 256),
    "convllava-native-16": lambda w, h: plan_convllava_native(w, h, 16),
    "convllava-native-48": lambda w, h: plan_convllava_native(w, h, 48),
    "multicrop-4": lambda w, h: plan_multicrop(w, h, 4),
    "tiles-128x4": lambda w, h: plan_tiles(w, h, 128, 4),
}
# Cases with large float outputs (pyramid: 1 MB per image) or a single extra knob run on
# fewer images, to keep the fixture folder small.
EXTRA_CASES: dict[str, dict[str, Planner]] = {
    "photo": {
        "multicrop-0": lambda w, h: plan_multicrop(w, h, 0),
        "pyramid-256-128": lambda w, h: plan_pyramid(w, h, 256, 128),
    },
}

WORKED_EXAMPLE = {"width": 2246, "height": 1582, "max_crops": 100}
WORKED_EXPECTED = {"final_crop": 384, "grid": [10, 7], "images": 71, "keep_728": [10] * 70 + [28]}


def _compact(obj):
    """dataclass -> dict without the fields a strategy does not use."""
    if dataclasses.is_dataclass(obj):
        return {k: _compact(v) for k, v in dataclasses.asdict(obj).items() if v is not None}
    return obj


def plan_json(plan: Plan, files: list[dict] | None = None) -> dict:
    inputs = []
    for index, planned in enumerate(plan.inputs):
        entry = {"index": index, **_compact(planned)}
        if files is not None:
            entry["files"] = files[index]
        inputs.append(entry)
    tokens = [i.tokens for i in plan.inputs]
    out = {
        "strategy": plan.strategy,
        "knobs": plan.knobs,
        "fill": list(plan.fill),
        "image_size": [plan.image_width, plan.image_height],
        "rect_format": RECT_FORMAT,
    }
    if plan.canvas is not None:
        out["canvas"] = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(plan.canvas).items()}
    out["inputs"] = inputs
    out["total_tokens"] = None if None in tokens else sum(tokens)
    if plan.notes:
        out["notes"] = plan.notes
    return out


def _save_png(image: Image.Image, path: Path) -> None:
    image.save(path, compress_level=9)
    with Image.open(path) as back:  # lossless, and 8-bit RGB(A) as the TS side expects
        if back.mode != image.mode or not np.array_equal(np.asarray(back), np.asarray(image)):
            raise SystemExit(f"{path} does not read back identically")


def write_case(image_name: str, case: str, planner: Planner, image: Image.Image, root: Path) -> dict:
    plan = planner(*image.size)
    folder = root / image_name / case
    folder.mkdir(parents=True)
    files = []
    for index, pixels in enumerate(execute(plan, image)):
        entry = {}
        if pixels.rgb is not None:
            expected = (plan.inputs[index].width, plan.inputs[index].height)
            if pixels.rgb.size != expected:
                raise SystemExit(f"{image_name}/{case}/{index}: pixels {pixels.rgb.size}, plan {expected}")
            entry["png"] = f"{index}.png"
            _save_png(pixels.rgb, folder / entry["png"])
        if pixels.tensor is not None:
            entry["f32"] = f"{plan.inputs[index].role}.f32"
            entry["shape"] = list(pixels.tensor.shape)
            entry["layout"] = "NCHW float32 little-endian, normalised"
            _write_f32(folder / entry["f32"], pixels.tensor)
        files.append(entry)
    data = {"image": image_name, "case": case, "source": f"sources/{image_name}.png", **plan_json(plan, files)}
    data["alpha_composited_over_fill"] = image.mode == "RGBA"
    _write_json(folder / "plan.json", data)
    names = [f"{image_name}/{case}/{name}" for entry in files for key, name in entry.items() if key in ("png", "f32")]
    return {"image": image_name, "case": case, "strategy": plan.strategy, "plan": f"{image_name}/{case}/plan.json", "files": names}


def worked_example() -> dict:
    """REFERENCE §2's example as pure geometry; aborts if the planner disagrees with it."""
    plan = plan_multicrop(WORKED_EXAMPLE["width"], WORKED_EXAMPLE["height"], WORKED_EXAMPLE["max_crops"])
    found = {
        "final_crop": plan.knobs["final_crop"],
        "grid": plan.knobs["grid"],
        "images": len(plan.inputs),
        "keep_728": [i.keep_tokens["728"] for i in plan.inputs],
    }
    if found != WORKED_EXPECTED:
        raise SystemExit(f"multicrop worked example: expected {WORKED_EXPECTED}, found {found}")
    return {
        "reference": "REFERENCE.md §2: 2246x1582, max_crops 100 -> c 384, 10x7 grid, 71 images, 10 tokens each, 28 from the last",
        "expected": {**WORKED_EXPECTED, "keep_728": {"each": 10, "last": 28}},
        **plan_json(plan),
    }


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    started = time.perf_counter()
    root = REPO / PREPROCESS
    if root.exists():
        shutil.rmtree(root)  # this tool owns the folder; stale cases must not survive
    (root / "sources").mkdir(parents=True)

    sources, cases = {}, []
    for name, make in SOURCES.items():
        image = make()
        _save_png(image, root / "sources" / f"{name}.png")
        sources[name] = {"file": f"sources/{name}.png", "width": image.size[0], "height": image.size[1], "mode": image.mode}
        for case, planner in {**COMMON_CASES, **EXTRA_CASES.get(name, {})}.items():
            cases.append(write_case(name, case, planner, image, root))

    _write_json(root / "multicrop_worked_example.json", worked_example())
    _write_json(
        root / "index.json",
        {
            "generator": "/usr/bin/python3 -m training.make_preprocess_goldens",
            "tolerance": TOLERANCE,
            "rect_format": RECT_FORMAT,
            "sources": sources,
            "cases": cases,
            "geometry_only": ["multicrop_worked_example.json"],
        },
    )
    bad = write_bad_images(REPO / IMAGES)

    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"{len(cases)} cases, {sum(len(c['files']) for c in cases)} files, {size / 1e6:.2f} MB in {PREPROCESS}")
    print(f"{len(bad)} files in {IMAGES}; {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
