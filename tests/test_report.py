"""The verification report: checklists, HTML/PDF rendering, safety, reproducibility, evidence."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from verifier.report.checklist import CONTRACT_CHECK_IDS, applicable_checks, load_checklist
from verifier.report.figures import FigureData

FIXTURES = Path(__file__).parent / "fixtures" / "report"
BIKE, TRANSIT = "shenzhen-bike-sharing", "shenzhen-public-transit"
HAS_POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdffonts") is not None


# ----------------------------------------------------------------------------- fixtures
def load_findings(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}_findings.json").read_text(encoding="utf-8"))


def load_sample(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"{name}_sample.csv", dtype=str, keep_default_na=False)


def _boundary():
    try:
        from verifier.geo.boundary import Boundary
        return Boundary.default().geometry
    except Exception:  # the geo module is another part of the project: a stand-in outline
        return shapely.Polygon([(113.75, 22.45), (114.05, 22.40), (114.62, 22.50),
                                (114.55, 22.80), (114.00, 22.86), (113.76, 22.75)])


def make_figure_data(methodology: str, period=("2024-01-01", "2024-12-31")) -> FigureData:
    """Deterministic synthetic figure inputs (a fixed numpy seed)."""
    rng = np.random.default_rng(11)
    days = pd.date_range(pd.Timestamp(period[0]) - pd.Timedelta(days=1),
                         pd.Timestamp(period[1]) + pd.Timedelta(days=1))
    weekly = 1 + 0.25 * np.sin(np.arange(len(days)) / 7 * 2 * np.pi)
    if methodology == TRANSIT:
        per_mode = pd.concat([
            pd.DataFrame({"date": days.date, "mode": "bus",
                          "records": (3400 * weekly + rng.normal(0, 120, len(days))).astype(int)}),
            pd.DataFrame({"date": days.date, "mode": "metro",
                          "records": (6300 * weekly + rng.normal(0, 200, len(days))).astype(int)})])
        per_mode["excluded"] = 0
        return FigureData(methodology=methodology, per_mode_daily=per_mode, thresholds={})
    geom = _boundary()
    n = 3000
    lon = rng.normal(114.02, 0.09, n)
    lat = rng.normal(22.58, 0.05, n)
    pts = pd.DataFrame({"start_lon": lon, "start_lat": lat,
                        "end_lon": lon + rng.normal(0, 0.01, n), "end_lat": lat + rng.normal(0, 0.01, n)})
    pts["start_inside"] = shapely.contains_xy(geom, pts["start_lon"], pts["start_lat"])
    pts["end_inside"] = shapely.contains_xy(geom, pts["end_lon"], pts["end_lat"])
    edges = np.arange(0, 10.5, 0.5)
    dist = pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:],
                         "records": (40000 * np.exp(-edges[:-1] / 1.6)).astype(int)})
    sedges = np.arange(0, 42, 2)
    speed = pd.DataFrame({"bin_start": sedges[:-1], "bin_end": sedges[1:],
                          "records": (30000 * np.exp(-((sedges[:-1] - 11) / 5) ** 2)).astype(int) + 3})
    daily = pd.DataFrame({"date": days.date, "records": (330 * weekly).astype(int)})
    daily["excluded"] = 0
    daily.loc[0, "excluded"] = 20
    daily.loc[len(daily) - 1, "excluded"] = 17
    daily.loc[0, "records"] = 20
    daily.loc[len(daily) - 1, "records"] = 17
    return FigureData(methodology=methodology, boundary=geom, points=pts, distance_hist=dist,
                      speed_hist=speed, daily=daily,
                      thresholds={"max_speed_kmh": 25, "min_duration_s": 60})


def _write_inputs(out: Path, findings: dict, sample: pd.DataFrame) -> None:
    """What the run has written before the report: findings.json and sample.csv."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "findings.json").write_text(json.dumps(findings, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")
    sample.to_csv(out / "sample.csv", index=False, encoding="utf-8")


