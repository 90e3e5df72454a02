"""Finding a font with Chinese glyphs for the charts and the PDF.

The route (see ``docs/methodology/report.md``): Debian's ``fonts-noto-cjk`` package installs Noto Sans CJK
(family "Noto Sans CJK SC"); fontconfig makes it visible to WeasyPrint/Pango, and matplotlib finds the same file
through its font manager. Nothing is looked up at import time; the result is cached after the first call.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CJKFont",
    "CJKFontNotFoundError",
    "find_cjk_font",
    "report_font",
    "PREFERRED_CJK_FAMILIES",
    "FONT_PACKAGE",
]

#: the Debian package CI and a fresh machine install for the report's Chinese glyphs
FONT_PACKAGE = "fonts-noto-cjk"

#: families tried in order (simplified-Chinese faces first)
PREFERRED_CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "Source Han Sans CN",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)

# a few ideographs the report's labels use: a face is accepted only when it has them all
_PROBE = "押品评估报告价值专利"


class CJKFontNotFoundError(RuntimeError):
    """No font with Chinese glyphs is installed, so Chinese text would render as boxes."""


@dataclass(frozen=True)
class CJKFont:
    """A font face with Chinese glyphs: its family name (for CSS and matplotlib) and its file."""

    family: str
    path: str

    def css_stack(self) -> str:
        """CSS ``font-family`` value: this family first, then common CJK families, then sans-serif."""
        names = [self.family, *[f for f in PREFERRED_CJK_FAMILIES if f != self.family]]
        return ", ".join(f'"{n}"' for n in names) + ", sans-serif"

    def matplotlib_families(self) -> list[str]:
        """Family list for matplotlib (CJK first, DejaVu Sans as fallback for symbols)."""
        return [self.family, "DejaVu Sans"]


def _has_glyphs(path: str) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        charmap = FT2Font(path).get_charmap()
    except Exception:  # unreadable file: not a candidate
        return False
    return all(ord(ch) in charmap for ch in _PROBE)


def _from_matplotlib() -> CJKFont | None:
    from matplotlib import font_manager

    by_name: dict[str, str] = {}
    for entry in font_manager.fontManager.ttflist:
        if entry.style == "normal" and entry.weight in (400, "normal", "regular"):
            by_name.setdefault(entry.name, entry.fname)
    for fam in PREFERRED_CJK_FAMILIES:
        path = by_name.get(fam)
        if path and Path(path).exists() and _has_glyphs(path):
            return CJKFont(fam, path)
    return None


def _fontconfig_candidates() -> list[tuple[int, str, str]]:
    """Faces fontconfig lists as covering Chinese (``fc-list :lang=zh-cn``): ``(rank, family, file)``, best first."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, ":lang=zh-cn", "file", "family"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    candidates: list[tuple[int, str, str]] = []
    for line in out.splitlines():
        path, _, families = line.partition(":")
        names = [f.strip() for f in families.split(",") if f.strip()]
        for name in names:
            rank = (
                PREFERRED_CJK_FAMILIES.index(name)
                if name in PREFERRED_CJK_FAMILIES
                else len(PREFERRED_CJK_FAMILIES)
            )
            candidates.append((rank, name, path.strip()))
    return sorted(candidates)


def _from_fontconfig() -> CJKFont | None:
    """Ask fontconfig (``fc-list``) for a Chinese face and register its file with matplotlib."""
    candidates = _fontconfig_candidates()
    if not candidates:
        return None
    from matplotlib import font_manager

    for _, name, path in candidates:
        if Path(path).exists() and _has_glyphs(path):
            font_manager.fontManager.addfont(path)  # makes the family known to matplotlib (stale cache)
            known = {e.name for e in font_manager.fontManager.ttflist if e.fname == path}
            return CJKFont(name if name in known else sorted(known)[0] if known else name, path)
    return None


@functools.lru_cache(maxsize=1)
def report_font() -> CJKFont:
    """The font face for the report's CSS (the HTML and the PDF), found without loading matplotlib.

    Asks fontconfig, which WeasyPrint uses to find the face (its ``:lang=zh-cn`` coverage stands for the glyph
    check); without fontconfig, or with no Chinese face known to it, this is :func:`find_cjk_font`.

    Raises
    ------
    CJKFontNotFoundError
        As :func:`find_cjk_font`.
    """
    for _, name, path in _fontconfig_candidates():
        if Path(path).exists():
            return CJKFont(name, path)
    return find_cjk_font()


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> CJKFont:
    """Return an installed font face with Chinese glyphs.

    Looks in matplotlib's font list first, then asks fontconfig (and registers the file with matplotlib, which
    covers a font cache built before the font was installed).

    Raises
    ------
    CJKFontNotFoundError
        When no face with Chinese glyphs is installed; the message names the Debian package to install.
    """
    font = _from_matplotlib() or _from_fontconfig()
    if font is None:
        raise CJKFontNotFoundError(
            "No font with Chinese glyphs was found, so Chinese text in the report would render as empty boxes. "
            f"Install one, e.g. on Debian/Ubuntu: `apt-get install -y {FONT_PACKAGE}` "
            "(any of these families also works: " + ", ".join(PREFERRED_CJK_FAMILIES[:6]) + ")."
        )
    return font
