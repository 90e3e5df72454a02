"""A small SVG writer for the report's charts: axes with ticks, bars, points, lines, text.

The report draws its charts as SVG text (no matplotlib in the report's path, about a hundred times faster than
drawing and encoding PNGs): the browser and WeasyPrint lay the text out with the report's CJK font, so the
glyphs are the ones the tables use. Text widths, needed only for the margins, are estimated from the characters
(an ideograph is one em wide, a Latin letter or digit about 0.6 em).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

__all__ = ["Svg", "Scale", "nice_ticks", "text_width", "svg_uri", "pct_label", "SCALE_UP"]

#: pixels of the SVG's width and height per unit (point) of its view box: the charts keep the size in pixels their
#: 150-dpi PNGs had, and the text its size in points relative to the chart
SCALE_UP = 150 / 72
_WIDE = re.compile(
    r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)
_NARROW = set(" .,:;'!|()[]ilj1-")


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` at font size ``size`` (view-box units): wide characters 1 em, others ~0.6 em."""
    em = 0.0
    for ch in text:
        em += 1.0 if _WIDE.match(ch) else 0.33 if ch in _NARROW else 0.6
    return em * size


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi, lo = (hi + 1.0, lo - 1.0) if hi == 0 else (hi + abs(hi) * 0.1, lo - abs(lo) * 0.1)
    raw = (hi - lo) / max(n, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw * (1 - 1e-9))
    first = math.floor(lo / step + 1e-9)
    last = max(math.ceil(hi / step - 1e-9), first + 1)
    return [round(k * step, 12) + 0.0 for k in range(first, last + 1)]


def pct_label(v: float, step: float = 0.1) -> str:
    """A share as a percentage label, with a decimal only when the tick step needs one (0.25 -> '25%')."""
    digits = 0 if abs(step) * 100 >= 1 - 1e-9 else 1
    return f"{v * 100:.{digits}f}%"