class _WeasyLog(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def render(out: Path, name: str, lang: str = "zh", findings: dict | None = None,
           sample: pd.DataFrame | None = None) -> Path:
    """Render a fixture report into ``out``; any WeasyPrint warning (e.g. a font-face that
    'cannot be loaded', an image that failed to load) fails the test."""
    from verifier.report.render import write_report

    findings = findings if findings is not None else load_findings(name)
    sample = sample if sample is not None else load_sample(name)
    _write_inputs(out, findings, sample)
    handler = _WeasyLog()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        write_report(out, findings, sample, make_figure_data(findings["methodology"]), lang)
    finally:
        logger.removeHandler(handler)
    assert not handler.messages, f"WeasyPrint warnings: {handler.messages}"
    return out


@pytest.fixture(scope="module")
def bike_zh(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("bike_zh"), "bike")


@pytest.fixture(scope="module")
def bike_en(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("bike_en"), "bike", "en")


@pytest.fixture(scope="module")
def transit_zh(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("transit_zh"), "transit")


def pdftext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


# ----------------------------------------------------------------------------- checklists
@pytest.mark.parametrize("methodology", [BIKE, TRANSIT])
def test_checklist_titles_every_contract_check_in_both_languages(methodology):
    checklist = load_checklist(methodology)
    assert checklist["methodology"] == methodology
    assert checklist["name"]["zh"] and checklist["name"]["en"]
    assert set(checklist["checks"]) == set(CONTRACT_CHECK_IDS)
    assert len(CONTRACT_CHECK_IDS) == 24
    for cid, entry in checklist["checks"].items():
        for field in ("title", "description", "correction"):
            assert entry[field]["zh"].strip() and entry[field]["en"].strip(), (cid, field)
            assert not re.search(r"[\u4e00-\u9fff]", entry[field]["en"]), (cid, field)


@pytest.mark.parametrize("methodology", [BIKE, TRANSIT])
def test_every_applicable_check_is_answered_by_a_point(methodology):
    checklist = load_checklist(methodology)
    answered = [c for p in checklist["points"] for c in p["checks"]]
    assert set(answered) <= set(CONTRACT_CHECK_IDS)
    assert set(applicable_checks(checklist)) == set(answered)
    for p in checklist["points"]:
        assert p["id"] and p["checks"]
        for field in ("clause", "title", "description"):
            assert p[field]["zh"].strip() and p[field]["en"].strip(), (p["id"], field)


def test_checklist_points_cover_the_methodology():
    bike = [p["id"] for p in load_checklist(BIKE)["points"]]
    assert {"applicability", "boundary", "n_t9", "m_t9", "Eb"} <= set(bike)
    transit = {p["id"] for p in load_checklist(TRANSIT)["points"]}
    assert {"applicability", "period", "bus", "metro", "daily_cap", "factors",
            "recalculation"} <= transit
    transit_na = set(CONTRACT_CHECK_IDS) - set(applicable_checks(load_checklist(TRANSIT)))
    assert {"boundary.geographic", "boundary.crs", "orders.own_only",
            "records.plausibility"} == transit_na
    bike_na = set(CONTRACT_CHECK_IDS) - set(applicable_checks(load_checklist(BIKE)))
    assert {"transit.metro_distance", "transit.daily_cap", "transit.tap_pairing", "transit.fare_band"} == bike_na


def test_fixtures_carry_every_contract_check():
    for name in ("bike", "transit"):
        ids = [c["id"] for c in load_findings(name)["checks"]]
        assert sorted(ids) == sorted(CONTRACT_CHECK_IDS)
    statuses = {c["status"] for c in load_findings("bike")["checks"]}
    assert {"pass", "fail", "warn", "manual", "not_evaluated", "not_applicable"} <= statuses


# ----------------------------------------------------------------------------- the PDF
pytestmark_poppler = pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")


@pytestmark_poppler
def test_report_files_and_chinese_text(bike_zh):
    for name in ("report.html", "report.pdf", "sample.xlsx"):
        assert (bike_zh / name).is_file()
    text = pdftext(bike_zh / "report.pdf")
    for s in ("碳普惠减排量核证报告", "不符合项", "示例单车2024年度骑行碳普惠项目", "深圳市示例单车科技有限公司",
              "核证结论", "不通过", "NC-01", "NC-06", "CL-01", "澄清", "抽样清单", "证据清单", "减排量复算表",
              "SZCV-2025-0012", "第 3 页 共", "核证机构盖章", "10.5923"):
        assert s in text, s
    assert "NC-07" not in text  # one NC per failed check: six in the fixture
    # page numbers: "第 X 页 共 Y 页" with Y the page count
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(bike_zh / "report.pdf")], capture_output=True, text=True).stdout)[1])
    assert f"第 {pages} 页 共 {pages} 页" in text


