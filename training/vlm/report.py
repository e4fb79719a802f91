"""The Loupe-Synth result as a picture and a table, from saved evaluation JSON lines.

    /usr/bin/python3 -m training.vlm.report        # reads training/results/*.jsonl

Inputs: the summary and per-type lines `training.vlm.evaluate --out` writes (PyTorch), one
file per split, and `npm run eval --zoom` lines (browser-zoom-*.jsonl, issue #16). Outputs:
training/results/accuracy.svg (accuracy against input resolution and visual tokens, per split,
with the ViT-336 control), the per-type table in README.md between the `loupe-synth-table`
markers and the look-closer table between the `loupe-synth-zoom-table` markers; issue 12's
comparison in the browser (`npm run compare`: training/results/compare/) as systems.svg and the
table between the `systems-table` markers (report_systems.py).
Deterministic: same lines, same bytes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from training.vlm import report_systems

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "training" / "results"
SPLITS = (("test-small-detail", "small detail", "#c0392b"), ("test-large", "large objects", "#2f6fdf"))
TOKENS = {"336": 576, "768": 144, "1024": 256, "1536": 576, "native": 576}
TYPES = ("attribute", "counting", "existence", "reading", "relative", "mc-attribute", "mc-relative")


def load(paths: list[Path]) -> list[dict]:
    lines = []
    for p in paths:
        lines += [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
    return lines


def summaries(lines: list[dict]) -> dict[tuple, float]:
    """(split, model, resolution) -> greedy accuracy; the last line wins (reruns append)."""
    return {(x["split"], x["model"], str(x["resolution"])): x["accuracy"] for x in lines if x.get("summary")}


def x_of(resolution: str) -> float:
    return 1536.0 if resolution == "native" else float(resolution)


def chart(points: dict[tuple, float]) -> str:
    w, h, left, right, top, bottom = 640, 360, 56, 150, 24, 56
    xs = lambda v: left + (v - 256) / (1600 - 256) * (w - left - right)  # noqa: E731
    ys = lambda a: top + (100 - a) / 100 * (h - top - bottom)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="#fff"/>']
    for a in range(0, 101, 20):
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{ys(a):.1f}" y2="{ys(a):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{ys(a) + 4:.1f}" text-anchor="end">{a}%</text>')
    for r in ("336", "768", "1024", "1536"):
        out.append(f'<text x="{xs(x_of(r)):.1f}" y="{h - bottom + 16}" text-anchor="middle">{r} px</text>')
        out.append(f'<text x="{xs(x_of(r)):.1f}" y="{h - bottom + 30}" text-anchor="middle" fill="#666">{TOKENS[r]} tok</text>')
    out.append(f'<text x="{(left + w - right) / 2:.0f}" y="{h - 8}" text-anchor="middle">input resolution (visual tokens)</text>')
    legend_y = top + 8
    for split, label, colour in SPLITS:
        conv = sorted((x_of(r), a) for (s, m, r), a in points.items() if s == split and m == "convllava" and r != "native")
        if conv:
            path = " ".join(f"{xs(x):.1f},{ys(a):.1f}" for x, a in conv)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            out += [f'<circle cx="{xs(x):.1f}" cy="{ys(a):.1f}" r="4" fill="{colour}"><title>ConvLLaVA {int(x)} px: {a}%</title></circle>' for x, a in conv]
        native = points.get((split, "convllava", "native"))
        if native is not None:
            cx, cy = xs(1536) + 10, ys(native)
            out.append(f'<path d="M{cx:.1f},{cy - 6:.1f} l6,6 l-6,6 l-6,-6 z" fill="none" stroke="{colour}" stroke-width="2"><title>ConvLLaVA native aspect, 576 tokens: {native}%</title></path>')
        vit = points.get((split, "vit336", "336"))
        if vit is not None:
            out.append(f'<rect x="{xs(336) - 5:.1f}" y="{ys(vit) - 5:.1f}" width="10" height="10" fill="{colour}"><title>ViT-336: {vit}%</title></rect>')
        out.append(f'<line x1="{w - right + 12}" x2="{w - right + 32}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{w - right + 38}" y="{legend_y + 4}">{label}</text>')
        legend_y += 18
    out.append(f'<circle cx="{w - right + 22}" cy="{legend_y}" r="4" fill="#555"/><text x="{w - right + 38}" y="{legend_y + 4}">ConvLLaVA square</text>')
    out.append(f'<path d="M{w - right + 22},{legend_y + 12} l6,6 l-6,6 l-6,-6 z" fill="none" stroke="#555" stroke-width="2"/>'
               f'<text x="{w - right + 38}" y="{legend_y + 22}">native aspect</text>')
    out.append(f'<rect x="{w - right + 17}" y="{legend_y + 31}" width="10" height="10" fill="#555"/><text x="{w - right + 38}" y="{legend_y + 40}">ViT-336</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def table(lines: list[dict]) -> str:
    per: dict[tuple, dict[str, str]] = defaultdict(dict)
    for x in lines:
        if x.get("summary") or x.get("scoring", "greedy") != "greedy":
            continue
        per[(x["split"], x["model"], str(x["resolution"]))][x["type"]] = f'{x["accuracy"]:.1f}'
    totals = summaries(lines)
    order = lambda k: (k[0], k[1] != "convllava", {"768": 0, "1024": 1, "1536": 2, "native": 3}.get(k[2], 4))  # noqa: E731
    rows = ["| split | model | input | " + " | ".join(TYPES) + " | all |", "|---|---|---|" + "---:|" * (len(TYPES) + 1)]
    for key in sorted(per, key=order):
        split, model, res = key
        cells = [per[key].get(t, "–") for t in TYPES]
        rows.append(f"| {split} | {model} | {res} | " + " | ".join(cells) + f" | **{totals.get(key, float('nan')):.1f}** |")
    return "\n".join(rows) + "\n"


def zoom_table(lines: list[dict]) -> str:
    """With and without look-closer, per split: per-type and overall accuracy, ms a question, region coverage."""
    per: dict[tuple, dict[str, str]] = defaultdict(dict)
    totals: dict[tuple, dict] = {}
    for x in lines:
        key = (x["split"], x["strategy"], str(x["resolution"]))
        if x.get("summary"):
            totals[key] = x
        elif "type" in x:
            per[key][x["type"]] = f'{x["accuracy"]:.0f}'
    rows = ["| split | input | " + " | ".join(TYPES) + " | all | ms a question | region holds ≥ half the object |",
            "|---|---|" + "---:|" * (len(TYPES) + 3)]
    for key in sorted(totals, key=lambda k: (k[0], int(k[2]) if k[2].isdigit() else 10**6, k[1])):
        split, strategy, res = key
        t = totals[key]
        knobs = strategy.partition("+zoom")[2].lstrip(":").replace(",", ", ")
        label = (f"{res} + look closer" + (f" ({knobs})" if knobs else "")) if "+zoom" in strategy else res
        covers = f'{t["region_covers"]:.1f} %' if "region_covers" in t else "–"
        rows.append(f"| {split} | {label} | " + " | ".join(per[key].get(ty, "–") for ty in TYPES) + f' | **{t["accuracy"]:.2f}** | {t["ms_mean"]} | {covers} |')
    return "\n".join(rows) + "\n"


def replace_block(text: str, name: str, body: str) -> str:
    block = f"<!-- {name} -->\n" + body + f"<!-- /{name} -->"
    text, n = re.subn(rf"<!-- {name} -->.*?<!-- /{name} -->", lambda _: block, text, flags=re.S)
    if n != 1:
        raise SystemExit(f"README.md needs one <!-- {name} --> ... <!-- /{name} --> block")
    return text


def main() -> None:
    lines = load(sorted(p for p in RESULTS.glob("pytorch-*.jsonl") if ".items." not in p.name))
    if not lines:
        raise SystemExit(f"no pytorch-*.jsonl under {RESULTS}: run training.vlm.evaluate --out first")
    (RESULTS / "accuracy.svg").write_text(chart(summaries(lines)))
    readme = REPO / "README.md"
    text = replace_block(readme.read_text(), "loupe-synth-table", table(lines))
    zoom = load(sorted(p for p in RESULTS.glob("browser-zoom-*.jsonl") if ".items." not in p.name))
    if zoom:
        text = replace_block(text, "loupe-synth-zoom-table", zoom_table([x for x in zoom if not x.get("compare")]))
    systems = report_systems.write(RESULTS, load(sorted(p for p in (RESULTS / "compare").glob("*.jsonl") if ".items." not in p.name)))
    if systems:
        text = replace_block(text, "systems-table", systems)
    readme.write_text(text)
    print(f"wrote {RESULTS / 'accuracy.svg'} and the README table ({len(lines)} lines)")


if __name__ == "__main__":
    main()
