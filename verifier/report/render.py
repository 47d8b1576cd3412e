"""Writes the verification report: ``report.html``, ``report.pdf`` and ``sample.xlsx``.

``write_report`` is called with the run's temporary output folder, where ``findings.json`` and
``sample.csv`` already are; both travel inside the PDF as PDF/A-3 attachments.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from verifier.findings import Findings
from verifier.gc_pause import gc_paused
from verifier.report import evidence, model
from verifier.report.checklist import load_checklist, text
from verifier.report.excluded_view import excluded_attachment
from verifier.report.figures import FigureData, draw_figures, figure_notes, figure_span
from verifier.report.fonts import CSS_SANS, check_font_files, font_dir, font_face_css
from verifier.report.workpaper import write_workpaper
from verifier.resources import resource_dir

LANGS = ("zh", "en")
ATTACHED = ("findings.json", "sample.csv")


@lru_cache(maxsize=4)
def jinja_env(templates: Path) -> jinja2.Environment:
    """One environment per templates folder and process: it keeps the compiled templates (a
    report compiled its ~30 templates twice, ~0.25 s CPU each time; a batch once per filing)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,  # every submission string is escaped (.j2 files included)
        finalize=_shown,  # ... and its hidden characters made visible
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["wbr"] = model.breakable  # ids and keys wrap at their separators only
    env.filters["units"] = model.units  # tCO2e in messages with a subscript 2
    return env


def prepare() -> None:
    """Do what every report needs before its filing is known (verifier.report.helper does it
    while the run works): the report's strings read, its templates compiled (0.1 s)."""
    model.strings()
    env = jinja_env(resource_dir("templates"))
    for name in env.list_templates(filter_func=_report_template):
        env.get_template(name)


def _report_template(name: str) -> bool:
    return name == "report.html.j2" or name.startswith(("sections/", "macros/"))


