"""Draw the site logo, docs/assets/logo.png: a small network feeding a "run" triangle.

One square PNG serves as the header logo, the favicon, the social cards' logo and the RSS
channel image; 144 px is the widest image RSS 2.0 allows.
Run: .venv/bin/python scripts/draw_logo.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 144
SCALE = 4  # drawn 4x larger, then downscaled: smooth edges without an anti-aliasing API
RADIUS = 28  # of the rounded square's corners
BACKGROUND = (64, 81, 181)  # Material's indigo, the theme's primary colour
INK = (255, 255, 255)
INPUTS = [(34, 40), (34, 72), (34, 104)]
HIDDEN = [(72, 52), (72, 92)]
RUN = [(96, 50), (96, 94), (120, 72)]  # the output: a "play" triangle
TARGET = Path(__file__).resolve().parents[1] / "docs" / "assets" / "logo.png"


def draw() -> Image.Image:
    """The picture, opaque: the background colour runs to the edges, the mask rounds them."""
    image = Image.new("RGB", (SIZE * SCALE, SIZE * SCALE), BACKGROUND)
    pen = ImageDraw.Draw(image)
    for a in INPUTS:
        for b in HIDDEN:
            pen.line([_big(a), _big(b)], fill=INK, width=3 * SCALE)
    for b in HIDDEN:
        pen.line([_big(b), _big((100, 72))], fill=INK, width=3 * SCALE)
    pen.polygon([_big(point) for point in RUN], fill=INK)
    for x, y in INPUTS + HIDDEN:
        pen.ellipse([_big((x - 9, y - 9)), _big((x + 9, y + 9))], fill=INK)
    return image.resize((SIZE, SIZE), Image.LANCZOS)


def rounded_mask() -> Image.Image:
    big = SIZE * SCALE
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, big - 1, big - 1), RADIUS * SCALE, fill=255)
    return mask.resize((SIZE, SIZE), Image.LANCZOS)


def _big(point: tuple[int, int]) -> tuple[int, int]:
    return point[0] * SCALE, point[1] * SCALE


def main() -> None:
    image = draw().convert("RGBA")
    image.putalpha(rounded_mask())
    # A 64-colour palette keeps the file near 2 KB; edges stay smooth on any background.
    image.quantize(64, method=Image.Quantize.FASTOCTREE).save(TARGET, optimize=True)
    print(f"{TARGET.relative_to(TARGET.parents[2])}: {TARGET.stat().st_size} bytes")


if __name__ == "__main__":
    main()
