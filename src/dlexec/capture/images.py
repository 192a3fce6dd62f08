"""Figures a snippet displayed, checked and bounded before they are stored and published.

A snippet controls what it displays, so every figure is untrusted input:

- a PNG or JPEG must be what its MIME type claims (Pillow opens, verifies and decodes it);
- it is at most `MAX_IMAGE_BYTES` once decoded from base64, and at most `MAX_PIXELS` pixels
  (Pillow's decompression-bomb check applies too); one larger than `MAX_SIDE` pixels on a side
  is downscaled to fit, keeping its aspect ratio;
- an SVG is never published as SVG (it could carry script): it is drawn to PNG by CairoSVG in a
  child process bounded in time and memory, with every URL refused (no file or network reads),
  and the PNG is then checked like any other.

Every refusal is an `ImageRejected` whose message says what was wrong; capture turns it into a
notice in the cell's output. Pillow is imported when a figure is checked, so that a build which
captures nothing (every result reused) does not load it.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..limits import MAX_IMAGE_BYTES
from .clean import human_size

if TYPE_CHECKING:
    from PIL import Image

MAX_SVG_BYTES = 2 * 1024 * 1024  # one SVG document, before drawing
MAX_SIDE = 4096  # pixels on either side; larger figures are downscaled
MAX_PIXELS = 64 * 1024 * 1024  # decoded size (about 256 MB as RGBA); larger is refused
SVG_TIMEOUT_S = 10  # matplotlib's SVG figures draw in well under a second
SVG_MEMORY_BYTES = 2 * 1024 * 1024 * 1024  # address space of the drawing process
FORMATS = {"image/png": ("PNG", "png"), "image/jpeg": ("JPEG", "jpg")}
JPEG_FORMATS = {"JPEG", "MPO"}  # Pillow names a JPEG with multi-picture data "MPO"
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # "<_io.BytesIO object at 0x...>" in error messages


class ImageRejected(Exception):
    """A figure that is not published; the message says why, for a notice."""


@dataclass(frozen=True)
class Figure:
    """A checked figure: its bytes, MIME type, file extension and pixel size.

    `scale` is the factor it was downscaled by (1.0 when it was not)."""

    content: bytes
    mime: str
    extension: str
    width: int
    height: int
    scale: float = 1.0


def from_base64(payload: object, mime: str) -> Figure:
    """Decode and check a base64 PNG or JPEG as a kernel sends it."""
    text = as_text(payload)
    if text is None:
        raise ImageRejected(f"its {mime} data is not text")
    # Base64 takes 4 characters for 3 bytes (plus line breaks): refuse before decoding what is
    # certainly too large; check_raster checks the exact decoded size.
    if len(text) > MAX_IMAGE_BYTES * 3 // 2:
        raise ImageRejected(_too_large(len(text) * 3 // 4, MAX_IMAGE_BYTES))
    try:
        content = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejected(f"its {mime} data is not valid base64") from None
    return check_raster(content, mime)


def check_raster(content: bytes, mime: str) -> Figure:
    """Check that `content` is a decodable image of type `mime`; downscale it if too large."""
    from PIL import Image

    if len(content) > MAX_IMAGE_BYTES:
        raise ImageRejected(_too_large(len(content), MAX_IMAGE_BYTES))
    expected, extension = FORMATS[mime]
    allowed = JPEG_FORMATS if expected == "JPEG" else {expected}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[expected]) as image:
                if image.format not in allowed:
                    raise ImageRejected(f"it is not a {expected} image but {image.format}")
                width, height = image.size
                _check_pixels(width, height)
                image.verify()
            with Image.open(io.BytesIO(content), formats=[expected]) as image:
                image.load()  # decodes every pixel: a truncated or corrupt image fails here
                if max(width, height) > MAX_SIDE:
                    return _downscale(image, mime, extension)
                if expected == "PNG":
                    content = _compact_png(image, content)
                return Figure(content, mime, extension, width, height)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"it is too large to decode safely ({_reason(error)})") from None
    except Image.UnidentifiedImageError:
        raise ImageRejected(f"it is not a valid {expected} image (unrecognised data)") from None
    except Exception as error:  # Pillow raises many types on malformed input
        raise ImageRejected(f"it is not a valid {expected} image ({_reason(error)})") from None


def from_svg(payload: object) -> Figure:
    """Draw an SVG document to a checked PNG, never reading any file or URL it refers to."""
    text = as_text(payload)
    if text is None:
        raise ImageRejected("its image/svg+xml data is not text")
    svg = text.encode("utf-8", errors="replace")
    if len(svg) > MAX_SVG_BYTES:
        raise ImageRejected(_too_large(len(svg), MAX_SVG_BYTES, "SVG document"))
    if svg.startswith(b"\x1f\x8b"):
        raise ImageRejected("compressed SVG is not accepted")
    try:
        done = subprocess.run(
            [sys.executable, "-P", "-m", __name__, str(MAX_SIDE), str(SVG_MEMORY_BYTES)],
            input=svg,
            capture_output=True,
            timeout=SVG_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ImageRejected(f"drawing its SVG took longer than {SVG_TIMEOUT_S} s") from None
    except OSError as error:
        raise ImageRejected(f"its SVG could not be drawn ({error})") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        reason = _reason(lines[-1]) if lines else f"exit status {done.returncode}"
        raise ImageRejected(f"its SVG could not be drawn ({reason})")
    return check_raster(done.stdout, "image/png")


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected(f"it has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageRejected(
            f"it is {width}x{height} pixels, over the limit of {MAX_PIXELS:,} pixels "
            "(draw a smaller figure)"
        )


def _downscale(image: Image.Image, mime: str, extension: str) -> Figure:
    """Fit `image` within MAX_SIDE on both sides, keeping its aspect ratio; re-encode it."""
    from PIL import Image

    old_width = image.width
    if mime == "image/jpeg":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
    elif image.mode.startswith("I"):  # 16-bit grey: scale to 8 bits rather than clip
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if mime == "image/jpeg":
        image.save(buffer, format="JPEG", quality=90)
    else:
        image.save(buffer, format="PNG")
    content = buffer.getvalue()
    if len(content) > MAX_IMAGE_BYTES:
        raise ImageRejected(
            "downscaled to fit " + _too_large(len(content), MAX_IMAGE_BYTES).removeprefix("it ")
        )
    return Figure(content, mime, extension, image.width, image.height, image.width / old_width)


def _compact_png(image: Image.Image, content: bytes) -> bytes:
    """A PNG fit for the web: matplotlib's retina figures (200 dpi, opaque RGBA, anti-aliased)
    are 30-150 KB; as 256 colours (no dithering, which would speckle flat areas) they are about
    a third of that and look the same. The original is kept when that is not smaller."""
    from PIL import Image

    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:
        image = image.convert("RGB")  # an alpha channel that is opaque everywhere
    if image.mode not in ("RGB", "RGBA"):
        return content  # grey or already a palette: nothing to gain
    method = Image.Quantize.FASTOCTREE if image.mode == "RGBA" else Image.Quantize.MEDIANCUT
    buffer = io.BytesIO()
    image.quantize(colors=256, method=method, dither=Image.Dither.NONE).save(
        buffer, format="PNG", optimize=True
    )
    compact = buffer.getvalue()
    return compact if len(compact) < len(content) else content


def _reason(error: object) -> str:
    """An error as one short line without memory addresses (notices must not vary by run)."""
    text = ADDRESS.sub("", " ".join(str(error).split())) or type(error).__name__
    return text[:300]


def _too_large(size: int, limit: int, what: str = "figure") -> str:
    return f"it is {human_size(size)}, over the limit of {human_size(limit)} per {what}"


def as_text(payload: object) -> str | None:
    """A notebook text field as text: a string, or a list of strings (nbformat's multiline
    form); None for anything else."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, list) and all(isinstance(part, str) for part in payload):
        return "".join(payload)
    return None


