"""Small image files that stress the runtime's decode path: odd colour models, animation,
extreme or broken sizes, files that are not images. PNGs with impossible headers are
written chunk by chunk, since no encoder would produce them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int, rows: int) -> bytes:
    """8-bit RGB PNG whose IHDR says width x height but whose IDAT holds `rows` black rows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(3 * width) for _ in range(rows))  # filter type 0 per row
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")


def _cmyk_image() -> Image.Image:
    """Bands of pure C, M, Y and their mixes, K = 0 throughout: PIL's CMYK -> RGB
    (255 - C - K) and a browser's multiplicative conversion agree only when K = 0, so the
    golden tests the decode path, not one library's colour maths."""
    c = np.zeros((48, 64, 4), dtype=np.uint8)
    ramp = np.linspace(0, 255, 64).round().astype(np.uint8)
    c[0:12, :, 0] = ramp
    c[12:24, :, 1] = ramp
    c[24:36, :, 2] = ramp
    c[36:48, :32, 0:2] = 200
    c[36:48, 32:, 1:3] = 160
    return Image.fromarray(c, "CMYK")


def _animated_frames() -> list[Image.Image]:
    frames = []
    for colour in ((255, 0, 0), (0, 0, 255)):
        frame = Image.new("P", (40, 30), 0)
        frame.putpalette(list(colour) + [0, 0, 0] * 255)
        frames.append(frame)
    return frames


def _alpha_small() -> Image.Image:
    x = np.linspace(0, 255, 32).round().astype(np.uint8)
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[..., 0] = 40
    rgba[..., 1] = x[:, None]  # green ramps down the rows
    rgba[..., 2] = 200
    rgba[..., 3] = x[None, :]  # alpha ramps 0..255 across
    return Image.fromarray(rgba, "RGBA")


def _strip() -> Image.Image:
    y = np.arange(20000)
    rgb = np.stack([y % 256, (y // 80) % 256, 255 - y % 256], axis=-1).astype(np.uint8)[:, None, :]
    return Image.fromarray(np.ascontiguousarray(rgb), "RGB")


NO_SIZE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 80">
  <rect width="120" height="80" fill="#3070c0"/>
  <circle cx="60" cy="40" r="30" fill="#f0c020"/>
</svg>
"""

# name -> what it is, and what the runtime must do with it (the README's lines).
CATALOGUE = {
    "cmyk.jpg": "64x48 CMYK JPEG (Adobe, inverted), K = 0 everywhere. Decode and convert to RGB; "
    "must match `cmyk_expected.png` within the pixel tolerance (mean abs <= 0.5, max <= 3).",
    "cmyk_expected.png": "What PIL's `Image.open('cmyk.jpg').convert('RGB')` gives. Golden for the line above.",
    "animated.gif": "2-frame 40x30 GIF, frame 0 solid red, frame 1 solid blue. Use the first frame only: "
    "every pixel (255, 0, 0).",
    "strip.png": "1x20000 RGB. Extreme aspect: every strategy must still give a valid plan "
    "(no 0-sized side, no NaN) or a typed error, never a crash or a hang.",
    "alpha_small.png": "32x32 RGBA, alpha 0..255 left to right. Composite over the strategy's fill: "
    "(c*a + fill*(255-a) + 127) // 255.",
    "no-size.svg": "SVG with viewBox 0 0 120 80 and no width/height. Rasterise at the viewBox size "
    "(120x80); never a 0x0 or the 300x150 default object size.",
    "not-an-image.bin": "2048 pseudo-random bytes. Refuse with a typed decode error that names the file; "
    "the engine stays usable.",
    "zero-height.png": "PNG whose IHDR says 10x0 (valid CRCs). Refuse with a typed error (empty image), "
    "no plan is made.",
    "huge-header.png": "PNG whose IHDR says 70000x70000, holding one row of pixel data (valid CRCs). "
    "Refuse from the header, before decoding, with a typed 'too large' error.",
}


def write_bad_images(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    cmyk = _cmyk_image()
    cmyk.save(folder / "cmyk.jpg", quality=95)
    with Image.open(folder / "cmyk.jpg") as decoded:
        if decoded.mode != "CMYK":
            raise SystemExit(f"cmyk.jpg decodes as {decoded.mode}, expected CMYK")
        decoded.convert("RGB").save(folder / "cmyk_expected.png", compress_level=9)
    first, *rest = _animated_frames()
    first.save(folder / "animated.gif", save_all=True, append_images=rest, duration=200, loop=0)
    _check_gif(folder / "animated.gif")
    _strip().save(folder / "strip.png", compress_level=9)
    _alpha_small().save(folder / "alpha_small.png", compress_level=9)
    (folder / "no-size.svg").write_text(NO_SIZE_SVG, encoding="utf-8")
    (folder / "not-an-image.bin").write_bytes(np.random.default_rng(7).bytes(2048))
    (folder / "zero-height.png").write_bytes(png_with_header(10, 0, 0))
    (folder / "huge-header.png").write_bytes(png_with_header(70000, 70000, 1))
    _write_readme(folder)
    return CATALOGUE


def _check_gif(path: Path) -> None:
    with Image.open(path) as gif:
        colours = []
        for index in range(gif.n_frames):
            gif.seek(index)
            colours.append(gif.convert("RGB").getcolors())
    if colours != [[(1200, (255, 0, 0))], [(1200, (0, 0, 255))]]:
        raise SystemExit(f"animated.gif frames decode as {colours}, expected solid red then solid blue")


def _write_readme(folder: Path) -> None:
    lines = [
        "# Bad-input images",
        "",
        "Generated by `/usr/bin/python3 -m training.make_preprocess_goldens` (see training/README.md);",
        "do not edit by hand. One line each: what the file is, and what the runtime must do with it.",
        "",
    ]
    lines += [f"- `{name}`: {text}" for name, text in CATALOGUE.items()]
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