@pytestmark_poppler
def test_cjk_font_is_embedded(bike_zh):
    out = subprocess.run(["pdffonts", str(bike_zh / "report.pdf")], check=True,
                         capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    cjk = [r for r in rows if r[0].endswith("+Noto-Sans-CJK-SC-Verifier")]  # the shipped subset
    assert cjk, out
    for r in rows:  # columns from the end: object id (2), uni, sub, emb
        assert r[-5] == "yes", out


def test_table_of_contents_and_running_header_are_styled():
    from verifier.resources import resource_dir

    css = (resource_dir("templates") / "report.css").read_text(encoding="utf-8")
    assert "target-counter(attr(href), page)" in css
    assert "string(project)" in css and "string(number)" in css
    assert "display: table-header-group" in css
    # the CJK font is named in every font stack, page margin boxes included
    for decl in re.findall(r"font-family:([^;]+);", css):
        assert "Noto Sans CJK SC" in decl, decl


@pytestmark_poppler
def test_co2_written_with_sub_not_unicode_subscript(bike_zh):
    html = (bike_zh / "report.html").read_text(encoding="utf-8")
    assert "CO<sub>2</sub>" in html
    assert "\u2082" not in html


@pytestmark_poppler
def test_conclusion_box_ticks_the_right_side(bike_zh, tmp_path):
    html = (bike_zh / "report.html").read_text(encoding="utf-8")
    verdict = re.search(r'<p class="verdict">(.*?)</p>', html, re.S)[1]
    assert re.search(r'<span class="box"></span>\s*通过', verdict)
    assert re.search(r'<span class="box gap">✓</span>\s*不通过', verdict)
    findings = load_findings("bike")
    for c in findings["checks"]:  # the conclusion follows from the checks
        c["status"] = "pass" if c["status"] == "fail" else c["status"]
    from verifier.report.render import render_html
    html = render_html(findings, load_sample("bike"), {}, "zh")
    verdict = re.search(r'<p class="verdict">(.*?)</p>', html, re.S)[1]
    assert re.search(r'<span class="box">✓</span>\s*通过', verdict)


@pytestmark_poppler
def test_transit_report_has_per_mode_recalculation(transit_zh):
    text = pdftext(transit_zh / "report.pdf")
    for s in ("示例通2024年度低碳公共出行碳普惠项目", "分方式复算", "公交", "地铁", "每日出行次数上限",
              "NC-03", "1,092.7508"):
        assert s in text, s
    assert "NC-04" not in text


@pytestmark_poppler
def test_english_report_has_no_chinese_section_titles(bike_en):
    from verifier.report.model import strings

    text = pdftext(bike_en / "report.pdf")
    assert "Verification Report on" in text and "Page 3 of" in text
    assert "Non-conformities" in text and "Page 1 of" not in text and "Page 3 of" in text
    flat = re.sub(r"\s+", "", text)
    own = ["示例单车2024年度骑行碳普惠项目", "深圳市示例单车科技有限公司", "深圳市行政区域",
           "深圳市Shenzhen(440300)", "docs/申请表.pdf"]  # the submission's own names (and the boundary's name)
    for name in own:
        flat = flat.replace(name, "")
    for key, entry in strings().items():
        zh = entry["zh"]
        if isinstance(zh, str) and re.search(r"[\u4e00-\u9fff]", zh) and "{" not in zh:
            assert re.sub(r"\s+", "", zh) not in flat, key
    for cid, entry in load_checklist(BIKE)["checks"].items():
        assert entry["title"]["zh"] not in flat, cid
    leftovers = set(re.findall(r"[\u4e00-\u9fff]+", flat))
    assert not leftovers, leftovers


# ----------------------------------------------------------------------------- safety
PASSWD_IMG = '<img src="file:///etc/passwd">'
REMOTE_IMG = '<img src="http://example.com/x.png">'
CSS_ESCAPE = '</style><link rel="stylesheet" href="http://example.com/x.css">'


def _hostile_findings() -> tuple[dict, pd.DataFrame]:
    findings = load_findings("bike")
    findings["applicant"]["name"] = PASSWD_IMG
    findings["project"]["name"] = "恶意项目 " + REMOTE_IMG
    findings["report"]["number"] = CSS_ESCAPE
    findings["inputs"][1]["path"] = "http://example.com/x.png"
    check = next(c for c in findings["checks"] if c["id"] == "orders.own_only")
    check["messages"]["zh"] = "见 " + REMOTE_IMG
    check["examples"] = [{"record_key": PASSWD_IMG}]
    sample = load_sample("bike")
    sample.loc[0, "user_id"] = PASSWD_IMG
    return findings, sample


@pytestmark_poppler
def test_submission_strings_are_printed_as_text_and_nothing_is_fetched(tmp_path, monkeypatch):
    from verifier.report import fetcher as fetcher_mod

    seen: list[str] = []
    original = fetcher_mod.SafeFetcher.fetch

    def spy(self, url, headers=None):
        seen.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(fetcher_mod.SafeFetcher, "fetch", spy)
    findings, sample = _hostile_findings()
    out = render(tmp_path / "hostile", "bike", findings=findings, sample=sample)

    html = (out / "report.html").read_text(encoding="utf-8")
    assert PASSWD_IMG not in html and REMOTE_IMG not in html and CSS_ESCAPE not in html
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    text = pdftext(out / "report.pdf")
    flat = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", PASSWD_IMG) in flat
    assert re.sub(r"\s+", "", REMOTE_IMG) in flat
    assert seen, "the fetcher spy saw nothing: is the report using SafeFetcher?"
    for url in seen:
        assert "passwd" not in url and "example.com" not in url, url
        assert url.startswith(("file://", "verifier-figure:")), url


def test_fetcher_serves_own_assets_and_refuses_everything_else(tmp_path):
    from verifier.report.fetcher import RefusedURL, SafeFetcher
    from verifier.resources import resource_dir

    templates = resource_dir("templates")
    fetcher = SafeFetcher(templates, {"map.png": b"\x89PNG"})
    assert fetcher((templates / "report.css").as_uri()).read().startswith(b"/*")
    assert fetcher("verifier-figure:map.png").read() == b"\x89PNG"
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    for url in ("file:///etc/passwd", "http://example.com/x.png", "https://example.com/x.png",
                "data:text/plain,hello", outside.as_uri(), "verifier-figure:other.png",
                (templates / ".." / "pyproject.toml").as_uri(), "ftp://example.com/x",
                "file://example.com/etc/passwd"):
        with pytest.raises(RefusedURL):
            fetcher(url)
    assert len(fetcher.refused) == 9


def test_html_injection_in_every_template_field_is_escaped():
    from verifier.report.render import render_html

    findings, sample = _hostile_findings()
    findings["boundary"]["source"] = PASSWD_IMG
    findings["factors"][0]["source"] = REMOTE_IMG
    findings["period"]["start"] = "<script>alert(1)</script>"
    for lang in ("zh", "en"):
        html = render_html(findings, sample, {}, lang)
        assert "<img" not in html and "<script" not in html and "<link" not in html.split("</head>")[1]


# ----------------------------------------------------------------------------- reproducibility
def test_rendering_twice_gives_identical_files(tmp_path, bike_zh):
    again = render(tmp_path / "again", "bike")
    for name in ("report.pdf", "report.html", "sample.xlsx"):
        assert (again / name).read_bytes() == (bike_zh / name).read_bytes(), name


def test_pdf_dates_and_identifier_come_from_the_report(bike_zh):
    from pypdf import PdfReader

    reader = PdfReader(bike_zh / "report.pdf")
    meta = reader.metadata
    assert meta["/CreationDate"].startswith("D:20250315")
    assert meta["/ModDate"].startswith("D:20250315")
    raw = (bike_zh / "report.pdf").read_bytes()
    import hashlib
    ident = hashlib.md5(b"SZCV-2025-0012|2025-03-15").hexdigest().encode()
    assert b"/ID [(" + ident in raw or ident in raw


def test_figures_are_deterministic_pngs():
    from verifier.report.figures import render_figures

    data = make_figure_data(BIKE)
    names = ["map", "distance", "speed", "daily"]
    a = render_figures(data, names, "zh", ("2024-01-01", "2024-12-31"))
    b = render_figures(data, names, "zh", ("2024-01-01", "2024-12-31"))
    assert set(a) == set(names) and a == b
    for png in a.values():
        assert png.startswith(b"\x89PNG") and b"Software" not in png and b"matplotlib" not in png


def test_figures_are_opaque_rgb_at_200_dpi():
    """RGB, not RGBA: WeasyPrint then embeds each figure without a soft mask; 200 dpi across the
    16.5 cm text column is 1,299 pixels."""
    from PIL import Image

    from verifier.report.figures import render_figures

    for name, png in render_figures(make_figure_data(BIKE), ["map", "daily"], "zh").items():
        image = Image.open(io.BytesIO(png))
        assert (image.mode, image.width) == ("RGB", 1299), name


def test_gc_paused_restores_the_collector_and_nests():
    import gc

    from verifier.gc_pause import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one leaves it to the outer one
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), gc_paused():
        1 / 0
    assert gc.isenabled()


