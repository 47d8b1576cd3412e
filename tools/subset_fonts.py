"""Build the CJK fonts shipped in ``verifier/fonts/`` from Debian's ``fonts-noto-cjk``.

    python tools/subset_fonts.py [--source /usr/share/fonts/opentype/noto]

Subsets Noto Sans CJK SC Regular and Bold (and Noto Sans Mono CJK SC Regular, Latin only) with
fontTools: CFF outlines kept as they are (OTF), hinting dropped, only the ``kern`` layout feature
kept, and the family renamed (the OFL lets us: Noto has no Reserved Font Name) so that it never
collides with the system's "Noto Sans CJK SC" in fontconfig or matplotlib. Run it again whenever
the report's own text gains a character outside GB2312 (tests/test_fonts.py says so).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "verifier" / "fonts"
SOURCE = Path("/usr/share/fonts/opentype/noto")
SHIPPED_FAMILY = "Noto Sans CJK SC Verifier"
SHIPPED_MONO_FAMILY = "Noto Sans Mono CJK SC Verifier"
# (source collection, font number in it, output file, family, style)
FONTS = (
    ("NotoSansCJK-Regular.ttc", 2, "NotoSansCJKSCVerifier-Regular.otf", SHIPPED_FAMILY, "Regular"),
    ("NotoSansCJK-Bold.ttc", 2, "NotoSansCJKSCVerifier-Bold.otf", SHIPPED_FAMILY, "Bold"),
    ("NotoSansCJK-Regular.ttc", 7, "NotoSansMonoCJKSCVerifier-Regular.otf", SHIPPED_MONO_FAMILY,
     "Regular"),
)
# name IDs kept: copyright, family, style, unique id, full name, version, PostScript name,
# trademark, manufacturer, designer, vendor URL, licence text and licence URL
NAME_IDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14]
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".j2", ".html", ".css", ".md", ".txt", ".json"}
SUBSCRIPT_TWO = 0x2082  # tCO₂: kept when the source font has it


def block_characters() -> set[int]:
    """ASCII, Latin-1, general punctuation, CJK symbols and punctuation, fullwidth forms."""
    ranges = ((0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x3000, 0x303F), (0xFF00, 0xFFEF))
    return {c for lo, hi in ranges for c in range(lo, hi + 1)}


def gb2312_characters() -> set[int]:
    """Every character of GB2312 (the 6,763 hanzi and the symbol rows), by decoding each
    double-byte code."""
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return chars


def repo_characters(repo: Path = REPO) -> set[int]:
    """Every character of the report's own text: templates (i18n YAML included), checklists,
    and the verifier package's Python and YAML files."""
    files = [p for top in ("templates", "checklists") for p in (repo / top).rglob("*")]
    files += [p for p in (repo / "verifier").rglob("*") if "fonts" not in p.parts]
    chars = set()
    for path in files:
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            chars.update(ord(c) for c in path.read_text(encoding="utf-8") if c.isprintable())
    return chars


def wanted_characters(repo: Path = REPO) -> set[int]:
    return block_characters() | gb2312_characters() | repo_characters(repo) | {SUBSCRIPT_TWO}


def _options() -> subset.Options:
    opts = subset.Options()
    opts.layout_features = ["kern"]  # vert and locl off: horizontal Simplified Chinese only
    opts.hinting = False
    opts.desubroutinize = False  # CFF subroutines shrink the file
    opts.name_IDs = NAME_IDS
    opts.name_languages = [0x409]
    opts.notdef_outline = True
    opts.drop_tables += ["VORG", "vhea", "vmtx"]  # vertical metrics: horizontal text only
    return opts


def _rename(font, family: str, style: str) -> None:
    ps = family.replace(" ", "") + "-" + style
    names = {1: family, 2: style, 3: f"{ps};subset", 4: f"{family} {style}", 6: ps}
    table = font["name"]
    table.names = [n for n in table.names if n.platformID == 3]  # Windows names only
    for name_id, value in names.items():
        table.setName(value, name_id, 3, 1, 0x409)
    cff = font["CFF "].cff
    top = cff.topDictIndex[0]
    cff.fontNames = [ps]
    top.FamilyName, top.FullName = family, f"{family} {style}"


def build(source: Path, out: Path) -> dict[str, int]:
    """Write the subsets into ``out``; returns {file name: bytes}."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = wanted_characters()
    # the monospaced face serves hashes, paths and check ids: Latin and punctuation only
    latin = {c for c in wanted if c < 0x2100}
    sizes = {}
    for src, number, name, family, style in FONTS:
        # the source's timestamp kept on save: same input, same bytes
        font = TTCollection(str(source / src), recalcTimestamp=False).fonts[number]
        cmap = font.getBestCmap()
        chars = wanted if family == SHIPPED_FAMILY else latin
        missing = sorted(c for c in repo_characters() if c not in cmap)
        if family == SHIPPED_FAMILY and missing:
            print(f"{name}: not in the source font: {''.join(map(chr, missing))}", file=sys.stderr)
        subsetter = subset.Subsetter(_options())
        subsetter.populate(unicodes=sorted(c for c in chars if c in cmap))
        subsetter.subset(font)
        _rename(font, family, style)
        font.save(str(out / name))
        sizes[name] = (out / name).stat().st_size
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for name, size in build(args.source, args.out).items():
        print(f"{name}: {size:,} bytes")


if __name__ == "__main__":
    main()
