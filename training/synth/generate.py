"""Write a split to disk: images, questions.jsonl, manifest.json; or previews with the targets boxed.

    /usr/bin/python3 -m training.synth.generate --split test-small-detail --out DIR
    /usr/bin/python3 -m training.synth.generate --split train --preview 4 --out /tmp/synth-preview

Images are JPEG quality 95 with 4:4:4 chroma (no subsampling, so a 10 px target keeps
its colour); a 2-4k scene is ~1-3 MB as JPEG and 5-20 MB as PNG. `--format png` is lossless.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import time
from pathlib import Path

from PIL import Image, ImageDraw

from . import splits
from .sample import Sample, sample

PREVIEW_ZOOM = 256  # each target's crop is scaled to this long side


def _save(image: Image.Image, path: Path, fmt: str) -> None:
    if fmt == "jpg":
        image.save(path, "JPEG", quality=95, subsampling=0)
    else:
        image.save(path, "PNG", compress_level=1)


def _record(s: Sample, image_file: str) -> list[dict]:
    return [{"id": q.id, "image": image_file, "question": q.question, "answer": q.answer, "type": q.type, "split": s.split,
             "condition": s.condition, "options": q.options, "target_ids": q.target_ids, "target_bboxes": q.target_bboxes,
             "target_area_fraction": q.target_area_fraction, "asked": q.asked, "width": s.image.width, "height": s.image.height,
             "version": s.version} for q in s.questions]


def _write_one(job: tuple[str, int, str, str]) -> tuple[list[dict], int]:
    split, index, out, fmt = job
    s = sample(split, index)
    name = f"images/{index}.{fmt}"
    _save(s.image, Path(out) / name, fmt)
    return _record(s, name), (Path(out) / name).stat().st_size


def preview(split: str, start: int, count: int, out: Path) -> None:
    """Each scene with its targets boxed (`<index>.png`), and each target zoomed (`<index>-q<k>.png`)."""
    out.mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        s = sample(split, index)
        boxed = s.image.copy()
        draw = ImageDraw.Draw(boxed)
        width = max(2, s.image.width // 600)
        for k, q in enumerate(s.questions):
            for x0, y0, x1, y1 in q.target_bboxes:
                pad = max(12, (x1 - x0) // 2)
                draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), outline=(255, 0, 255), width=width)
                crop = s.image.crop((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
                scale = PREVIEW_ZOOM / max(crop.size)
                crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.NEAREST).save(out / f"{index}-q{k}.png")
        boxed.save(out / f"{index}.png")
        lines = [f"{q.type}: {q.question!r} -> {q.answer} (targets {q.target_ids}, area {q.target_area_fraction})" for q in s.questions]
        print(f"{index}: {s.image.width}x{s.image.height} {s.background['kind']}, {len(s.objects)} objects\n  " + "\n  ".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", required=True, choices=list(splits.SPLITS))
    parser.add_argument("--count", type=int, help="default: the split's size (required for train)")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--preview", type=int, metavar="N", help="write N boxed previews instead of a data set")
    args = parser.parse_args()
    if args.preview:
        preview(args.split, args.start, args.preview, args.out)
        return
    split = splits.get_split(args.split)
    count = args.count if args.count is not None else split.size
    if count is None:
        parser.error("--count is required for an unbounded split")
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    jobs = [(split.name, i, str(args.out), args.format) for i in range(args.start, args.start + count)]
    started = time.perf_counter()
    with multiprocessing.Pool(args.workers) as pool:
        results = pool.map(_write_one, jobs, chunksize=4)
    seconds = time.perf_counter() - started
    lines = "".join(json.dumps(record) + "\n" for records, _ in results for record in records)
    (args.out / "questions.jsonl").write_text(lines)
    image_bytes = sum(size for _, size in results)
    manifest = {"version": splits.VERSION, "split": split.name, "start": args.start, "count": count, "format": args.format,
                "questions": lines.count("\n"), "image_bytes": image_bytes, "seconds": round(seconds, 1), "workers": args.workers,
                "questions_sha256": hashlib.sha256(lines.encode()).hexdigest()}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{split.name}: {count} images, {manifest['questions']} questions, {image_bytes / 1e6:.1f} MB, "
          f"{seconds:.1f} s with {args.workers} workers; questions.jsonl sha256 {manifest['questions_sha256'][:16]}")


if __name__ == "__main__":
    main()
