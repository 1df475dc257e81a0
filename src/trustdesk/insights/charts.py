"""Charts: one code path for the console and the weekly report.

A chart is built from the numbers behind it (the same rows its CSV download holds) as a Vega-Lite spec
with Altair, and rendered to SVG on the server by vl-convert (Vega embedded in the wheel: no browser,
no network, no script on the page). The SVG carries a title and a description for screen readers
(``role="img"``), and every page shows the numbers in a table beside it.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import vl_convert

# The console's palette (web/static/app.css): readable on white, distinguishable without colour names.
PALETTE = ("#2454a6", "#d9822b", "#2e8540", "#a23b72", "#6b6f76", "#0f7b8a", "#b8860b", "#5a3e9b")
# Liberation Sans has Arial's and Helvetica's metrics: the labels vl-convert measures on the server fit the
# same in a browser (Arial, Helvetica) and in the PDF (WeasyPrint finds Liberation Sans itself).
FONT = "'Liberation Sans', Arial, Helvetica, sans-serif"
WIDTH = 560
HEIGHT = 220
MAX_BARS = 15


@dataclass(frozen=True)
class Chart:
    key: str  # names its CSV download
    title: str
    description: str  # what it shows, in words (the SVG's <desc>, and under the chart)
    columns: tuple[str, ...]  # the CSV header
    rows: tuple[tuple[Any, ...], ...]  # the numbers behind the chart, as downloaded
    svg: str = field(repr=False)

    @property
    def empty(self) -> bool:
        return not self.rows


def _config(chart: Any) -> Any:
    return (chart.configure(font=FONT, background="white")
            .configure_axis(labelFontSize=11, titleFontSize=11, labelColor="#333", titleColor="#333",
                            gridColor="#e6e6e6", domainColor="#999")
            .configure_legend(labelFontSize=11, titleFontSize=11, orient="bottom")
            .configure_view(strokeWidth=0)
            .configure_range(category=list(PALETTE)))


def _accessible(svg: str, title: str, description: str) -> str:
    """Give the SVG a role, an accessible name and a description (and no fixed white box around it)."""
    label = html.escape(title, quote=True)
    head = (f'<svg role="img" aria-label="{label}" focusable="false" ')
    svg = re.sub(r"^<svg ", head, svg, count=1)
    inner = f"<title>{html.escape(title)}</title><desc>{html.escape(description)}</desc>"
    return re.sub(r"(<svg[^>]*>)", lambda m: m.group(1) + inner, svg, count=1)


def render(spec: Any, title: str, description: str) -> str:
    return _accessible(_svg(json.dumps(_config(spec).to_dict(), sort_keys=True)), title, description)


@functools.lru_cache(maxsize=512)
def _svg(spec: str) -> str:
    """The SVG of a Vega-Lite spec. The same spec always draws the same picture, and drawing takes
    50-90 ms, so a dashboard reloaded with the same figures draws nothing again."""
    return str(vl_convert.vegalite_to_svg(json.loads(spec)))


def _format(unit: str) -> str:
    return {"ratio": ".0%", "minutes": ",.0f", "score": ".2f", "mean": ".2f"}.get(unit, ",.0f")


def _value_axis(unit: str, values: Sequence[float | None] = ()) -> Any:
    """A value axis; small counts tick at whole numbers only (never "0 1 1" for a count of one: Vega
    would tick at 0.5, and Vega's tickMinStep is not honoured by every renderer)."""
    top = max((v for v in values if v is not None), default=0)
    if unit == "count" and 0 < top <= 5:
        return alt.Axis(format=_format(unit), tickCount=max(1, math.ceil(top)))
    return alt.Axis(format=_format(unit))


def bar(key: str, title: str, rows: Sequence[tuple[str, float | None]], *, value_title: str, unit: str = "count",
        description: str = "", category_title: str = "") -> Chart:
    """Horizontal bars, one per category, largest first as given (at most 15 shown; the CSV has them all)."""
    shown = [{"category": c, "value": v} for c, v in rows[:MAX_BARS] if v is not None]
    text = description or f"{title}: " + "; ".join(f"{c} {_words(v, unit)}" for c, v in rows[:MAX_BARS])
    height = max(60, 22 * len(shown))
    base = alt.Chart(alt.InlineData(values=shown)).encode(
        y=alt.Y("category:N", sort=None, title=category_title or None, axis=alt.Axis(labelLimit=220)),
        x=alt.X("value:Q", title=value_title, axis=_value_axis(unit, [v for _, v in rows[:MAX_BARS]])),
        tooltip=[alt.Tooltip("category:N"), alt.Tooltip("value:Q", format=_format(unit))])
    spec = alt.layer(
        base.mark_bar(color=PALETTE[0]),
        base.mark_text(align="left", dx=3, fontSize=10, color="#333").encode(
            text=alt.Text("value:Q", format=_format(unit))),
    ).properties(width=WIDTH - 220, height=height)
    return Chart(key=key, title=title, description=text, columns=(category_title or "category", value_title),
                 rows=tuple((c, v) for c, v in rows), svg=render(spec, title, text))


def line(key: str, title: str, rows: Sequence[tuple[str, str, float | None]], *, value_title: str,
         unit: str = "count", description: str = "", x_title: str = "day") -> Chart:
    """One line per series over days (``rows``: day, series, value)."""
    points = [{"x": x, "series": s, "value": v} for x, s, v in rows if v is not None]
    series = sorted({s for _, s, _ in rows})
    days = {x for x, _, _ in rows}
    text = description or (f"{title}, {len({x for x, _, _ in rows})} {x_title}s"
                           + (f", {len(series)} series: {', '.join(series)}" if len(series) > 1 else ""))
    encoding: dict[str, Any] = {
        "x": alt.X("x:T", title=x_title, axis=alt.Axis(format="%d %b", labelAngle=0, tickCount={
            "interval": "week" if x_title == "week" else "day", "step": max(1, math.ceil(len(days) / 8))})),
        "y": alt.Y("value:Q", title=value_title, axis=_value_axis(unit, [v for _, _, v in rows])),
        "tooltip": [alt.Tooltip("x:T", title=x_title), alt.Tooltip("series:N"),
                    alt.Tooltip("value:Q", format=_format(unit))],
    }
    if len(series) > 1:
        encoding["color"] = alt.Color("series:N", title=None, sort=series)
        encoding["strokeDash"] = alt.StrokeDash("series:N", title=None, sort=series, legend=None)  # one legend
    spec = (alt.Chart(alt.InlineData(values=points)).mark_line(point=alt.OverlayMarkDef(size=18), color=PALETTE[0])
            .encode(**encoding).properties(width=WIDTH - 80, height=HEIGHT))
    return Chart(key=key, title=title, description=text, columns=(x_title, "series", value_title),
                 rows=tuple(rows), svg=render(spec, title, text))


def grouped_bar(key: str, title: str, rows: Sequence[tuple[str, str, float | None]], *, value_title: str,
                unit: str = "count", description: str = "", category_title: str = "",
                series: Sequence[str] = ()) -> Chart:
    """Horizontal bars, one group per category as given and one bar per series in it (``rows``: category,
    series, value), e.g. this period next to the one before; at most 15 categories shown."""
    categories = list(dict.fromkeys(c for c, _, _ in rows))[:MAX_BARS]
    order = list(series) or list(dict.fromkeys(s for _, s, _ in rows))
    shown = [{"category": c, "series": s, "value": v} for c, s, v in rows if c in categories and v is not None]
    text = description or f"{title}: " + "; ".join(
        f"{c} " + ", ".join(f"{s} {_words(v, unit)}" for cc, s, v in rows if cc == c) for c in categories)
    height = max(60, (10 * len(order) + 8) * len(categories))
    base = alt.Chart(alt.InlineData(values=shown)).encode(
        y=alt.Y("category:N", sort=categories, title=category_title or None, axis=alt.Axis(labelLimit=220)),
        yOffset=alt.YOffset("series:N", sort=order),
        x=alt.X("value:Q", title=value_title, axis=_value_axis(unit, [v for _, _, v in rows])),
        color=alt.Color("series:N", title=None, sort=order, scale=alt.Scale(range=list(PALETTE[:len(order)]))),
        tooltip=[alt.Tooltip("category:N"), alt.Tooltip("series:N"), alt.Tooltip("value:Q", format=_format(unit))])
    spec = alt.layer(
        base.mark_bar(),
        base.mark_text(align="left", dx=3, fontSize=9, color="#333").encode(
            text=alt.Text("value:Q", format=_format(unit))),
    ).properties(width=WIDTH - 220, height=height)
    return Chart(key=key, title=title, description=text,
                 columns=(category_title or "category", "series", value_title), rows=tuple(rows),
                 svg=render(spec, title, text))


def _words(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "ratio":
        return f"{value:.0%}"
    if unit in ("score", "mean"):
        return f"{value:.2f}"
    return f"{value:,.0f}"


def to_csv(chart: Chart) -> str:
    return rows_to_csv(chart.columns, chart.rows)


def rows_to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A header and rows as CSV, numbers as a chart's download writes them (tables beside charts too)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else (round(v, 6) if isinstance(v, float) else v) for v in row])
    return out.getvalue()
