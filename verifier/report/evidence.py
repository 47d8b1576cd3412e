"""What a report PDF records about its attached evidence, outside the attachments themselves.

At render time the SHA-256 of every attached file (findings.json, sample.csv, ...) is written
into the PDF's document information dictionary under one custom key, as JSON, and the
findings.json digest is printed in the evidence annex. `verifier check-report` compares the
attachments it finds with this record: a swapped attachment no longer matches, and once the PDF
is signed the record itself is covered by the signature.

A custom key in the information dictionary is allowed by PDF/A-3 (only the standard keys must
mirror the XMP) and is kept as it is by an incremental (signing) update.
"""

from __future__ import annotations

import hashlib
import json

#: The information-dictionary key (WeasyPrint keeps only ASCII letters and digits of a key).
INFO_KEY = "VerifierAttachmentsSHA256"
#: The attachment whose digest the evidence annex prints.
FINDINGS = "findings.json"


def sha256(content: bytes) -> str:
    """Lower-case hex SHA-256 (as findings.json lists the inputs')."""
    return hashlib.sha256(content).hexdigest()


def digests(attachments: dict[str, bytes]) -> dict[str, str]:
    """File name -> SHA-256 of its content, in name order."""
    return {name: sha256(content) for name, content in sorted(attachments.items())}


def encode(recorded: dict[str, str]) -> str:
    """The information-dictionary value: compact JSON, keys sorted (the same bytes every run)."""
    return json.dumps(recorded, sort_keys=True, separators=(",", ":"))


def decode(value: object) -> dict[str, str] | None:
    """The record read back, or None when ``value`` is not one (absent, not JSON, wrong shape)."""
    if value is None:
        return None
    try:
        recorded = json.loads(str(value))
    except (TypeError, ValueError):
        return None
    if not isinstance(recorded, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in recorded.items()):
        return None
    return recorded
