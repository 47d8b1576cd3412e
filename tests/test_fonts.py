"""The shipped CJK font (verifier/fonts/) and the preflight that checks fonts and libraries."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fontTools.ttLib import TTFont

from conftest import REPO
from verifier.errors import EnvironmentFailure
from verifier.report import fonts

sys.path.insert(0, str(REPO / "tools"))
import subset_fonts  # noqa: E402

HAS_POPPLER = all(shutil.which(t) for t in ("pdffonts", "pdftoppm"))
SAMPLE = REPO / "samples" / "bike-clean"
REBUILD = "run tools/subset_fonts.py to rebuild the shipped fonts"


def cmap(name: str) -> dict[int, str]:
    return TTFont(fonts.font_dir() / name, lazy=True).getBestCmap()


def shipped_sans() -> list[str]:
    return [name for family, _, name in fonts.FONT_FILES if family == fonts.SHIPPED_FAMILY]


# -- the subset ---------------------------------------------------------------------------------
def test_gb2312_enumeration_yields_its_6763_hanzi():
    hanzi = [c for c in subset_fonts.gb2312_characters() if 0x4E00 <= c <= 0x9FFF]
    assert len(hanzi) == 6763
    assert {ord(c) for c in "核证报告碳普惠深圳"} <= set(hanzi)


@pytest.mark.parametrize("name", shipped_sans())
def test_subset_covers_gb2312_blocks_and_the_reports_own_text(name):
    covered = cmap(name)
    gaps = subset_fonts.gb2312_characters() - covered.keys()
    assert not gaps, f"{len(gaps)} GB2312 characters missing; {REBUILD}"
    # the report's own text: templates (i18n included), checklists, the package's strings
    own = subset_fonts.repo_characters()
    assert ord("核") in own and ord("（") in own
    gaps = "".join(sorted(chr(c) for c in own - covered.keys()))
    assert not gaps, f"not in {name}: {gaps!r}; {REBUILD}"
    for lo, hi in ((0x20, 0x7E), (0xA0, 0xFF), (0x3001, 0x3011), (0xFF01, 0xFF5E)):
        assert set(range(lo, hi + 1)) <= covered.keys(), (name, hex(lo))


def test_shipped_files_are_small_and_renamed():
    sizes = {name: (fonts.font_dir() / name).stat().st_size for _, _, name in fonts.FONT_FILES}
    assert sum(sizes.values()) < 6_000_000, sizes
    for family, weight, name in fonts.FONT_FILES:
        font = TTFont(fonts.font_dir() / name, lazy=True)
        assert font.sfntVersion == "OTTO"  # CFF outlines
        assert font["name"].getDebugName(1) == family  # never the system family's name
        assert font["OS/2"].usWeightClass == weight
        assert "vert" not in str(font["GSUB"].table.FeatureList.FeatureRecord)
    assert (fonts.font_dir() / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE") == 1


# -- CSS and matplotlib -------------------------------------------------------------------------
def test_every_css_stack_puts_the_shipped_family_first():
    from verifier.resources import resource_dir

    css = (resource_dir("templates") / "report.css").read_text(encoding="utf-8")
    stacks = [d.strip() for d in re.findall(r"font-family:([^;]+);", css)]
    assert len(stacks) >= 5
    assert set(stacks) == {fonts.CSS_SANS, fonts.CSS_MONO}, stacks
    assert fonts.CSS_SANS.startswith(f'"{fonts.SHIPPED_FAMILY}", "{fonts.SYSTEM_FAMILY}"')


def test_font_face_urls_resolve_to_the_shipped_files_from_the_base():
    from verifier.resources import resource_dir

    base = resource_dir("templates")
    urls = re.findall(r'url\("([^"]+)"\)', fonts.font_face_css(base))
    assert [(base / u).resolve() for u in urls] == [p.resolve() for p in fonts.font_paths()]


def test_matplotlib_finds_the_shipped_font_despite_a_stale_cache(monkeypatch):
    """A font cache written before any CJK font was installed (the issue's case): the shipped
    files are registered directly, so figures still get them, and the absent system family is
    left out of font.family (no 'findfont: Font family not found' line per figure)."""
    from matplotlib import font_manager

    fm = font_manager.fontManager
    stale = [entry for entry in fm.ttflist if "CJK" not in entry.name]
    monkeypatch.setattr(fm, "ttflist", stale)
    fm._findfont_cached.cache_clear()
    try:
        families = fonts.matplotlib_families.__wrapped__()  # not the process-wide cached answer
        assert families == (fonts.SHIPPED_FAMILY,)
        bold = font_manager.FontProperties(family=list(families), weight="bold")
        assert Path(fm.findfont(bold, fallback_to_default=False)).name == \
            "NotoSansCJKSCVerifier-Bold.otf"
    finally:
        fm._findfont_cached.cache_clear()
    assert fonts.matplotlib_families()[0] == fonts.SHIPPED_FAMILY


# -- preflight ----------------------------------------------------------------------------------
def verify_cli(tmp_path, *extra):
    from verifier.cli import main

    args = ["verify", str(SAMPLE), "--out", str(tmp_path / "out"), "--factors",
            str(SAMPLE / "factors.yaml"), "--seed", "7", *extra]
    return CliRunner().invoke(main, args)


def test_sfnt_check_names_the_problem(tmp_path):
    good = fonts.font_paths()[0]
    assert fonts._sfnt_problem(good) is None
    (tmp_path / "cut.otf").write_bytes(good.read_bytes()[:200_000])
    (tmp_path / "text.otf").write_text("not a font")
    assert fonts._sfnt_problem(tmp_path / "cut.otf") == "is truncated"
    assert fonts._sfnt_problem(tmp_path / "text.otf") == "is not an OpenType (CFF) font"
    assert fonts._sfnt_problem(tmp_path / "absent.otf").startswith("cannot be read")


def test_missing_shipped_font_is_one_line_exit_3_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "font_dir", lambda: tmp_path / "nowhere")
    result = verify_cli(tmp_path)
    assert result.exit_code == 3, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: report font ") and "NotoSansCJKSCVerifier-Regular.otf" in lines[0]
    assert "cannot be read" in lines[0] and "reinstall verifier" in lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_pango_is_one_line_exit_3_naming_the_packages(tmp_path, monkeypatch):
    monkeypatch.setitem(fonts._PANGO_LIBS, "pango", ("libpango-absent.so.0",))
    result = verify_cli(tmp_path)
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        "error: the PDF report needs the system library libpango-absent.so.0 (pango); "
        "apt-get install libpango-1.0-0 libpangoft2-1.0-0"]
    assert not (tmp_path / "out").exists()


def test_harfbuzz_subset_detection_matches_this_machine():
    assert fonts.harfbuzz_subset_available() is True  # libharfbuzz-subset0 is installed here
    assert fonts._load_library(fonts._HB_SUBSET) is not None


def test_missing_harfbuzz_subset_is_one_warning_line_and_the_run_succeeds(tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "harfbuzz_subset_available", lambda: False)
    result = verify_cli(tmp_path, "--quiet")  # no progress lines: a warning prints all the same
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [fonts.HB_SUBSET_WARNING]
    assert (tmp_path / "out" / "report.pdf").is_file()


def test_preflight_is_cheap_and_skipped_without_a_pdf(monkeypatch):
    # Cheap: it parses no font and imports none of the report's heavy libraries (its cost is in
    # bench/, not asserted here as a time).
    probe = ("import sys; from verifier.report.fonts import preflight; preflight(); "
             "print(sorted(m for m in ('weasyprint', 'fontTools', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    monkeypatch.setattr(fonts, "font_dir", lambda: Path("/nowhere"))
    fonts.preflight(write_pdf=False)  # no report, nothing to check
    with pytest.raises(EnvironmentFailure):
        fonts.preflight()


# -- a machine without any system font ----------------------------------------------------------
def _dark_pixels(png: Path, box: tuple[float, float, float, float]) -> int:
    """Pixels darker than mid-grey inside ``box`` (fractions of width and height)."""
    from matplotlib.image import imread

    img = imread(png)[..., :3].mean(axis=2)
    h, w = img.shape
    x0, y0, x1, y1 = box
    return int((img[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)] < 0.5).sum())


@pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")
def test_report_is_correct_with_no_system_fonts(tmp_path):
    empty = tmp_path / "nofonts"
    empty.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
                    f"<fontconfig><dir>{empty}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir>"
                    f"</fontconfig>", encoding="utf-8")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf),
           "MPLCONFIGDIR": str(tmp_path / "mpl")}
    assert subprocess.run(["fc-list"], env=env, capture_output=True, text=True).stdout == ""
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "verifier", "verify", str(SAMPLE), "--out", str(out),
                        "--factors", str(SAMPLE / "factors.yaml"), "--seed", "7"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for noise in ("Expect ugly output", "findfont", "Traceback"):  # WeasyPrint, matplotlib
        assert noise not in r.stderr, r.stderr
    listing = subprocess.run(["pdffonts", str(out / "report.pdf")], check=True, capture_output=True,
                             text=True).stdout
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    assert any(row[0].endswith("+Noto-Sans-CJK-SC-Verifier") for row in rows), listing
    assert all(row[-5] == "yes" for row in rows), listing  # every font embedded
    # page 1: the title (碳普惠减排量核证报告) is drawn, not blank boxes or nothing
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(out / "report.pdf"),
                    str(tmp_path / "page")], check=True)
    (page,) = tmp_path.glob("page*.png")
    title_band = (0.15, 0.15, 0.85, 0.32)
    assert _dark_pixels(page, title_band) > 500
