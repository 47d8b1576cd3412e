"""The printed report's layout, measured on WeasyPrint's laid-out boxes (not on the HTML): nothing
sticks out of the page, no heading is left alone at the foot of a page, every sampled test's
column is on paper. Rendered for real packages (the demo, a transit sample with every test, the
taps sample, the bike sample with points outside Shenzhen) in both languages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import weasyprint
from weasyprint.formatting_structure import boxes

from verifier.pipeline import verify
from verifier.report import render

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {  # name -> verify options (as each sample's expected.yaml names them)
    "bike-clean": {"factors": "factors.yaml"},  # what `verifier demo` verifies
    "transit-wrong-metro-distance": {"factors": "factors.yaml"},
    "transit-taps-clean": {"factors": "factors.yaml", "fares": "fares.yaml"},
    "bike-outside-shenzhen": {"factors": "factors.yaml"},
}
SLACK = 0.5  # CSS px: rounding of the layout


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    """package -> (findings, sample, figure data) of one verify run (the report's inputs)."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            captured = {}
            mp = pytest.MonkeyPatch()
            mp.setattr(render, "write_report",
                       lambda out, findings, sample, figures, lang="zh": captured.update(
                           findings=findings, sample=sample, figures=figures))
            try:
                pkg = REPO / "samples" / name
                opts = {k: pkg / v for k, v in PACKAGES[name].items()}
                verify(pkg, tmp_path_factory.mktemp(name.replace("-", "_")) / "out", seed=7, **opts)
            finally:
                mp.undo()
            cache[name] = captured
        return cache[name]
    return get


@pytest.fixture(scope="module")
def documents(runs, tmp_path_factory):
    """(package, lang) -> the laid-out WeasyPrint document of its report.pdf."""
    cache: dict = {}

    def get(name: str, lang: str) -> weasyprint.Document:
        if (name, lang) not in cache:
            run = runs(name)
            laid = {}

            def lay_out(html, base_url, fetcher, **_):
                laid["doc"] = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render()
                return b""

            mp = pytest.MonkeyPatch()
            mp.setattr(render, "html_to_pdf", lay_out)
            try:
                render.write_report(tmp_path_factory.mktemp("r"), run["findings"], run["sample"],
                                    run["figures"], lang)
            finally:
                mp.undo()
            cache[(name, lang)] = laid["doc"]
        return cache[(name, lang)]
    return get


def walk(box, ancestors=()):
    """(box, its ancestors' boxes) for every box under `box`, in document order."""
    yield box, ancestors
    for child in getattr(box, "children", ()):
        yield from walk(child, (*ancestors, box))


def page_content(page):
    """The page's flowed boxes (the running header and page number in margin boxes left out)."""
    for child in page._page_box.children:
        if not isinstance(child, boxes.MarginBox):
            yield from walk(child)


def describe(box, ancestors) -> str:
    tags = [f"{b.element_tag}.{(b.element.get('class') or '') if b.element is not None else ''}"
            for b in (*ancestors, box) if getattr(b, "element_tag", None)][-4:]
    text = getattr(box, "text", "") or ""
    return " > ".join(tags) + (f" {text[:30]!r}" if text else "")


CASES = [(name, lang) for name in PACKAGES for lang in ("zh", "en")]


@pytest.mark.parametrize("name,lang", CASES)
def test_no_box_is_wider_than_the_page(documents, name, lang):
    """Nothing is cut: every box (tables, cells, words) lies inside the page's content box."""
    outside = []
    for number, page in enumerate(documents(name, lang).pages, start=1):
        pb = page._page_box
        left, right = pb.content_box_x(), pb.content_box_x() + pb.width
        for box, ancestors in page_content(page):
            if not hasattr(box, "border_width") or box.width is None:
                continue
            x0, x1 = box.border_box_x(), box.border_box_x() + box.border_width()
            if x0 < left - SLACK or x1 > right + SLACK:
                outside.append(f"p{number}: {describe(box, ancestors)} [{x0:.0f}, {x1:.0f}] vs [{left:.0f}, {right:.0f}]")
    assert not outside, "\n".join(outside[:12])


def _is_heading(ancestors, box) -> bool:
    return any(getattr(b, "element_tag", None) in ("h2", "h3") for b in (*ancestors, box))


@pytest.mark.parametrize("name,lang", CASES)
def test_no_heading_is_stranded_at_the_foot_of_a_page(documents, name, lang):
    """The last line (or image, or table row) of a page that is followed by another page is
    never a heading's."""
    pages = documents(name, lang).pages
    stranded = []
    for number, page in enumerate(pages[:-1], start=1):
        last = None
        for box, ancestors in page_content(page):
            if isinstance(box, (boxes.LineBox, boxes.ReplacedBox)):
                last = (box, ancestors)
        if last and _is_heading(last[1], last[0]):
            text = "".join(getattr(b, "text", "") for b, _ in walk(last[0]))
            stranded.append(f"page {number}: {text!r}")
    assert not stranded, stranded


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_transit_sample_annex_shows_every_test_column(documents, runs, lang):
    """Each sampled test (T1..Tn) has its column header on paper, inside the page."""
    sample: pd.DataFrame = runs("transit-wrong-metro-distance")["sample"]
    tests = [c for c in sample.columns if "." in c]  # a test column is named by its check id
    assert len(tests) >= 8  # T8 transit.metro_distance included
    shown = set()
    for page in documents("transit-wrong-metro-distance", lang).pages:
        pb = page._page_box
        right = pb.content_box_x() + pb.width
        for box, ancestors in page_content(page):
            in_header = any(getattr(b, "element_tag", None) == "th" for b in ancestors)
            in_annex = any(b.element is not None and "sample" in (b.element.get("class") or "").split()
                           for b in ancestors if getattr(b, "element_tag", None) == "table")
            if isinstance(box, boxes.TextBox) and in_header and in_annex:
                if box.position_x + box.width <= right + SLACK:
                    shown.add(box.text.strip())
    assert {f"T{i}" for i in range(1, len(tests) + 1)} <= shown, sorted(shown)