# The child process that draws an SVG: `python -m dlexec.capture.images MAX_SIDE MEMORY_BYTES`,
# the SVG on stdin, the PNG on stdout, a one-line reason on stderr when it fails.


class _Measured(Exception):
    """Raised by the probe surface with the size the SVG asks for, before anything is drawn."""


def _refuse_url(url: str, resource_type: str) -> bytes:
    raise ValueError(f"it refers to {url[:80]!r}; figures may not load files or URLs")


def _draw_svg(svg: bytes, max_side: int) -> bytes:
    from cairosvg.surface import PNGSurface

    class Probe(PNGSurface):
        def _create_surface(self, width: float, height: float):  # type: ignore[override]
            raise _Measured(width, height)

    options = {"url_fetcher": _refuse_url, "unsafe": False}
    try:
        Probe.convert(bytestring=svg, **options)
    except _Measured as measured:
        width, height = measured.args
    else:  # pragma: no cover - the probe always raises
        raise ValueError("the SVG has no size")
    if not (math.isfinite(width) and math.isfinite(height)) or width < 1 or height < 1:
        raise ValueError(f"the SVG's size {width!r}x{height!r} is not drawable")
    if max(width, height) > max_side:
        factor = max_side / max(width, height)
        options["output_width"] = max(1, math.floor(width * factor))
        options["output_height"] = max(1, math.floor(height * factor))
    return PNGSurface.convert(bytestring=svg, **options)


def _child(argv: list[str]) -> int:
    max_side, memory = int(argv[0]), int(argv[1])
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):  # pragma: no cover - platforms without limits
        pass
    svg = sys.stdin.buffer.read()
    try:
        png = _draw_svg(svg, max_side)
    except MemoryError:
        print("drawing it needs too much memory", file=sys.stderr)
        return 1
    except Exception as error:  # any failure is reported as one line
        print(_reason(error), file=sys.stderr)
        return 1
    sys.stdout.buffer.write(png)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