def _shown(value):
    """What `{{ value }}` prints: text with its hidden characters escaped (model.visible)."""
    return model.visible(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def page_css(t, templates: Path) -> Markup:
    """The shipped fonts' @font-face rules (URLs relative to ``templates``, the base_url) and the
    page-number margin box in the report's language (trusted strings only)."""
    before, middle, after = t("page_of")
    content = (f"{css_string(before)} counter(page) {css_string(middle)} counter(pages) "
               f"{css_string(after)}")
    return Markup(
        font_face_css(templates) + "\n@page { @bottom-center { content: " + content + "; "
        f"font-family: {CSS_SANS}; font-size: 7.5pt; color: #555; }} }}")


def typed(findings: Findings | dict) -> Findings:
    """The findings as the run made them, or read back from a findings.json document."""
    return findings if isinstance(findings, Findings) else Findings.from_dict(findings)


def render_html(findings: Findings | dict, sample: pd.DataFrame, figures: dict[str, str], lang: str,
                notes: dict[str, str] | None = None, standalone: bool = False,
                attached: dict[str, str] | None = None, view: dict | None = None) -> str:
    """The report as HTML; ``figures`` maps a figure name to its URL, ``notes`` to what its
    caption adds (figures.figure_notes). ``standalone``: the stylesheet inside the page (for
    report.html, opened on its own), not linked beside the templates (the PDF's). ``attached``
    maps an attached file's name to its SHA-256 (printed in the evidence annex). ``view``: the
    view model when the caller has built it (model.build)."""
    if lang not in LANGS:
        raise ValueError(f"unknown report language {lang!r} (zh or en)")
    findings = typed(findings)
    checklist = load_checklist(findings.methodology)
    ctx = view if view is not None else model.build(findings, sample, checklist, lang)
    t = model.translator(lang)
    status_label = {s: t(f"st_{s}") for s in model.STATUS_ORDER}

    def tm(key: str, **values) -> Markup:  # a trusted string with markup, values escaped
        return Markup(t(key)).format(**{k: _shown(v) for k, v in values.items()})

    def badge(status: str) -> Markup:
        label = status_label.get(status, status)
        return Markup('<span class="badge st-{}">{}</span>').format(status, label)

    templates = resource_dir("templates")
    template = jinja_env(templates).get_template("report.html.j2")
    return template.render(**ctx, t=t, tm=tm, badge=badge, figures=figures, status_label=status_label,
                           page_css=page_css(t, templates), figure_notes=notes or {}, attached=attached or {},
                           inline_css=Markup((templates / "report.css").read_text(encoding="utf-8")) if standalone else "")


PARTS = ("pdf", "html", "xlsx")  # report.pdf, report.html, sample.xlsx


def write_report(out_dir: Path, findings: Findings | dict, sample: pd.DataFrame, figures: FigureData,
                 lang: str = "zh", step=lambda name: None, drawn: Mapping[str, bytes] | None = None,
                 parts: tuple[str, ...] = PARTS) -> None:
    """Write report.pdf, report.html and sample.xlsx (`parts` of them) into ``out_dir``;
    `step(name)` as each long part starts (pipeline.verify's progress). `drawn`: the figures'
    PNGs (draw_figures) when the caller drew them already (the run's process, while a helper
    process writes the PDF); its keys are read first, its PNGs only when the PDF's layout
    reaches them. WeasyPrint is imported for the PDF only."""
    with gc_paused():  # the figures and the HTML too (html_to_pdf pauses it too)
        _write_report(Path(out_dir), findings, sample, figures, lang, step, drawn, parts)


def _write_report(out_dir: Path, findings: Findings | dict, sample: pd.DataFrame, figures: FigureData,
                  lang: str, step, drawn: Mapping[str, bytes] | None, parts: tuple[str, ...]) -> None:
    findings = typed(findings)
    check_font_files()  # a missing font would print blank glyphs silently: fail clearly instead
    templates = resource_dir("templates")
    checklist = load_checklist(findings.methodology)
    period = findings.period or {}
    span = figure_span(period)
    if drawn is None:
        step("drawing the figures")
    pngs = draw_figures(figures, findings.methodology, period, lang) if drawn is None else drawn
    notes = figure_notes(figures, lang, span) if figures is not None else {}

    report = findings.report or {}
    number = str(report.get("number") or "")
    date = str(report.get("date") or period.get("end") or "2000-01-01")  # never the clock
    attachments = {}
    for name in ATTACHED:
        path = out_dir / name
        attachments[name] = (path.read_bytes() if path.is_file()
                             else _fallback(name, findings, sample))
    attachments.update(excluded_attachment(out_dir, findings))
    digests = evidence.digests(attachments)
    view = model.build(findings, sample, checklist, lang)  # once: both HTMLs and the workpaper read it
    if "pdf" in parts:
        from verifier.report.fetcher import FIGURE_SCHEME, SafeFetcher
        from verifier.report.pdf import html_to_pdf

        # The PDF fetches the figures by name from memory through the fetcher, which serves
        # nothing else a submission's text might name; their bytes are read only then (`drawn`
        # may still be waiting for them: verifier.report.helper).
        urls = {name: f"{FIGURE_SCHEME}:{name}.png" for name in pngs}
        fetcher = SafeFetcher(templates, _FigureFiles(pngs), font_dir())
        html = render_html(findings, sample, urls, lang, notes, attached=digests, view=view)
        pdf = html_to_pdf(html, templates.as_uri() + "/", fetcher, number=number, date=date,
                          attachments=attachments, step=step)
        (out_dir / "report.pdf").write_bytes(pdf)
    if "html" in parts:  # report.html carries its figures (it opens anywhere)
        inline = {name: "data:image/png;base64," + base64.b64encode(data).decode("ascii")
                  for name, data in pngs.items()}
        (out_dir / "report.html").write_text(
            render_html(findings, sample, inline, lang, notes, standalone=True, attached=digests, view=view),
            encoding="utf-8")
    if "xlsx" in parts:
        titles = {cid: text(entry["title"], lang) for cid, entry in checklist["checks"].items()}
        ncs = [{**n, "affected_records": findings.result(n["id"]).affected}  # a number in the xlsx
               for n in view["ncs"]]
        write_workpaper(out_dir / "sample.xlsx", sample, titles, lang, date, number, ncs,
                        excluded_records=(findings.excluded or {}).get("records"))


class _FigureFiles(Mapping):
    """NAME.png -> the PNG of figure NAME in `pngs`, looked up only when asked."""

    def __init__(self, pngs: Mapping[str, bytes]):
        self._pngs = pngs

    def __getitem__(self, key: str) -> bytes:
        if not key.endswith(".png") or key[:-4] not in self._pngs:
            raise KeyError(key)
        return self._pngs[key[:-4]]

    def __iter__(self):
        return (f"{name}.png" for name in self._pngs)

    def __len__(self) -> int:
        return len(self._pngs)


def _fallback(name: str, findings: Findings, sample: pd.DataFrame) -> bytes:
    """The evidence file when the caller has not written it (used standalone)."""
    if name == "findings.json":
        return findings.to_json().encode("utf-8")
    return sample.to_csv(index=False).encode("utf-8")
