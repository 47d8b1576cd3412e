"""The batch summary as pages: ``summary.html`` (one self-contained static page for a browser)
and ``summary.pdf`` (the same tables through WeasyPrint, A4 landscape).

Both come from one template (templates/summary/summary.html.j2) rendered from the summary.json
dict alone, in the report's jinja2 environment (autoescape: every name, applicant and error from
a submission is text, never markup).

summary.html fetches nothing: its stylesheet and script are inline, its fonts are the system's
(a CJK stack, no @font-face), and a Content-Security-Policy allows only that one style and that
one script (by their SHA-256), images only as data: URIs, nothing to connect to; so even a bug
could not load anything. Each filing links to its own ``filings/<name>/report.pdf`` and
``findings.json``, relative and URL-encoded, so the folder can be moved or zipped whole.

summary.pdf uses the report's shipped CJK fonts and its fetcher (which serves the fonts and
refuses everything else) and carries no date: the same summary gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from verifier import numbers
from verifier.batch.outputs import PAIR_COLUMNS, TOTAL_COLUMNS, column_label, translator, words
from verifier.report.fetcher import SafeFetcher
from verifier.report.fonts import CSS_SANS, check_font_files, font_dir
from verifier.report.pdf import html_to_pdf
from verifier.outdir import write_atomic
from verifier.report.render import css_string, jinja_env, page_css
from verifier.resources import resource_dir

TEMPLATE = "summary/summary.html.j2"
PDF_DATE = "1980-01-01"  # the PDF's only date (its attachments' and identifier's): none of the clock's
# The filings table's number columns, after name, status, methodology, applicant, period and year.
NUMBER_COLUMNS = (("reported_reduction_tco2", numbers.tco2e), ("recalculated_reduction_tco2", numbers.tco2e),
                  ("verified_reduction_tco2", numbers.tco2e), ("double_claimed_tco2", numbers.tco2e),
                  ("creditable_reduction_tco2", numbers.tco2e), ("double_claims", numbers.count))
TEXT_COLUMNS = ("name", "status", "methodology", "applicant.name", "period.end", "year")
WRITTEN = {"count": numbers.count, "tco2": numbers.tco2e, "pkm": numbers.pkm}


def write_pages(folder: Path, summary: dict, lang: str) -> None:
    """Write ``summary.html`` and ``summary.pdf`` into ``folder``."""
    folder = Path(folder)
    check_font_files()  # a missing font would print blank glyphs silently: fail clearly instead
    write_atomic(folder / "summary.html", render_page(summary, lang).encode("utf-8"))
    write_atomic(folder / "summary.pdf", render_pdf(summary, lang))


def render_page(summary: dict, lang: str, pdf: bool = False) -> str:
    """The page's HTML; ``pdf``: for WeasyPrint (shipped fonts, print sheet, no script)."""
    templates = resource_dir("templates")
    folder = templates / "summary"
    css = (folder / "summary.css").read_text(encoding="utf-8")
    js = (folder / "summary.js").read_text(encoding="utf-8")
    t = translator(lang)
    print_css = ""
    if pdf:  # the report's @font-face rules and page numbers, then a running header on every page
        header = t("sm_generated").format(**_generated(summary))
        print_css = (str(page_css(t, templates)) + f"\nhtml {{ font-family: {CSS_SANS}; }}\n"
                     + (folder / "summary_print.css").read_text(encoding="utf-8")
                     + f"\n@page {{ @top-right {{ content: {css_string(header)}; }} }}\n")
    return jinja_env(templates).get_template(TEMPLATE).render(
        **view(summary, t), t=t, lang=lang, pdf=pdf, csp=content_security_policy(css, js),
        css=Markup(css), js=Markup(js), print_css=Markup(print_css))


def render_pdf(summary: dict, lang: str) -> bytes:
    templates = resource_dir("templates")
    fetcher = SafeFetcher(templates, {}, font_dir())
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return html_to_pdf(render_page(summary, lang, pdf=True), templates.as_uri() + "/", fetcher,
                       number=f"summary-{digest[:16]}", date=PDF_DATE, attachments={})


