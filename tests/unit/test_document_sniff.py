"""Documents are recognised by their content alone: real JPEG, PNG and PDF files pass; renamed, empty, oversized,
markup, polyglot and scripted files are refused with a stable code."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from server.documents import sniff
from server.documents.service import display_name
from server.errors import AppError

LIMIT = 256 * 1024


def image(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def pdf() -> bytes:
    """A minimal valid one-page PDF, its cross-reference table computed."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def code_of(data: bytes, limit: int = LIMIT) -> str:
    with pytest.raises(AppError) as caught:
        sniff.sniff(data, max_bytes=limit)
    return caught.value.code


@pytest.mark.parametrize(
    ("data", "expected"),
    [(image("JPEG"), sniff.JPEG), (image("PNG"), sniff.PNG), (pdf(), sniff.PDF)],
    ids=["jpeg", "png", "pdf"],
)
def test_real_documents_are_recognised(data, expected):
    assert sniff.sniff(data, max_bytes=LIMIT) == expected


def test_a_png_named_pdf_is_a_png_whatever_its_name():
    # The name never decides: the content is a PNG, served as one, and shown with the right extension.
    assert sniff.sniff(image("PNG"), max_bytes=LIMIT) == sniff.PNG
    assert display_name("scan.pdf", sniff.PNG) == "scan.png"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "DOCUMENT_EMPTY"),
        (
            b"<!DOCTYPE html><html><script>alert(1)</script></html>",
            "DOCUMENT_TYPE",
        ),  # an HTML file named .jpg
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "DOCUMENT_TYPE"),
        (b'<?xml version="1.0"?><svg/>', "DOCUMENT_TYPE"),
        (b"GIF89a" + b"\x00" * 40, "DOCUMENT_TYPE"),
        (
            b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10,
            "DOCUMENT_TYPE",
        ),  # the signature alone is not enough
        (image("JPEG") + b"<html><script>alert(1)</script></html>", "DOCUMENT_TYPE"),  # a polyglot
        (image("PNG") + b"PK\x03\x04 a zip rides along", "DOCUMENT_TYPE"),
        (image("PNG")[:-40], "DOCUMENT_TYPE"),  # truncated
        (pdf()[:-20], "DOCUMENT_TYPE"),  # no trailer
        (
            pdf().replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (x) >>"),
            "DOCUMENT_TYPE",
        ),
        (b"%PDF-1.4\n<html><body>hi</body></html>\nstartxref\n0\n%%EOF", "DOCUMENT_TYPE"),
        (b"MZ\x90\x00" + b"\x00" * 60, "DOCUMENT_TYPE"),
    ],
    ids=[
        "empty",
        "html-named-jpg",
        "svg",
        "xml",
        "gif",
        "jpeg-signature-only",
        "jpeg-html-polyglot",
        "png-zip-polyglot",
        "truncated-png",
        "pdf-without-trailer",
        "pdf-with-javascript",
        "pdf-with-html",
        "executable",
    ],
)
def test_what_is_not_a_document_is_refused(data, code):
    assert code_of(data) == code


def test_an_oversized_file_is_refused_by_its_size():
    big = image("PNG", (600, 600))
    assert len(big) > 1024
    assert code_of(big, limit=1024) == "DOCUMENT_TOO_LARGE"
    assert sniff.sniff(big, max_bytes=len(big)) == sniff.PNG  # exactly at the limit passes


def test_an_image_with_too_many_pixels_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(sniff, "MAX_PIXELS", 100)
    assert code_of(image("PNG", (20, 20))) == "DOCUMENT_TYPE"


@pytest.mark.parametrize(
    ("name", "media_type", "shown"),
    [
        ("C:\\Users\\张三\\行驶证.JPG", sniff.JPEG, "行驶证.jpg"),
        ("../../etc/passwd", sniff.PDF, "passwd.pdf"),
        ("licence\u202egpj.exe", sniff.PNG, "licencegpj.png"),  # the bidi override is dropped
        ("", sniff.PDF, "document.pdf"),
        ("a" * 300 + ".pdf", sniff.PDF, "a" * 96 + ".pdf"),
        ("bad\x00name\n.png", sniff.PNG, "badname.png"),
    ],
)
def test_the_clients_file_name_is_only_a_sanitised_display_string(name, media_type, shown):
    assert display_name(name, media_type) == shown
