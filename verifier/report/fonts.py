"""The report's fonts, and the preflight that checks the machine can write the report.

The report ships its CJK font: subsets of Noto Sans CJK SC Regular and Bold (OFL 1.1, renamed
"Noto Sans CJK SC Verifier"; see ``verifier/fonts/README.md``) covering GB2312 and every
character of the report's own text, so ``pip install`` alone gives a correct report. WeasyPrint
loads them through ``@font-face`` rules (``font_face_css``), matplotlib through
``fontManager.addfont`` (no font cache involved). The system's "Noto Sans CJK SC" (Debian's
``fonts-noto-cjk``) stays second in every stack, for a submission's rare characters outside the
subset.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
import warnings
from functools import lru_cache
from pathlib import Path

from verifier.errors import EnvironmentFailure
from verifier.resources import package_file

SHIPPED_FAMILY = "Noto Sans CJK SC Verifier"
SHIPPED_MONO_FAMILY = "Noto Sans Mono CJK SC Verifier"  # ASCII and Latin-1 only
SYSTEM_FAMILY = "Noto Sans CJK SC"
# (family, CSS font-weight, file in verifier/fonts/)
FONT_FILES = (
    (SHIPPED_FAMILY, 400, "NotoSansCJKSCVerifier-Regular.otf"),
    (SHIPPED_FAMILY, 700, "NotoSansCJKSCVerifier-Bold.otf"),
    (SHIPPED_MONO_FAMILY, 400, "NotoSansMonoCJKSCVerifier-Regular.otf"),
)
# The CSS font stacks (templates/report.css spells them out; tests compare): shipped first.
CSS_SANS = f'"{SHIPPED_FAMILY}", "{SYSTEM_FAMILY}", sans-serif'
CSS_MONO = f'"{SHIPPED_MONO_FAMILY}", "{SHIPPED_FAMILY}", "{SYSTEM_FAMILY}", monospace'

# The shared libraries WeasyPrint dlopens (weasyprint/text/ffi.py: the first name its list tries
# on each platform); `import weasyprint` raises OSError when one is missing.
_PANGO_LIBS = {
    "gobject": ("libgobject-2.0.so.0", "libgobject-2.0.0.dylib", "libgobject-2.0-0.dll"),
    "pango": ("libpango-1.0.so.0", "libpango-1.0.dylib", "libpango-1.0-0.dll"),
    "harfbuzz": ("libharfbuzz.so.0", "libharfbuzz.0.dylib", "libharfbuzz-0.dll"),
    "fontconfig": ("libfontconfig.so.1", "libfontconfig.1.dylib", "libfontconfig-1.dll"),
    "pangoft2": ("libpangoft2-1.0.so.0", "libpangoft2-1.0.dylib", "libpangoft2-1.0-0.dll"),
}
_HB_SUBSET = ("libharfbuzz-subset.so.0", "libharfbuzz-subset.0.dylib", "libharfbuzz-subset-0.dll")
# apt pulls in the rest (GLib, HarfBuzz, fontconfig) as their dependencies
PANGO_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0"
HB_SUBSET_WARNING = ("warning: libharfbuzz-subset0 not found: the PDF will take 5-8x longer; "
                     "apt-get install libharfbuzz-subset0")

# WeasyPrint warns at import when fontconfig knows no font at all ("Expect ugly output"): the
# report brings its own fonts, so on such a machine the output is right and the line is noise.
warnings.filterwarnings("ignore", r"(No fonts configured in FontConfig|FontConfig cannot load "
                        r"default config file)\. Expect ugly output", UserWarning)


def font_dir() -> Path:
    return package_file("fonts")


def font_paths() -> list[Path]:
    return [font_dir() / name for _, _, name in FONT_FILES]


# -- WeasyPrint ---------------------------------------------------------------------------------
def font_face_css(base: Path) -> str:
    """@font-face rules for the shipped files, their URLs relative to ``base`` (the folder the
    HTML's base_url points at), so the same rules work in a checkout and in the wheel."""
    rules = []
    for family, weight, name in FONT_FILES:
        url = Path(os.path.relpath(font_dir() / name, base)).as_posix()
        rules.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; '
                     f'src: url("{url}"); }}')
    return "\n".join(rules)


