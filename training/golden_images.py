"""The four source images of the preprocessing goldens, generated from fixed seeds.

Each stresses something different: noise and soft edges (photo), thin glyph edges
(text), an extreme aspect ratio (panorama), alpha compositing (alpha)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PHOTO_NOISE_SIGMA = 1.5  # sensor-like noise in the sky only: the fixture folder stays under 3 MB


def _font(size: int) -> ImageFont.FreeTypeFont:
    if not FONT_PATH.exists():
        raise SystemExit(f"expected the DejaVu font at {FONT_PATH}; install it with: apt-get install -y fonts-dejavu-core")
    return ImageFont.truetype(str(FONT_PATH), size)


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(0.0, 1.0, width, dtype=np.float64)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float64)[:, None]
    return x, y


def _to_image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")


def make_photo(width: int = 640, height: int = 480, seed: int = 1) -> Image.Image:
    x, y = _grid(width, height)
    vignette = 1.0 - 0.35 * ((x - 0.45) ** 2 + (y - 0.4) ** 2)
    sky = np.stack([90 + 80 * x + 0 * y, 140 + 60 * y + 0 * x, 230 - 90 * y + 0 * x], axis=-1)
    ground = np.stack([110 + 50 * np.sin(6 * x) + 0 * y, 150 - 40 * y + 0 * x, 60 + 30 * x + 0 * y], axis=-1)
    horizon = (y > 0.55 + 0.05 * np.sin(9 * x))[..., None]
    image = _to_image(np.where(horizon, ground, sky) * vignette[..., None])
    draw = ImageDraw.Draw(image)
    draw.ellipse((420, 40, 540, 160), fill=(250, 220, 120))
    draw.rectangle((60, 250, 230, 420), fill=(150, 60, 50))
    draw.polygon([(50, 255), (145, 180), (240, 255)], fill=(90, 40, 35))
    draw.rectangle((120, 330, 160, 420), fill=(60, 40, 30))
    draw.ellipse((330, 300, 470, 380), fill=(30, 110, 40))
    draw.line((0, 470, width - 1, 300), fill=(230, 230, 225), width=5)
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, PHOTO_NOISE_SIGMA, (height, width, 3)) * ~horizon
    noisy = np.asarray(image, dtype=np.float64) + noise
    return _to_image(noisy)


TEXT_LINES = [
    (12, (0, 0, 0), "12 px: The quick brown fox jumps over the lazy dog. 0123456789 (),.;:!?"),
    (14, (200, 20, 20), "14 px red: Sphinx of black quartz, judge my vow. ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    (16, (0, 0, 0), "16 px: Loupe reads small print: invoice #4471, total 1,234.56 EUR"),
    (18, (20, 90, 200), "18 px blue: Pack my box with five dozen liquor jugs."),
    (20, (0, 0, 0), "20 px: How vexingly quick daft zebras jump!"),
    (24, (20, 140, 40), "24 px green: The five boxing wizards jump quickly."),
    (28, (0, 0, 0), "28 px: Grumpy wizards make toxic brew."),
    (13, (120, 0, 160), "13 px purple: mixed case, digits 3.14159 and symbols @#%&*+=<>[]{}"),
]


def make_text(width: int = 900, height: int = 300) -> Image.Image:
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    y = 8
    for size, colour, line in TEXT_LINES:
        draw.text((10, y), line, font=_font(size), fill=colour)
        y += round(size * 1.3)
    return image


def make_panorama(width: int = 1600, height: int = 100) -> Image.Image:
    x, y = _grid(width, height)
    hue = 2 * np.pi * x * 3
    rgb = np.stack([128 + 100 * np.sin(hue) + 0 * y, 128 + 100 * np.sin(hue + 2.1) + 0 * y, 128 + 100 * np.sin(hue + 4.2) + 20 * y], axis=-1)
    image = _to_image(rgb)
    draw = ImageDraw.Draw(image)
    for i, period in enumerate((2, 3, 4, 6, 8, 12)):  # stripes from near-Nyquist to coarse
        x0 = 200 + i * 40
        for k in range(x0, x0 + 40, period):
            draw.rectangle((k, 10, k + period // 2 - 1, 89), fill=(0, 0, 0))
    for cx in range(520, 760, 16):  # checkerboard
        for cy in range(0, height, 16):
            if (cx // 16 + cy // 16) % 2 == 0:
                draw.rectangle((cx, cy, cx + 15, cy + 15), fill=(255, 255, 255))
    for i in range(6):
        draw.ellipse((800 + i * 70, 20 + 6 * i, 850 + i * 70, 70 + 6 * i), fill=(40 * i, 255 - 40 * i, 120))
    draw.text((1240, 30), "PANORAMA 1600x100", font=_font(24), fill=(255, 255, 255))
    draw.line((0, 99, width - 1, 0), fill=(20, 20, 20), width=2)
    return image


def make_alpha(width: int = 300, height: int = 200) -> Image.Image:
    """Alpha ramps 0..255 left to right (both ends exact); a fully transparent rectangle
    hides garbage magenta, which must not leak into the composite."""
    x, y = _grid(width, height)
    rgb = np.stack([255 * x + 0 * y, 200 * y + 0 * x, 255 * (1 - x) * (1 - y)], axis=-1)
    image = _to_image(rgb)
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 140, 140), fill=(220, 30, 30))
    draw.rectangle((160, 100, 270, 180), fill=(30, 60, 220))
    draw.rectangle((200, 15, 285, 75), fill=(255, 0, 255))
    alpha = np.round(255 * np.broadcast_to(x, (height, width))).astype(np.uint8)
    alpha[15:76, 200:286] = 0
    alpha[185:, :] = 255  # an opaque band, so every column has a reference pixel
    rgba = np.dstack([np.asarray(image), alpha])
    return Image.fromarray(rgba, "RGBA")


SOURCES = {
    "photo": make_photo,
    "text": make_text,
    "panorama": make_panorama,
    "alpha": make_alpha,
}
