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
from verifier.report import pdf, render

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
                       lambda out, findings, sample, figures, lang="zh", **_: captured.update(
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
            mp.setattr(pdf, "html_to_pdf", lay_out)  # render imports it when it writes a PDF
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


def _stranded_somewhere(extra_css: str) -> list[int]:
    """Paragraph counts for which a heading followed by a table ends up alone at a page's foot,
    with the report's stylesheet (plus `extra_css`): the heading is pushed down line by line."""
    templates = REPO / "templates"
    found = []
    for n in range(26, 42):
        html = (f'<html><head><link rel="stylesheet" href="report.css"><style>{extra_css}</style></head><body>'
                + "<p>段落</p>" * n + "<h3>3.1 标题</h3>"
                + '<table class="grid"><tr><td>a</td></tr><tr><td>b</td></tr></table>'
                + "<p>后文</p></body></html>")
        pages = weasyprint.HTML(string=html, base_url=templates.as_uri() + "/").render().pages
        for page in pages[:-1]:
            last = None
            for box, ancestors in page_content(page):
                if isinstance(box, (boxes.LineBox, boxes.ReplacedBox)):
                    last = (box, ancestors)
            if last and _is_heading(last[1], last[0]):
                found.append(n)
    return found


def test_the_stranded_heading_check_can_fail_and_the_stylesheet_prevents_it():
    """WeasyPrint honours the stylesheet's `break-after: avoid` on headings: without it the
    same check finds a stranded heading."""
    assert _stranded_somewhere("h3 { break-after: auto; }")
    assert not _stranded_somewhere("")


# ----------------------------------------------------------------- words and numbers on the page
def report_html(runs, name: str, lang: str) -> str:
    run = runs(name)
    return render.render_html(run["findings"], run["sample"], {}, lang)


# Where an ASCII word may stand in the zh report: check ids (small grey monospace beside their
# Chinese titles, span.cid), data as submitted (the sample annex, the examples tables, file
# paths, hashes, the report number, seed, names from the package and its reference files), and
# these symbols, units, standards and file names.
ZH_ALLOWED = {
    "tCO2e", "kgCO2", "kgCO2e", "CO2", "km", "h", "s", "n", "n_bus", "n_metro", "Eb", "EF_baseline", "EF_bus", "EF_metro", "bus_ride_km",
    "daily_cap_bus", "daily_cap_metro", "n_t9", "m_t9", "ISO", "Clopper", "Pearson", "md5",
    "rank", "SHA", "findings", "json", "sample", "csv", "excluded", "xlsx", "PDF", "verifier", "WGS", "GCJ", "BD",
}
LABELS = __import__("re").compile(r"T\d+|NC|CL|B")  # sample tests T1.., NC-01, CL-01, 附录B
DATA_ELEMENTS = (("span", "cid"), ("table", "sample"), ("table", "examples-table"), ("td", "path"),
                 ("td", "hash"), ("td", "report-number"), ("td", "mono"), ("head", None))


def prose(html: str, findings) -> str:
    """The report's own words: the HTML's text without the data elements and without every
    string the package or its reference files supplied."""
    import lxml.html

    root = lxml.html.fromstring(html)
    for tag, cls in DATA_ELEMENTS:
        where = f"[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]" if cls else ""
        for el in root.xpath(f"//{tag}{where}"):
            el.drop_tree()  # its tail (the text after it) stays
    text = root.text_content()
    given = [findings.project.get("name"), findings.applicant.get("name"), findings.applicant.get("uscc"),
             (findings.boundary or {}).get("name"), (findings.boundary or {}).get("source"),
             (findings.boundary or {}).get("licence"), (findings.project or {}).get("boundary"),
             (findings.breakdown or {}).get("districts_source"),
             *[f.get("source") for f in findings.factors or ()],
             *[i.get("path") for i in findings.inputs or ()], findings.tool.get("name"), findings.tool.get("version")]
    for value in sorted((str(v) for v in given if v), key=len, reverse=True):
        text = text.replace(value, " ")
    return __import__("re").sub(r"\b[0-9a-f]{64}\b", " ", text)  # SHA-256 digests are data


@pytest.mark.parametrize("name", list(PACKAGES))
def test_zh_report_prints_no_english(runs, name):
    """No English word in the Chinese report's own words: no option name (--factors), column
    name (order_source, metro_pkm), Python None, SQL or 'contract 第5节'."""
    import re

    text = prose(report_html(runs, name, "zh"), runs(name)["findings"])
    words = sorted({w for w in re.findall(r"[A-Za-z][A-Za-z0-9_]*", text)
                    if w not in ZH_ALLOWED and not LABELS.fullmatch(w)})
    assert not words, " ".join(words)


@pytest.mark.parametrize("name,lang", CASES)
def test_no_python_none_nor_option_names(runs, name, lang):
    import re

    text = prose(report_html(runs, name, lang), runs(name)["findings"])
    assert not re.search(r"\bNone\b|\bnan\b|contract 第", text)
    if lang == "zh":
        assert "--" not in text and "metro_pkm" not in text


@pytest.mark.parametrize("name,lang", CASES)
def test_one_written_form_per_quantity(runs, name, lang):
    """tCO₂e with 4 decimals, pkm with 3, percentages with 2, thousands separators; the unit is
    always tCO<sub>2</sub>e."""
    import re

    html = report_html(runs, name, lang)
    text = re.sub(r"<[^>]+>", "", html.replace("CO<sub>2</sub>", "CO2"))
    pcts = re.findall(r"(?<![\w.])([\d,]+(?:\.\d+)?)%", text)
    assert pcts and all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", p) for p in pcts), pcts
    tco2 = re.findall(r"(-?[\d,]+(?:\.\d+)?)\s*tCO2e", text)
    assert tco2 and all(re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d{4}", v) for v in tco2), tco2
    assert not re.search(r"tCO2(?!e)", text)
    pkm = re.findall(r"(?<![\w.])([\d,]+(?:\.\d+)?)\s*(?:pkm|人公里)", text)
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{3}", v) for v in pkm), pkm
    assert not re.search(r"\d{5,}\s*(条|records?|rides?|trips?)\b", text)  # counts carry separators


def test_a_message_writes_counts_and_pkm_like_the_tables():
    from verifier.checks import REGISTRY

    check = REGISTRY.checks["records.duplicates"]()
    result = check.result("found", affected=12345, pkm=1234.5)
    assert "12,345 条重复记录（1,234.500 人公里）" in result.messages["zh"]
    assert "12,345 repeated record(s) (1,234.500 pkm)" in result.messages["en"]
    result = REGISTRY.checks["reduction.recalculation"]().result(
        "material", reported=1234.5, observed=0.03394, rate=1.0, materiality=0.05)
    assert result.messages["zh"] == ("申报减排量 1,234.5000 tCO2e，复算 0.0339 tCO2e，差异率 100.00% "
                                     "超过实质性水平 5.00%。")


def test_numbers_have_one_form_per_quantity():
    from verifier import numbers

    assert numbers.count(1234567) == "1,234,567"
    assert numbers.pkm(1234.5) == "1,234.500"
    assert numbers.tco2e(0.033912) == "0.0339"
    assert numbers.rate(1.0) == "100.00%" and numbers.rate(0.0495) == "4.95%"
    assert numbers.written(None) == numbers.written(float("nan")) == "—"
    assert numbers.written(2024, "plain") == "2024" and numbers.written(0.05) == "0.05"


def _statement(html: str) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'<p class="statement">(.*?)</p>', html, re.S)[1])).strip()


