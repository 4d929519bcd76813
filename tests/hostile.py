"""Hostile documents made at test time from corpus files: damaged, lying, bombs, locked.

Every generator is deterministic (bit flips are seeded), cheap to run (a bomb
is made from compressed zeros, never written out inflated) and returns bytes;
tests write them under ``tmp_path``. PDFs are written by hand where the point
is a header that lies (``/Length``, ``/Size``, ``/Count``, image sizes) or a
content stream no PDF library would emit.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

from fpdf import FPDF
from fpdf.enums import EncryptionMethod

GIB = 1 << 30
_ZEROS = b"\x00" * (1 << 20)


def flipped(data: bytes, seed: int, bits: int) -> bytes:
    """``data`` with ``bits`` bits flipped at seeded random positions."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(bits):
        at = rng.randrange(len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def latin(text: str) -> str:
    """``text`` as the PDF core fonts can show it."""
    return text.encode("latin-1", "replace").decode("latin-1")


# PDF


def pdf_file(objects: list[bytes], *, size: int | None = None) -> bytes:
    """A PDF of ``objects`` (object 1 is the catalog) with a correct xref table.

    ``size`` overrides the trailer's /Size, the number of objects it claims.
    """
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    count = len(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (size or count)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def pdf_stream(entries: bytes, data: bytes, *, length: int | None = None) -> bytes:
    """A stream object; ``length`` overrides the /Length it claims."""
    claimed = len(data) if length is None else length
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (entries, claimed, data)


def _page_tree(page: bytes, *, count: int = 1) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] " + page + b" >>",
    ]


def text_pdf(
    line: str, *, length: int | None = None, size: int | None = None, count: int = 1
) -> bytes:
    """One page showing ``line`` in Helvetica; the stream, xref and page tree may lie."""
    shown = latin(line).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = b"BT /F1 11 Tf 72 720 Td (" + shown.encode("latin-1") + b") Tj ET"
    page = b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>"
    return pdf_file(
        [
            *_page_tree(page, count=count),
            pdf_stream(b"", content, length=length),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ],
        size=size,
    )


def image_pdf(width: int, height: int, deflated: bytes) -> bytes:
    """One page filled by a 1-bit ``width`` x ``height`` image of Flate ``deflated`` bytes."""
    page = b"/Contents 4 0 R /Resources << /XObject << /Im0 5 0 R >> >>"
    image = (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d "
        b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode" % (width, height)
    )
    return pdf_file(
        [
            *_page_tree(page),
            pdf_stream(b"", b"q 612 0 0 792 0 0 cm /Im0 Do Q"),
            pdf_stream(image, deflated),
        ]
    )


def drawing_bomb_pdf(operators: int) -> bytes:
    """One page whose small Flate content stream inflates to ``operators`` path drawings."""
    deflated = deflate_repeated(b"0 0 m 1 1 l S\n", operators)
    page = b"/Contents 4 0 R"
    return pdf_file([*_page_tree(page), pdf_stream(b"/Filter /FlateDecode", deflated)])


def sealed_pdf(
    lines: list[str], *, user_password: str | None, method: EncryptionMethod = EncryptionMethod.RC4
) -> bytes:
    """A PDF of ``lines`` encrypted with ``method``; without a user password anyone may open it."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for line in lines:
        pdf.multi_cell(0, 6, text=latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.set_encryption(
        owner_password="clerk-of-court", user_password=user_password, encryption_method=method
    )
    return bytes(pdf.output())


# Images


def deflate_repeated(unit: bytes, times: int) -> bytes:
    """zlib of ``unit`` repeated ``times`` times, made without holding the whole."""
    packer = zlib.compressobj(9)
    block = unit * max(1, (1 << 20) // len(unit))
    per_block = len(block) // len(unit)
    parts = [packer.compress(block) for _ in range(times // per_block)]
    parts.append(packer.compress(unit * (times % per_block)))
    return b"".join(parts) + packer.flush()


def png(width: int, height: int, *, depth: int = 1, idat: bytes | None = None) -> bytes:
    """A grayscale PNG; its rows are really there (white) unless ``idat`` replaces them."""
    if idat is None:
        idat = deflate_repeated(b"\x00" + b"\xff" * ((width * depth + 7) // 8), height)
    header = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    chunks = ((b"IHDR", header), (b"IDAT", idat), (b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(kind, body) for kind, body in chunks)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def tiff(width: int, height: int, *, strip_bytes: int, strip: bytes) -> bytes:
    """A one-strip 8-bit grayscale TIFF whose tags claim ``width``, ``height`` and strip size."""
    tags = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8 + 2 + 12 * 9 + 4),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, strip_bytes),
    ]
    entries = b"".join(
        struct.pack("<HHII", tag, kind, 1, value)
        if kind == 4
        else struct.pack("<HHIHH", tag, kind, 1, value, 0)
        for tag, kind, value in tags
    )
    return b"II*\x00" + struct.pack("<IH", 8, len(tags)) + entries + b"\x00" * 4 + strip


# DOCX


def docx_rebuilt(
    original: bytes,
    change: dict[str, Callable[[bytes], bytes]] | None = None,
    *,
    extra: dict[str, int] | None = None,
) -> bytes:
    """``original`` re-zipped with members changed, and ``extra`` members of that many zeros."""
    change = change or {}
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(original)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, change.get(info.filename, _same)(data))
        for name, size in (extra or {}).items():
            member = zipfile.ZipInfo(name)
            member.compress_type = zipfile.ZIP_DEFLATED
            with target.open(member, "w", force_zip64=True) as sink:
                for _ in range(size // len(_ZEROS)):
                    sink.write(_ZEROS)
                sink.write(_ZEROS[: size % len(_ZEROS)])
    return out.getvalue()


def _same(data: bytes) -> bytes:
    return data


def padded_body(size: int) -> Callable[[bytes], bytes]:
    """A change for ``word/document.xml``: ``size`` bytes of one-word paragraphs before the end."""
    paragraph = b"<w:p><w:r><w:t>Filed</w:t></w:r></w:p>"

    def pad(document: bytes) -> bytes:
        end = document.rindex(b"<w:sectPr")
        return document[:end] + paragraph * (size // len(paragraph)) + document[end:]

    return pad


def with_declared_size(archive: bytes, member: str, size: int) -> bytes:
    """``archive`` whose central directory and local header declare ``member`` is ``size`` bytes."""
    out = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as listing:
        local = listing.getinfo(member).header_offset
    struct.pack_into("<I", out, local + 22, size)
    name = member.encode()
    for central in re.finditer(rb"PK\x01\x02", archive):
        at = central.start()
        (length,) = struct.unpack_from("<H", archive, at + 28)
        if archive[at + 46 : at + 46 + length] == name:
            struct.pack_into("<I", out, at + 24, size)
    return bytes(out)
