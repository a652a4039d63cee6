"""Malformed and oversized policy files, made on the spot: shared by the tests (a few) and
benchmarks/robustness.py (hundreds)."""
from __future__ import annotations

import random
import zlib


def pdf(pages: list[bytes], compress: bool = True) -> bytes:
    """A minimal valid PDF, one content stream a page (`pages` holds the raw operators)."""
    n = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, ops in enumerate(pages):
        data = zlib.compress(ops, 9) if compress else ops
        filt = b" /Filter /FlateDecode" if compress else b""
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                    f"<< /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objs.append(b"<< /Length %d%s >>\nstream\n" % (len(data), filt) + data + b"\nendstream")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def text_ops(lines: list[str]) -> bytes:
    body = " ".join("(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*"
                    for s in lines)
    return f"BT /F1 12 Tf 14 TL 72 720 Td {body} ET".encode()


def pdf_bomb(lines: int = 300_000) -> bytes:
    """A few KB that expand to one page of `lines` text lines (pypdf takes seconds to parse it)."""
    return pdf([b"BT /F1 12 Tf 14 TL 72 720 Td " + b"(We keep your data.) Tj T* " * lines + b"ET"])


def many_pages_pdf(pages: int) -> bytes:
    return pdf([text_ops([f"Page {i}: we keep your data for {i} days."]) for i in range(pages)])


def deep_html(depth: int = 1000) -> bytes:
    return (b"<html><body>" + b"<div>" * depth + b"We keep your data." + b"</div>" * depth
            + b"</body></html>")


def many_paragraphs_html(n: int = 100_000) -> bytes:
    return ("<html><head><title>Privacy</title></head><body>"
            + "".join(f"<p>We keep record {i} for {i % 90} days.</p>" for i in range(n))
            + "</body></html>").encode()


def bullets_md(n: int = 200_000) -> bytes:
    return ("# Privacy\n\n" + "".join(f"- item number {i} about data\n" for i in range(n))).encode()


def long_text(sentences: int, seed: int = 1) -> bytes:
    """Plain text of `sentences` distinct sentences (75,000 make about 5 MB)."""
    rng = random.Random(seed)
    words = "data privacy share keep delete partner email photo account service device cookie".split()
    return "\n".join(f"Rule {i}: " + " ".join(rng.choice(words) for _ in range(9)) + "."
                     for i in range(sentences)).encode()
