"""Image files (PNG, JPEG, TIFF and friends): every frame is a page read by OCR."""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image, ImageSequence, UnidentifiedImageError

from consumers.model import Page
from consumers.text.clean import tidy
from consumers.text.limits import Limits
from consumers.text.ocr import recognize
from streamproc.errors import PermanentError

# Scans without resolution metadata are most often 300 dpi; tesseract needs a guess.
_DEFAULT_DPI = 300


def image_pages(data: bytes, limits: Limits) -> list[Page]:
    """OCR every frame of the image in ``data``; a multi-page TIFF gives several pages."""
    with _open(data, limits) as image:
        frames = getattr(image, "n_frames", 1)
        limits.check_pages(frames, f"{image.format} image")
        if frames > limits.max_ocr_pages:
            raise PermanentError(
                f"{image.format} image has {frames} pages, more than the {limits.max_ocr_pages} "
                "that may be OCR'd: split it into smaller documents and submit them again"
            )
        return [_page(number, frame, limits) for number, frame in _frames(image, limits)]


def _open(data: bytes, limits: Limits) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    # The warning is caught too, for processes that turn warnings into errors.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PermanentError(
            f"image is too large to decode safely ({exc}): "
            "scan it at a lower resolution (300 dpi is plenty) and submit it again"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PermanentError(
            f"image is damaged or in an unsupported format ({exc}): "
            "save it again as PNG, JPEG or TIFF and submit the new copy"
        ) from exc
    limits.check_pixels(image.width, image.height, f"{image.format} image")
    return image


def _frames(image: Image.Image, limits: Limits) -> Iterator[tuple[int, Image.Image]]:
    for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
        limits.check_pixels(frame.width, frame.height, f"frame {number} of the image")
        try:
            frame.load()
        except (OSError, ValueError) as exc:
            raise PermanentError(
                f"frame {number} of the {image.format} image is damaged ({exc}): "
                "save it again and submit the new copy"
            ) from exc
        yield number, frame


def _page(number: int, frame: Image.Image, limits: Limits) -> Page:
    text = recognize(frame, dpi=_dpi(frame), limits=limits, what=f"image page {number}")
    return Page(number=number, text=tidy(text), ocr=True)


def _dpi(image: Image.Image) -> int:
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and dpi and isinstance(dpi[0], int | float) and 70 <= dpi[0] <= 1200:
        return round(dpi[0])
    return _DEFAULT_DPI