def content_security_policy(css: str, js: str) -> str:
    """Nothing but the page's own inline style and script, by hash; no fetch of any kind."""
    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    return (f"default-src 'none'; script-src {sha(js)}; style-src {sha(css)}; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def link(relative: str | None) -> str | None:
    """A relative path from summary.json (``filings/<name>/report.pdf``) as an href: each segment
    URL-encoded (a name may hold spaces, quotes, ``#``, ``?``, ``%``); none for a path that could
    leave the folder."""
    if not relative:
        return None
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    return "/".join(quote(p, safe="") for p in parts)


# -- the view model -----------------------------------------------------------------------------
def view(summary: dict, t) -> dict:
    filings = [_filing(f, t) for f in summary["filings"]]
    params = summary.get("parameters") or {}
    tool = summary.get("tool") or {"name": "verifier", "version": ""}
    block = summary.get("double_claims") or {}
    totals = summary.get("totals") or {}
    return dict(
        tool=tool,
        generated=t("sm_generated").format(**_generated(summary)),
        inputs=t("sm_inputs").format(factors=params.get("factors") or t("sm_default"),
                                     boundary=params.get("boundary") or t("sm_default")),
        overview=[(column_label(t, f), WRITTEN[kind](totals.get(f))) for f, kind in TOTAL_COLUMNS],
        columns=[{"id": f, "label": t("period") if f == "period.end" else column_label(t, f),  # start – end
                  "kind": "num" if f == "year" else "text"} for f in TEXT_COLUMNS]
        + [{"id": f, "label": column_label(t, f), "kind": "num"} for f, _ in NUMBER_COLUMNS]
        + [{"id": "failing_checks", "label": column_label(t, "failing_checks"), "kind": "text"}],
        filings=filings,
        selects=_selects(filings, t),
        totals=_totals(totals, t),
        double_note=t("sm_double_note").format(csv=block.get("csv") or "double_claims.csv"),
        pair_header=[column_label(t, f) for f, _ in PAIR_COLUMNS] + [t("sm_col_examples")],
        pairs=[_pair(p, t) for p in block.get("pairs") or []],
        overlapping=[tuple(pair) for pair in block.get("overlapping_periods") or []],
    )


def _generated(summary: dict) -> dict:
    tool = summary.get("tool") or {}
    return dict(tool=tool.get("name") or "verifier", version=tool.get("version") or "",
                seed=summary.get("seed"), engine=(summary.get("parameters") or {}).get("engine") or "duckdb")


def _filing(f: dict, t) -> dict:
    period = f.get("period") or {}
    start, end = period.get("start"), period.get("end")
    applicant = f.get("applicant") or {}
    return dict(
        name=f["name"], status=f["status"], status_word=words(t, "status", f["status"]),
        methodology=f.get("methodology"), methodology_name=f.get("methodology_name"), applicant=applicant.get("name"), uscc=applicant.get("uscc"),
        period_start=start, period_end=end, year=f.get("year"),
        numbers=[{"v": "" if f.get(field) is None else repr(f.get(field)), "shown": write(f.get(field))}
                 for field, write in NUMBER_COLUMNS],
        failing_checks=f.get("failing_checks") or [], error=f.get("error"),
        report=link(f.get("report")), findings=link(f.get("findings")),
    )


def _selects(filings: list[dict], t) -> list[dict]:
    statuses = sorted({f["status"] for f in filings})
    methodologies = sorted({f["methodology"] for f in filings if f["methodology"]})
    years = sorted({str(f["year"]) for f in filings if f["year"] is not None})
    return [
        {"attr": "status", "label": column_label(t, "status"),
         "options": [(s, words(t, "status", s)) for s in statuses]},
        {"attr": "methodology", "label": column_label(t, "methodology"), "options": [(m, m) for m in methodologies]},
        {"attr": "year", "label": column_label(t, "year"), "options": [(y, y) for y in years]},
    ]


GROUP_COLUMNS = ("filings", "passed", "reported_reduction_tco2", "verified_reduction_tco2",
                 "creditable_reduction_tco2")


def _totals(totals: dict, t) -> list[dict]:
    kinds = dict(TOTAL_COLUMNS)
    groups = []
    for dim in ("by_year", "by_applicant", "by_methodology"):
        rows = [{"label": e.get("label") or (numbers.DASH if e.get("key") is None else str(e.get("key"))),
                 "sub": e.get("key") if e.get("label") else None,
                 "cells": [WRITTEN[kinds[c]](e.get(c)) for c in GROUP_COLUMNS]}
                for e in totals.get(dim) or []]
        groups.append({"title": t(dim.replace("by_", "sm_by_")),
                       "header": [t("sm_dim_" + dim.removeprefix("by_"))] + [column_label(t, c) for c in GROUP_COLUMNS],
                       "rows": rows})
    return groups


def _pair(p: dict, t) -> dict:
    return dict(filing=p.get("filing"), earlier=p.get("earlier"), basis=words(t, "basis", p.get("basis")),
                records=numbers.count(p.get("records")), pkm=numbers.pkm(p.get("pkm")),
                tco2=numbers.tco2e(p.get("tco2")), examples=p.get("examples") or [])
