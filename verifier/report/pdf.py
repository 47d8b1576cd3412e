"""HTML -> PDF with WeasyPrint: PDF/A-3b, evidence attached, byte-for-byte reproducible.

Reproducible because nothing depends on the clock or the file system: the PDF identifier and
the creation/modification dates come from the report number and date, attachments carry the
report date, figures are rendered deterministically, and fonts are subset the same way each run.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import weasyprint

from verifier.report.fetcher import SafeFetcher


def report_datetime(date: str) -> datetime:
    """The report date (YYYY-MM-DD) at 00:00 UTC: every timestamp the PDF and workbook carry."""
    return datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=timezone.utc)


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
                   uncompressed_pdf=False)
    # HTML.write_pdf in two halves (as WeasyPrint does it) so the progress can tell them apart.
    step("laying out the PDF")
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(**options)
    step(f"writing the PDF ({len(document.pages)} pages)")
    return document.write_pdf(**options)
