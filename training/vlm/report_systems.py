"""Issue 12's comparison as a table and a chart, from `npm run compare`'s JSON lines.

Reads training/results/compare/*.jsonl (each an `npm run eval --out` file: per-type lines, a summary
line with accuracy, encode ms and visual tokens, and where PyTorch's items were given, a `compare`
line); writes training/results/systems.svg and the README block between the `systems-table` markers.
Deterministic: same lines, same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

SPLITS = ("test-small-detail", "test-large")
# bundle -> (system as the README names it, colour); the order of the table's rows
SYSTEMS = {"loupe-synth": ("ConvLLaVA", "#c0392b"), "loupe-synth-mc": ("MC-LLaVA", "#2f6fdf"),
           "loupe-synth-piip": ("PIIP-LLaVA", "#27ae60"), "loupe-synth-vit336": ("ViT-336 control", "#555555")}


def setting_label(setting: str) -> str:
    if setting.startswith("mc"):
        crops, tokens = setting[2:].split("x")
        return f"max_crops {crops}, num_tokens {tokens}"
    if setting.startswith("pyramid"):
        return f"pyramid {setting[7:]} + {int(setting[7:]) // 2}"
    if setting.startswith("vit"):
        return f"square {setting[3:]}"
    return "native aspect" if setting == "native" else f"square {setting}"


def short_label(setting: str) -> str:
    if setting.startswith("mc"):
        return setting[2:].replace("x", "×")
    return setting.removeprefix("pyramid").removeprefix("vit")


def collect(lines: list[dict]) -> dict[tuple, dict]:
    """(bundle, setting) -> {split: summary, ("compare", split): compare line}; the last line wins.

    An eval file writes its `compare` line after its summary, and a compare line names no bundle: it
    belongs to the latest summary before it with the same strategy, setting and split (files are read
    one after another), so two bundles measured at the same setting keep their own pairs."""
    rows: dict[tuple, dict] = {}
    latest: dict[tuple, tuple] = {}
    for x in lines:
        run = (x.get("strategy"), str(x.get("resolution")), x.get("split"))
        if x.get("summary"):
            key = (x["model"], str(x["resolution"]))
            rows.setdefault(key, {})[x["split"]] = x
            latest[run] = key
        elif x.get("compare") and run in latest:
            rows[latest[run]][("compare", x["split"])] = x
    return rows


def order(key: tuple) -> tuple:
    bundle, setting = key
    digits = [int(d) for d in "".join(c if c.isdigit() else " " for c in setting).split()] or [10**6]
    return (list(SYSTEMS).index(bundle) if bundle in SYSTEMS else 99, digits)


def cell(row: dict, split: str) -> str:
    """Browser accuracy, PyTorch's on the same items in brackets."""
    if split not in row:
        return "–"
    pair = row.get(("compare", split))
    return f'**{row[split]["accuracy"]:.2f}**' + (f' ({pair["pytorch_accuracy"]:.2f})' if pair else "")


def table(rows: dict[tuple, dict]) -> str:
    out = ["| system | setting | visual tokens | encode ms (wasm) | test-small-detail (PyTorch) | test-large (PyTorch) | same answer as PyTorch |",
           "|---|---|---:|---:|---:|---:|---|"]
    for key in sorted(rows, key=order):
        row = rows[key]
        measured = [row[s] for s in SPLITS if s in row]
        n = sum(m["n"] for m in measured)
        encode = round(sum(m.get("encode_ms_mean", 0) * m["n"] for m in measured) / n)
        tokens = measured[0].get("visual_tokens_mean", "–")
        same = " / ".join(f'{row[("compare", s)]["same_prediction"]:.1f} %' if ("compare", s) in row else "–" for s in SPLITS)
        name = SYSTEMS.get(key[0], (key[0], ""))[0]
        out.append(f"| {name} | {setting_label(key[1])} | {tokens} | {encode} | {cell(row, SPLITS[0])} | {cell(row, SPLITS[1])} | {same} |")
    return "\n".join(out) + "\n"


def chart(rows: dict[tuple, dict]) -> str:
    """Accuracy against encode ms (log scale), one panel per split, a colour per system."""
    panel_w, h, left, top, bottom, gap = 320, 380, 52, 28, 60, 72
    w = left + 2 * panel_w + gap + 150
    ms = [row[s]["encode_ms_mean"] for row in rows.values() for s in SPLITS if s in row and row[s].get("encode_ms_mean")]
    lo = 10 ** math.floor(math.log10(max(min(ms, default=10), 1)))
    hi = 10 ** math.ceil(math.log10(max(ms, default=10_000)))
    ys = lambda a: top + (100 - a) / 100 * (h - top - bottom)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="#fff"/>']
    for p, split in enumerate(SPLITS):
        x0 = left + p * (panel_w + gap)
        xs = lambda v, x0=x0: x0 + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * panel_w  # noqa: E731
        out.append(f'<text x="{x0 + panel_w / 2:.0f}" y="{top - 10}" text-anchor="middle" font-size="12">{split}</text>')
        for a in range(0, 101, 20):
            out.append(f'<line x1="{x0}" x2="{x0 + panel_w}" y1="{ys(a):.1f}" y2="{ys(a):.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{x0 - 5}" y="{ys(a) + 4:.1f}" text-anchor="end">{a}%</text>')
        decade = lo
        while decade <= hi:
            out.append(f'<line x1="{xs(decade):.1f}" x2="{xs(decade):.1f}" y1="{top}" y2="{h - bottom}" stroke="#eee"/>')
            tick = f"{decade / 1000:g} s" if decade >= 1000 else f"{decade:g} ms"
            out.append(f'<text x="{xs(decade):.1f}" y="{h - bottom + 15}" text-anchor="middle">{tick}</text>')
            decade *= 10
        out.append(f'<text x="{x0 + panel_w / 2:.0f}" y="{h - bottom + 32}" text-anchor="middle">encode time a question (wasm, log scale)</text>')
        for bundle, (name, colour) in SYSTEMS.items():
            points = sorted((row[split]["encode_ms_mean"], row[split]["accuracy"], setting) for (b, setting), row in rows.items()
                            if b == bundle and split in row and row[split].get("encode_ms_mean"))
            for x, a, setting in points:
                out.append(f'<circle cx="{xs(x):.1f}" cy="{ys(a):.1f}" r="4" fill="{colour}"><title>{name}, {setting_label(setting)}: '
                           f'{a:.2f} %, {x} ms</title></circle>')
                out.append(f'<text x="{xs(x) + 6:.1f}" y="{ys(a) - 5:.1f}" fill="{colour}" font-size="9">{short_label(setting)}</text>')
    legend_y = top + 8
    for name, colour in SYSTEMS.values():
        out.append(f'<circle cx="{w - 140}" cy="{legend_y}" r="4" fill="{colour}"/><text x="{w - 130}" y="{legend_y + 4}">{name}</text>')
        legend_y += 18
    out.append(f'<text x="{w - 140}" y="{legend_y + 10}" fill="#666" font-size="9">labels: input px, or</text>')
    out.append(f'<text x="{w - 140}" y="{legend_y + 22}" fill="#666" font-size="9">max_crops × num_tokens</text>')
    out.append(f'<text x="{left}" y="{h - 8}" fill="#666" font-size="10">{len(rows)} settings; every point the full split in Chromium (wasm), shipped dtypes</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(results: Path, lines: list[dict]) -> str | None:
    """The chart file and the README block's body, or None with nothing measured."""
    rows = collect(lines)
    if not rows:
        return None
    (results / "systems.svg").write_text(chart(rows))
    return table(rows)