# ----------------------------------------------------------------------------- evidence
def test_findings_and_sample_are_attached_to_the_pdf(bike_zh):
    from pypdf import PdfReader

    reader = PdfReader(bike_zh / "report.pdf")
    attached = {name: data[0] for name, data in reader.attachments.items()}
    assert set(attached) == {"findings.json", "sample.csv"}
    assert attached["findings.json"] == (bike_zh / "findings.json").read_bytes()
    assert attached["sample.csv"] == (bike_zh / "sample.csv").read_bytes()
    assert b"pdfaid:part" in (bike_zh / "report.pdf").read_bytes() or reader.xmp_metadata


def test_workpaper_has_the_sample_and_confirmation_columns(bike_zh):
    from openpyxl import load_workbook

    sample = load_sample("bike")
    wb = load_workbook(bike_zh / "sample.xlsx")
    ws = wb.active
    header = [c.value for c in ws[1]]
    for col in ("核对结果", "核对人", "核对日期", "备注"):
        assert any(h and h.endswith(col) and h.startswith("现场核对") for h in header), col
    assert header[0] == "序号" and "记录键" in header
    assert ws.freeze_panes == "C2"
    assert ws.max_row == len(sample) + 1
    keys = [ws.cell(row=r, column=2).value for r in range(2, ws.max_row + 1)]
    assert keys == list(sample["record_key"])
    test_col = next(i for i, h in enumerate(header) if h and "sample.completeness" in h)
    results = [ws.cell(row=r, column=test_col + 1).value for r in range(2, ws.max_row + 1)]
    assert results == [{"pass": "符合", "fail": "不符合"}[v] for v in sample["sample.completeness"]]
    confirm = [ws.cell(row=2, column=i + 1).value for i, h in enumerate(header) if h.startswith("现场核对")]
    assert confirm == [None] * 4
    assert wb.properties.created.date().isoformat() == "2025-03-15"
    assert wb.properties.modified.date().isoformat() == "2025-03-15"


def test_sample_annex_lists_every_sampled_record(bike_zh):
    html = (bike_zh / "report.html").read_text(encoding="utf-8")
    annex = html.split('id="sec-annex-sample"')[1].split("</section>")[0]
    for key in load_sample("bike")["record_key"]:
        assert f"<td>{key}</td>" in annex, key
    assert annex.count('class="c res-fail"') == 1


def test_a_font_that_cannot_be_loaded_is_caught_by_the_warning_guard(tmp_path):
    """The guard `render` uses turns WeasyPrint's silent font warning into a failure."""
    import weasyprint

    from verifier.report.fetcher import SafeFetcher
    from verifier.resources import resource_dir

    handler = _WeasyLog()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        html = ('<style>@font-face { font-family: X; src: url("fonts/missing.ttf"); }'
                'p { font-family: X, "Noto Sans CJK SC"; }</style><p>核证报告</p>')
        templates = resource_dir("templates")
        weasyprint.HTML(string=html, base_url=templates.as_uri() + "/",
                        url_fetcher=SafeFetcher(templates)).write_pdf()
    finally:
        logger.removeHandler(handler)
    assert any("cannot be loaded" in m for m in handler.messages), handler.messages
