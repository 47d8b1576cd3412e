"""HTML -> PDF with WeasyPrint: PDF/A-3b, evidence attached, byte-for-byte reproducible.

The SHA-256 of every attachment is also recorded outside the attachments, in the document
information dictionary (`verifier.report.evidence`), for `verifier check-report`.

Reproducible because nothing depends on the clock or the file system: the PDF identifier and
the creation/modification dates come from the report number and date, attachments carry the
report date, figures are rendered deterministically, and fonts are subset the same way each run.
"""

from __future__ import annotations

import hashlib
import shutil
from contextlib import contextmanager

import weasyprint
from weasyprint.text.fonts import FontConfiguration

from verifier.gc_pause import gc_paused
from verifier.report import evidence
from verifier.report.fetcher import SafeFetcher
from verifier.report.model import report_datetime


def html_to_pdf(html: str, base_url: str, fetcher: SafeFetcher, *, number: str, date: str,
                attachments: dict[str, bytes], step=lambda name: None) -> bytes:
    """PDF bytes of ``html``; ``attachments`` maps file name -> content (embedded, PDF/A-3).
    `step(name)` as the layout and the writing start (each can take tens of seconds)."""
    when = report_datetime(date).replace(tzinfo=None)  # WeasyPrint formats it with a 'Z'
    files = [
        weasyprint.Attachment(string=content, name=name, created=when, modified=when,
                              relationship="Data", url_fetcher=fetcher,
                              description=name)
        for name, content in sorted(attachments.items())
    ]
    identifier = hashlib.md5(f"{number}|{date}".encode(), usedforsecurity=False).hexdigest()
    options = dict(pdf_variant="pdf/a-3b", pdf_identifier=identifier.encode(), attachments=files,
                   uncompressed_pdf=False, custom_metadata=True)
    with gc_paused(), _font_folder() as fonts:
        step("laying out the PDF")  # rendering and writing apart, so the progress can tell them apart
        document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
            font_config=fonts, **options)
        # Our key only: whatever other <meta> names the template may hold stay out of the PDF.
        document.metadata.custom = {evidence.INFO_KEY: evidence.encode(evidence.digests(attachments))}
        step(f"writing the PDF ({len(document.pages)} pages)")
        return document.write_pdf(**options)


@contextmanager
def _font_folder():
    """WeasyPrint's font configuration for one PDF, its folder removed once the PDF is written.
    WeasyPrint copies each @font-face font (3 MB) into a temporary folder of its own that only
    the configuration's finaliser removes, and a `verifier` run leaves with os._exit
    (cli.entry), where no finaliser runs: every report left its fonts in the temp folder."""
    fonts = FontConfiguration()
    try:
        yield fonts
    finally:
        folder = getattr(fonts, "_folder", None)  # set by add_font_face (weasyprint/text/fonts.py)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
