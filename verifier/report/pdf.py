"""HTML -> PDF with WeasyPrint: PDF/A-3b, evidence attached, byte-for-byte reproducible.

The SHA-256 of every attachment is also recorded outside the attachments, in the document
information dictionary (`verifier.report.evidence`), for `verifier check-report`.

Reproducible because nothing depends on the clock or the file system: the PDF identifier and
the creation/modification dates come from the report number and date, attachments carry the
report date, figures are rendered deterministically, and fonts are subset the same way each run.
"""

from __future__ import annotations

import hashlib

import weasyprint

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
    with gc_paused():
        step("laying out the PDF")  # rendering and writing apart, so the progress can tell them apart
        document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(**options)
        # Our key only: whatever other <meta> names the template may hold stay out of the PDF.
        document.metadata.custom = {evidence.INFO_KEY: evidence.encode(evidence.digests(attachments))}
        step(f"writing the PDF ({len(document.pages)} pages)")
        return document.write_pdf(**options)