def svg_uri(svg: str) -> str:
    """The SVG document as a ``data:`` URI (base64, so that any character of a label is safe in HTML)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Scale:
    """A linear map from data values ``[d0, d1]`` to pixels ``[p0, p1]`` (``p1 < p0`` for a y axis)."""

    d0: float
    d1: float
    p0: float
    p1: float

    def __call__(self, v: float) -> float:
        span = self.d1 - self.d0
        return self.p0 + (v - self.d0) / span * (self.p1 - self.p0) if span else self.p0


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _attrs(attrs: dict[str, Any]) -> str:
    return " ".join(
        f"{k}={quoteattr(_n(v) if isinstance(v, float | int) else str(v))}" for k, v in attrs.items()
    )


@dataclass
class Svg:
    """An SVG document in view-box units, built shape by shape; :meth:`render` gives the text.

    Shapes of one style (bars of one colour, grid lines, dots) become one ``<path>``, drawn in the order its
    style first appeared (few elements: WeasyPrint draws a PDF's SVG node by node); texts are drawn last, on top.
    """

    width: float
    height: float
    font: str = "sans-serif"
    layers: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)

    def _add(self, style: dict[str, Any], d: str, *, alone: bool = False) -> None:
        key = (len(self.layers) if alone else -1, tuple(sorted(style.items())))
        self.layers.setdefault(key, []).append(d)

    def rect(
        self, x: float, y: float, w: float, h: float, fill: str, *, alone: bool = False, **attrs: Any
    ) -> None:
        """A rectangle (``alone``: drawn on its own, over everything before it, e.g. a legend's box)."""
        x, w = (x + w, -w) if w < 0 else (x, w)
        y, h = (y + h, -h) if h < 0 else (y, h)
        self._add({"fill": fill, **attrs}, f"M{_n(x)} {_n(y)}h{_n(w)}v{_n(h)}h{_n(-w)}z", alone=alone)

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        stroke: str,
        width: float = 1.0,
        *,
        alone: bool = False,
        **attrs: Any,
    ) -> None:
        style = {"fill": "none", "stroke": stroke, "stroke-width": width, **attrs}
        self._add(style, f"M{_n(x1)} {_n(y1)}L{_n(x2)} {_n(y2)}", alone=alone)

    def circle(self, x: float, y: float, r: float, fill: str, **attrs: Any) -> None:
        d = f"M{_n(x - r)} {_n(y)}a{_n(r)} {_n(r)} 0 1 0 {_n(2 * r)} 0a{_n(r)} {_n(r)} 0 1 0 {_n(-2 * r)} 0z"
        self._add({"fill": fill, **attrs}, d)

    def polygon(self, points: Iterable[tuple[float, float]], **attrs: Any) -> None:
        """A closed polygon, drawn on its own (over what came before it)."""
        d = "M" + "L".join(f"{_n(x)} {_n(y)}" for x, y in points) + "z"
        self._add(attrs, d, alone=True)

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float = 8.0,
        anchor: str = "start",
        middle: bool = False,
        rotate: float = 0.0,
        **attrs: Any,
    ) -> None:
        """A text whose baseline starts (ends, centres: ``anchor``) at ``(x, y)``; ``middle`` centres it on ``y``."""
        if middle:
            y += 0.35 * size
        if rotate:
            attrs["transform"] = f"rotate({_n(rotate)} {_n(x)} {_n(y)})"
        a = _attrs({"x": x, "y": y, "font-size": size, "text-anchor": anchor, **attrs})
        self.texts.append(f"<text {a}>{escape(text)}</text>")

    def render(self) -> str:
        w, h = self.width, self.height
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(w * SCALE_UP)}" height="{_n(h * SCALE_UP)}" '
            f'viewBox="0 0 {_n(w)} {_n(h)}" font-family={quoteattr(self.font)} fill="#1b1b1b">'
            f'<rect width="{_n(w)}" height="{_n(h)}" fill="#ffffff"/>'
            + "".join(f'<path {_attrs(dict(key[1]))} d="{"".join(ds)}"/>' for key, ds in self.layers.items())
            + "".join(self.texts)
            + "</svg>"
        )

    # ---------------------------------------------------------------------------------------------- axes
    def title(self, text: str) -> None:
        bold: dict[str, Any] = {"font-weight": "bold"}
        self.text(self.width / 2, 16, text, size=10, anchor="middle", **bold)

    def value_axis(
        self,
        scale: Scale,
        ticks: Sequence[float],
        fmt: Callable[[float], str],
        *,
        vertical: bool,
        across: tuple[float, float],
        grid: bool = True,
    ) -> None:
        """Ticks, labels and grid lines of a numeric axis; ``across`` is the plot's extent across the axis."""
        for t in ticks:
            p = scale(t)
            if vertical:
                if grid:
                    self.line(across[0], p, across[1], p, "#d9d9d9", 0.6)
                self.line(across[0] - 3, p, across[0], p, "#333333", 0.8)
                self.text(across[0] - 5, p, fmt(t), size=7, anchor="end", middle=True)
            else:
                if grid:
                    self.line(p, across[0], p, across[1], "#d9d9d9", 0.6)
                self.line(p, across[1], p, across[1] + 3, "#333333", 0.8)
                self.text(p, across[1] + 12, fmt(t), size=7, anchor="middle")

    def frame(self, left: float, top: float, right: float, bottom: float) -> None:
        """The plot area's left and bottom spines."""
        self.line(left, bottom, right, bottom, "#333333", 0.8)
        self.line(left, top, left, bottom, "#333333", 0.8)

    def note(self, text: str) -> None:
        """A centred grey note where there is nothing to draw."""
        self.text(self.width / 2, self.height / 2, text, size=9, anchor="middle", middle=True, fill="#8c8c8c")

    def legend(self, x: float, y: float, entries: Sequence[tuple[str, str, bool]]) -> None:
        """Line entries ``(colour, label, dashed)`` stacked from ``(x, y)`` down, with a white box behind them."""
        w = max(text_width(t, 7) for _, t, _ in entries) + 30
        box: dict[str, Any] = {"stroke": "#cccccc", "stroke-width": 0.6}
        self.rect(x, y - 4, w, 12 * len(entries) + 4, "#ffffff", alone=True, **box)
        for i, (color, label, dashed) in enumerate(entries):
            yy = y + 4 + 12 * i
            extra = {"stroke-dasharray": "4 2"} if dashed else {}
            self.line(x + 4, yy, x + 20, yy, color, 1.5, alone=True, **extra)
            self.text(x + 24, yy, label, size=7, middle=True)