# -- matplotlib ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def matplotlib_families() -> tuple[str, ...]:
    """Register the shipped files with matplotlib and return the ``font.family`` list.

    ``addfont`` reads the files directly, so a stale font cache cannot hide them. The system
    family follows as a fallback only when matplotlib knows it (a family it cannot find is a
    stderr warning per figure); the figures' text is ours and covered by the subset, so a stale
    cache that misses the system font costs nothing and is not rebuilt."""
    from matplotlib import font_manager

    for family, _, name in FONT_FILES:
        if family == SHIPPED_FAMILY:
            font_manager.fontManager.addfont(str(font_dir() / name))
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    return (SHIPPED_FAMILY,) + ((SYSTEM_FAMILY,) if SYSTEM_FAMILY in known else ())


# -- preflight ----------------------------------------------------------------------------------
def preflight(write_pdf: bool = True) -> None:
    """Check, before any work, what the report needs from the machine (a few ms, no heavy
    imports: run.py imports WeasyPrint in the background). A missing font file or Pango library
    raises EnvironmentFailure (exit 3); missing HarfBuzz subsetting prints one warning line."""
    if not write_pdf:
        return
    check_font_files()
    check_pango()
    if not harfbuzz_subset_available():
        print(HB_SUBSET_WARNING, file=sys.stderr)


def check_font_files() -> None:
    for path in font_paths():
        problem = _sfnt_problem(path)
        if problem:
            raise EnvironmentFailure(f"report font {path} {problem}",
                                     "reinstall verifier (pip install --force-reinstall verifier)")


_REQUIRED_TABLES = {b"cmap", b"head", b"hhea", b"hmtx", b"maxp", b"name", b"post", b"CFF "}


def _sfnt_problem(path: Path) -> str | None:
    """Why ``path`` is not a loadable CFF OpenType font (None when it is): the table directory
    is read and every table must lie inside the file. Parsing the font with fontTools would take
    ~250 ms; the glyphs themselves are read when the report is drawn."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"OTTO":
                return "is not an OpenType (CFF) font"
            (count,) = struct.unpack_from(">H", head, 4)
            directory = f.read(16 * count)
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if len(directory) < 16 * count:
        return "is truncated"
    tables = set()
    for tag, _, offset, length in struct.iter_unpack(">4sIII", directory):
        if offset + length > size:
            return "is truncated"
        tables.add(tag)
    missing = _REQUIRED_TABLES - tables
    if missing:
        return f"lacks the tables {', '.join(sorted(t.decode() for t in missing))}"
    return None


def _load_library(names: tuple[str, ...]) -> ctypes.CDLL | None:
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def check_pango() -> None:
    """The libraries ``import weasyprint`` loads; a missing one would otherwise surface as an
    OSError when the report is written, after the whole run."""
    for lib, names in _PANGO_LIBS.items():
        if _load_library(names) is None:
            raise EnvironmentFailure(f"the PDF report needs the system library {names[0]} ({lib})",
                                     f"apt-get install {PANGO_PACKAGES}")


def harfbuzz_subset_available() -> bool:
    """WeasyPrint's own test (weasyprint/pdf/fonts.py ``Font.subset``): libharfbuzz-subset
    loads and HarfBuzz is at least 4.1.0; otherwise it subsets with fontTools, 5-8x slower."""
    harfbuzz = _load_library(_PANGO_LIBS["harfbuzz"])
    return (harfbuzz is not None and _load_library(_HB_SUBSET) is not None
            and bool(harfbuzz.hb_version_atleast(4, 1, 0)))