def test_a_failed_conclusion_states_the_amount_once_the_ncs_are_closed(runs):
    run = runs("transit-wrong-metro-distance")
    verified = f"{run['findings'].recalculation['verified_reduction_tco2']:.4f}"
    zh = _statement(report_html(runs, "transit-wrong-metro-distance", "zh"))
    assert zh.startswith("核证结论：不通过。")
    assert (f"在第4章所列 1 项不符合项关闭（整改并经核证机构确认）后，可核证的减排量为 {verified} tCO2e"
            "（已剔除不合格记录后的复算值，且不高于申报值）。") in zh
    en = _statement(report_html(runs, "transit-wrong-metro-distance", "en"))
    assert en.startswith("Conclusion: fail.")
    assert (f"Once the 1 non-conformities listed in chapter 4 are closed (corrected, and confirmed by "
            f"the verification body), the verifiable reduction is {verified} tCO2e") in en


def test_a_passed_conclusion_is_the_plain_statement(runs):
    run = runs("bike-clean")
    verified = f"{run['findings'].recalculation['verified_reduction_tco2']:.4f}"
    zh = _statement(report_html(runs, "bike-clean", "zh"))
    assert zh.startswith("核证结论：通过。") and zh.endswith(f"产生的碳普惠减排量为 {verified} tCO2e。")
    assert "不符合项" not in zh
    en = _statement(report_html(runs, "bike-clean", "en"))
    assert en.startswith("Conclusion: pass.") and en.endswith(f"is {verified} tCO2e.")
