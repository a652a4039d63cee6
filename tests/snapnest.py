"""SnapNest: one realistic policy written as Markdown, HTML (with a cookie banner, site chrome and
an address hidden by the page's email obfuscation) and a two-page PDF (lines wrapped mid-sentence,
a running footer). The .md and .html are in tests/data/snapnest/; the PDF is made here."""
from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent / "data" / "snapnest"
PDF_PAGES = [
    ["SnapNest Privacy Policy", "Last updated: March 3, 2026",
     "SnapNest is a photo backup app. This policy explains what we", "collect and what we do with it.",
     "1. Information We Collect", "We collect your name and email address, the photos and",
     "videos you back up, and your device model.", "2. Sharing",
     "We do not sell your personal data. We share data with", "Amazon Web Services, which stores our backups.",
     "SnapNest Privacy Policy - page 1"],
    ["3. Retention", "Photos you delete stay in the Trash for", "30 days and are then permanently deleted.",
     "When you close your account, we delete your data", "within 60 days.", "4. Contact",
     "Questions about privacy? Write to privacy@snapnest.example.", "SnapNest Privacy Policy - page 2"],
]


def snapnest_pdf() -> bytes:
    from hostile import pdf, text_ops

    return pdf([text_ops(lines) for lines in PDF_PAGES])


def snapnest_files(folder: Path) -> list[Path]:
    """The three files, named snapnest-md.md, snapnest-html.html and snapnest-pdf.pdf, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "snapnest-md.md", folder / "snapnest-html.html", folder / "snapnest-pdf.pdf"]
    paths[0].write_bytes((FOLDER / "snapnest.md").read_bytes())
    paths[1].write_bytes((FOLDER / "snapnest.html").read_bytes())
    paths[2].write_bytes(snapnest_pdf())
    return paths
