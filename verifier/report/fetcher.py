"""A WeasyPrint URL fetcher that serves only the report's own assets and refuses everything else.

Served: files inside the ``templates`` resource folder and any ``extra_dirs`` (the shipped fonts)
(``file:`` URLs, symlinks resolved) and the figures rendered in memory for this report
(``verifier-figure:NAME``). Refused, whatever a submission's text might try: other files
(``file:///etc/passwd``), ``http(s):``, ``data:``, ...

The PDF alone is rendered through it; ``report.html`` carries its figures as ``data:`` URIs
(render.write_report) so that it shows them in a browser, with nothing to fetch.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse

FIGURE_SCHEME = "verifier-figure"


class RefusedURL(ValueError):
    pass


class SafeFetcher(URLFetcher):
    def __init__(self, assets_dir: Path, figures: Mapping[str, bytes] | None = None, *extra_dirs: Path):
        super().__init__(allowed_protocols=("file", FIGURE_SCHEME))
        self.assets_dir = Path(assets_dir).resolve()
        self.roots = [self.assets_dir] + [Path(d).resolve() for d in extra_dirs]
        self.figures = figures if figures is not None else {}  # read when asked: its bytes may be on their way
        self.requested: list[str] = []  # every URL asked for (tests inspect it)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        self.requested.append(url)
        parts = urlsplit(url)
        if parts.scheme == FIGURE_SCHEME:
            name = unquote(parts.path)
            if name in self.figures:
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, self.figures[name], {"Content-Type": mime})
        elif parts.scheme == "file" and parts.netloc in ("", "localhost"):
            path = Path(unquote(parts.path)).resolve()
            if path.is_file() and any(path.is_relative_to(root) for root in self.roots):
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        self.refused.append(url)
        raise RefusedURL(f"refused: {url}")

    def __call__(self, url):
        return self.fetch(url)
