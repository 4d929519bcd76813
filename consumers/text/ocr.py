"""Optical character recognition through the ``tesseract`` program (stdin in, stdout out)."""

from __future__ import annotations

import io
import os
import subprocess

from PIL import Image

from consumers.text.limits import Limits
from streamproc.errors import ConfigurationError, PermanentError, RetryableError

_INSTALL_HINT = (
    "install it (Debian/Ubuntu: apt-get install tesseract-ocr; macOS: brew install tesseract) "
    "or set the tesseract command in the text limits"
)


def require_tesseract(limits: Limits) -> str:
    """Return tesseract's version line, or raise ``ConfigurationError`` naming what to install.

    Call it at start-up so a worker without OCR refuses to start instead of
    failing on the first scanned page.
    """
    output = _run([limits.tesseract_cmd, "--list-langs"], b"", limits).decode(errors="replace")
    if limits.ocr_language not in output.split():
        raise ConfigurationError(
            f"tesseract has no '{limits.ocr_language}' language data: "
            f"install tesseract-ocr-{limits.ocr_language}"
        )
    version = _run([limits.tesseract_cmd, "--version"], b"", limits)
    return version.decode(errors="replace").splitlines()[0]


def recognize(image: Image.Image, *, dpi: int, limits: Limits, what: str) -> str:
    """Return the text tesseract reads in ``image`` (``what`` names it in errors)."""
    command = [
        limits.tesseract_cmd,
        "stdin",
        "stdout",
        "-l",
        limits.ocr_language,
        "--dpi",
        str(dpi),
        "--psm",
        "1",
    ]
    output = _run(command, _as_pnm(image), limits, what=what)
    # tesseract ends every page with a form feed; the page is ours to delimit.
    return output.decode("utf-8", errors="replace").replace("\f", "")


def _as_pnm(image: Image.Image) -> bytes:
    # Uncompressed PNM is the cheapest format to hand over a pipe.
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if image.mode not in {"1", "L"}:
        image = image.convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")
    return buffer.getvalue()


def _run(command: list[str], stdin: bytes, limits: Limits, what: str = "OCR") -> bytes:
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            timeout=limits.tesseract_timeout,
            # One process per page is the unit of parallelism; tesseract's own
            # OpenMP threads would only fight the worker pool for the same cores.
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"the OCR program '{limits.tesseract_cmd}' was not found: {_INSTALL_HINT}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise RetryableError(
            f"tesseract took longer than {limits.tesseract_timeout:g} s on {what}"
        ) from exc
    if done.returncode != 0:
        raise _failure(done.returncode, done.stderr.decode(errors="replace"), limits, what)
    return done.stdout


def _failure(code: int, stderr: str, limits: Limits, what: str) -> Exception:
    tail = " ".join(stderr.split())[-300:]
    if "Failed loading language" in stderr:
        return ConfigurationError(
            f"tesseract has no '{limits.ocr_language}' language data: "
            f"install tesseract-ocr-{limits.ocr_language} ({tail})"
        )
    if code < 0:
        # Killed by a signal (the kernel's OOM killer, a shutdown): worth another try.
        return RetryableError(f"tesseract was killed by signal {-code} on {what}")
    return PermanentError(f"tesseract could not read {what} (exit status {code}): {tail}")
