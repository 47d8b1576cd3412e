"""summary.html in a real browser: Debian's headless chromium (/usr/bin/chromium, installed by the
README's set-up line) driven by playwright. The page must load with no console error or warning
and no page error, request nothing outside its folder, sort and filter its filings table, show a
hostile name as text, and link each filing to its own report. A missing chromium is a failure,
never a skip: CI has it."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import sync_playwright

from verifier.batch.pages import write_pages

CHROMIUM = Path("/usr/bin/chromium")
FIXTURE = Path(__file__).parent / "fixtures" / "batch_summary.json"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = 'opB-2024"><img src=x onerror=alert(1)>'
METRO, FORMULA = "opC-2023 metro", "=SUM(1+1)opC-2024"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The fixture summary's page opened in chromium; yields (page, out folder, log)."""
    assert CHROMIUM.is_file(), f"{CHROMIUM} missing: apt-get install chromium (README, Quick start)"
    out = tmp_path_factory.mktemp("batch-out")
    summary = json.loads(FIXTURE.read_text(encoding="utf-8"))
    write_pages(out, summary, "zh")
    log = {"console": [], "errors": [], "requests": [], "dialogs": []}
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")), executable_path=str(CHROMIUM), headless=True,
            args=ARGS, viewport={"width": 1500, "height": 1000})
        try:
            # every request is recorded; one leaving the folder is also stopped, so a failing
            # run cannot reach the network either
            def route(r):
                (r.continue_() if _inside(r.request.url, out) else r.abort())
            context.route("**/*", route)
            context.on("request", lambda req: log["requests"].append(req.url))
            page = context.new_page()
            page.on("console", lambda msg: log["console"].append((msg.type, msg.text)))
            page.on("pageerror", lambda err: log["errors"].append(str(err)))
            page.on("dialog", lambda d: (log["dialogs"].append(d.message), d.dismiss()))
            page.goto((out / "summary.html").as_uri())
            page.wait_for_load_state("load")
            yield page, out, log
        finally:
            context.close()


def _inside(url: str, out: Path) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "file" and Path(unquote(parts.path)).resolve().is_relative_to(out.resolve())


def _names(page) -> list[str]:
    return page.eval_on_selector_all("#filings tbody tr", "rows => rows.map(r => r.dataset.name)")


def _visible(page) -> list[str]:
    return page.eval_on_selector_all(
        "#filings tbody tr", "rows => rows.filter(r => r.offsetParent !== null).map(r => r.dataset.name)")


def test_loads_cleanly_and_fetches_nothing_outside_the_folder(loaded):
    page, out, log = loaded
    page.reload()  # the log then holds a whole load with every listener in place
    page.wait_for_load_state("load")
    assert page.title() == "碳普惠减排量批量核证汇总"
    bad = [(kind, text) for kind, text in log["console"] if kind in ("error", "warning")]
    assert bad == [] and log["errors"] == []
    assert log["requests"], "no request recorded at all: the recorder is broken"
    assert [u for u in log["requests"] if not _inside(u, out)] == []
    # the CSP allows the page's own style and script: a wrong hash would leave the table unsorted
    # and log a console error; the script ran, so the count line is filled in
    assert page.inner_text("#filter-shown") == "显示 6 / 6 份申报"


def test_clicking_the_tco2_header_sorts_numerically_and_a_second_click_reverses(loaded):
    page, _, _ = loaded
    assert _names(page) == ["opA-2023", METRO, FORMULA, "opA-2024", HOSTILE, "opD-broken"]
    header = page.locator('#filings th[data-col="verified_reduction_tco2"]')
    header.click()
    # 7.9 < 12.4012 < 29.8765 < 40.25 < 50.5 (as numbers: text order would put 12.4 before 7.9);
    # the unreadable filing has none and stays last
    assert _names(page) == [HOSTILE, "opA-2023", "opA-2024", METRO, FORMULA, "opD-broken"]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert _names(page) == [FORMULA, METRO, "opA-2024", "opA-2023", HOSTILE, "opD-broken"]
    assert header.get_attribute("aria-sort") == "descending"
    # ties keep their original order: the double-claimed tCO2 is 0 in three filings
    page.locator('#filings th[data-col="double_claimed_tco2"]').click()
    assert _names(page) == ["opA-2023", METRO, FORMULA, HOSTILE, "opA-2024", "opD-broken"]


def test_the_filter_box_and_selects_hide_rows(loaded):
    page, _, _ = loaded
    box = page.locator("#filter-text")
    box.fill("opA")
    assert sorted(_visible(page)) == ["opA-2023", "opA-2024"]
    assert page.inner_text("#filter-shown") == "显示 2 / 6 份申报"
    page.select_option('select[data-filter="status"]', "fail")
    assert _visible(page) == ["opA-2024"]
    box.fill("")
    assert sorted(_visible(page)) == sorted(["opA-2024", HOSTILE])
    page.select_option('select[data-filter="status"]', "")
    page.select_option('select[data-filter="year"]', "2023")
    assert sorted(_visible(page)) == sorted(["opA-2023", METRO])
    box.fill("records.duplicates")  # a failing check id is matched too
    assert _visible(page) == []
    page.select_option('select[data-filter="year"]', "")
    assert _visible(page) == [HOSTILE]
    box.fill("")
    assert len(_visible(page)) == 6


def test_hostile_text_is_shown_as_text(loaded):
    page, _, log = loaded
    assert log["dialogs"] == []
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1  # the page's own
    row = page.locator("#filings tbody tr", has_text="<script>alert(1)</script>")
    assert row.count() == 1
    assert row.locator("td.name").inner_text().splitlines()[0] == HOSTILE
    assert page.locator("#pairs").inner_text().count(HOSTILE) == 1


def test_each_filing_links_to_its_own_report_and_findings(loaded):
    page, out, _ = loaded
    hrefs = page.eval_on_selector_all(  # resolved against the page, as a click would follow them
        "#filings tbody tr", """rows => Object.fromEntries(rows.map(r => [r.dataset.name,
            Array.from(r.querySelectorAll('a'), a => [a.className, a.href])]))""")
    for name in (HOSTILE, METRO, FORMULA, "opA-2023"):
        links = dict(hrefs[name])
        assert set(links) == {"report", "findings"}
        for cls, file in (("report", "report.pdf"), ("findings", "findings.json")):
            parts = urlsplit(links[cls])
            assert parts.scheme == "file" and not parts.query and not parts.fragment
            assert Path(unquote(parts.path)) == out / "filings" / name / file
    assert hrefs["opD-broken"] == []  # unreadable: no report to link


def test_screenshot(loaded, tmp_path):
    page, _, _ = loaded
    page.locator("#filter-text").fill("")
    shot = tmp_path / "summary.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
