"""Server-side SVG charts: geometry computed here, drawn by plain templates
(templates/reports/partials/_bar_chart.html, _line_chart.html).

No JavaScript and no library: the SVG is part of the page, prints as it is
shown, carries its own <title>/<desc> for screen readers, and every bar or
point has a text label, so the chart still reads in black and white."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# Colour-blind-safe palette (Okabe-Ito), distinguishable when printed in grey too.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

WIDTH = 760
LEFT = 56
RIGHT = 30
TOP = 16
BOTTOM = 64


def nice_ceiling(value: float) -> float:
    """The smallest 1/2/5 x 10^n at or above `value` (at least 1), for the y axis top."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # the tooltip and the text a screen reader gets
    value_label: str = ""

    inside: bool = False  # a stacked segment: its value sits inside it, in white

    @property
    def text_x(self) -> float:
        return self.x + self.width / 2

    @property
    def text_y(self) -> float:
        return self.y + self.height / 2 + 4 if self.inside else self.y - 3

    @property
    def text_colour(self) -> str:
        return "#fff" if self.inside else "#111"


@dataclass
class Chart:
    """Everything a template needs to draw one chart."""

    title: str
    desc: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    y_label: str
    ticks: list[Tick] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    rects: list[Rect] = field(default_factory=list)
    points: str = ""  # polyline points for a line chart
    dots: list[tuple[float, float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = False

    @property
    def legend_items(self) -> list[tuple[float, float, str, str]]:
        """Legend entries with their x position (one row under the x labels)."""
        x = self.plot_left
        items = []
        for name, colour in self.legend:
            items.append((x, x + 16, name, colour))
            x += 24 + 7.5 * len(name)
        return items

    @property
    def legend_y(self) -> float:
        return self.height - 12

    @property
    def tick_x(self) -> float:
        return self.plot_left - 6

    @property
    def x_label_y(self) -> float:
        return self.plot_bottom + 16

    @property
    def y_label_pos(self) -> tuple[float, float]:
        return 14, (self.plot_top + self.plot_bottom) / 2

    @property
    def centre(self) -> tuple[float, float]:
        return self.width / 2, (self.plot_top + self.plot_bottom) / 2


def axis_top(value: float) -> tuple[float, float]:
    """A round top for the y axis and the step between its (at most 5) ticks:
    4 -> (4, 1), 403 -> (600, 200), 0.4 -> (0.4, 0.1)."""
    step = nice_ceiling(value / 4) if value > 0 else 1
    top = step * max(1, math.ceil(round(value / step, 9)))
    return top, step


def _axes(top_value: float, step: float, plot_top: float, plot_bottom: float) -> list[Tick]:
    ticks = []
    n = round(top_value / step)
    for i in range(n + 1):
        value = step * i
        y = plot_bottom - (plot_bottom - plot_top) * i / n
        ticks.append(Tick(y, _fmt(round(value, 6))))
    return ticks


def bar_chart(
    *,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    y_label: str,
    stacked: bool = False,
    height: int = 300,
    width: int = WIDTH,
    value_suffix: str = "",
) -> Chart:
    """Vertical bars per category: grouped side by side, or stacked."""
    plot_top, plot_bottom = TOP, height - BOTTOM
    plot_left, plot_right = LEFT, width - RIGHT
    chart = Chart(title, desc, width, height, plot_left, plot_right, plot_top, plot_bottom, y_label)
    if not categories or not series:
        chart.empty = True
        return chart
    if stacked:
        top_value = max(sum(s[1][i] for s in series) for i in range(len(categories)))
    else:
        top_value = max((max(values, default=0) for _n, values in series), default=0)
    if top_value <= 0:
        chart.empty = True
    top_value, tick_step = axis_top(top_value)
    chart.ticks = _axes(top_value, tick_step, plot_top, plot_bottom)
    slot = (plot_right - plot_left) / len(categories)
    group = slot * 0.7
    bar = group if stacked else group / len(series)
    scale = (plot_bottom - plot_top) / top_value
    # Label every category when they fit, else every n-th one.
    every = max(1, math.ceil(len(categories) * 60 / (plot_right - plot_left)))
    for i, category in enumerate(categories):
        x0 = plot_left + slot * i + (slot - group) / 2
        if i % every == 0:
            chart.x_labels.append((plot_left + slot * i + slot / 2, category))
        base = plot_bottom
        for s_index, (name, values) in enumerate(series):
            value = values[i]
            h = value * scale
            colour = PALETTE[s_index % len(PALETTE)]
            label = f"{category}: {name} {_fmt(value)}{value_suffix}"
            if stacked:
                rect = Rect(x0, base - h, bar, h, colour, label, inside=True)
                base -= h
            else:
                rect = Rect(x0 + bar * s_index, plot_bottom - h, bar, h, colour, label)
            # Value text on the bar when there is room for it.
            if value and bar >= 14 and (not stacked or h >= 12):
                rect.value_label = _fmt(value)
            chart.rects.append(rect)
    if len(series) > 1:
        chart.legend = [(name, PALETTE[i % len(PALETTE)]) for i, (name, _v) in enumerate(series)]
    return chart


def line_chart(
    *,
    title: str,
    desc: str,
    points: Sequence[tuple[str, float]],
    y_label: str,
    height: int = 280,
) -> Chart:
    """One series over time: a polyline with a dot and a label per point."""
    plot_top, plot_bottom = TOP, height - BOTTOM
    plot_left, plot_right = LEFT, WIDTH - RIGHT
    chart = Chart(title, desc, WIDTH, height, plot_left, plot_right, plot_top, plot_bottom, y_label)
    if not points:
        chart.empty = True
        return chart
    top_value, tick_step = axis_top(max(v for _l, v in points))
    chart.ticks = _axes(top_value, tick_step, plot_top, plot_bottom)
    n = len(points)
    step = (plot_right - plot_left) / max(1, n - 1) if n > 1 else 0
    scale = (plot_bottom - plot_top) / top_value
    every = max(1, math.ceil(n * 70 / (plot_right - plot_left)))
    coords = []
    for i, (label, value) in enumerate(points):
        x = plot_left + step * i if n > 1 else (plot_left + plot_right) / 2
        y = plot_bottom - value * scale
        coords.append(f"{x:.1f},{y:.1f}")
        chart.dots.append((x, y, f"{label}: {_fmt(value)}"))
        if i % every == 0:
            chart.x_labels.append((x, label))
    chart.points = " ".join(coords)
    return chart


# --- The charts of each report ---------------------------------------------


def posture_charts(posture) -> dict[str, Chart]:
    envs = posture.environments
    crits = posture.criticalities
    by_key = {(c.environment, c.criticality): c.with_security for c in posture.cells}
    by_env = bar_chart(
        title="Servers with pending security updates, by environment and criticality",
        desc=(
            f"{posture.with_security_total} of {posture.servers_total} servers have pending "
            "security updates. Stacked bars per environment, one segment per criticality."
        ),
        categories=[label for _v, label in envs],
        series=[(label, [by_key.get((env, crit), 0) for env, _l in envs]) for crit, label in crits],
        y_label="servers",
        stacked=True,
    )
    points = sample_points_for_chart(posture.trend)
    trend = line_chart(
        title="Pending security updates in the fleet over time",
        desc=(
            "Sum over all servers of the security updates their latest update listing "
            f"showed, per day from {points[0][0] if points else ''} to "
            f"{points[-1][0] if points else ''}."
        ),
        points=points,
        y_label="updates",
    )
    return {"by_env": by_env, "trend": trend}


def sample_points_for_chart(points, limit: int = 60) -> list[tuple[str, float]]:
    from .selectors import sample_points

    return [(_day_month(d), v) for d, v in sample_points(points, limit)]


DAY_BUCKETS = [
    (0, 7, "< 1 wk"),
    (7, 14, "1–2 wk"),
    (14, 30, "2–4 wk"),
    (30, 60, "1–2 mo"),
    (60, 90, "2–3 mo"),
    (90, None, "3+ mo"),
]


def plans_charts(report) -> dict[str, Chart]:
    by_status = bar_chart(
        title="Plans created in the period, by status and kind",
        desc=f"{report.total} plans. Stacked bars per status, one segment per kind.",
        categories=[label for _v, label in report.statuses],
        series=[
            (
                label,
                [report.by_status_kind.get((status, kind), 0) for status, _l in report.statuses],
            )
            for kind, label in report.kinds
        ],
        y_label="plans",
        stacked=True,
    )
    counts = [0] * len(DAY_BUCKETS)
    for plan in report.completed:
        for i, (low, high, _label) in enumerate(DAY_BUCKETS):
            if plan.days >= low and (high is None or plan.days < high):
                counts[i] += 1
                break
    to_complete = bar_chart(
        title="Time from plan created to completed",
        desc=(
            f"{len(report.completed)} plans completed in the period; median "
            f"{report.median_days_to_complete} days. Number of plans per duration band."
        ),
        categories=[label for _l, _h, label in DAY_BUCKETS],
        series=[("plans", counts)],
        y_label="plans",
        width=480,
    )
    summary = report.lead_summary()
    leads = bar_chart(
        title="Sign-off lead time by milestone",
        desc=(
            "Median and longest hours from when a milestone could be signed off "
            "(previous milestone signed off) to its sign-off."
        ),
        categories=[s.name for s in summary],
        series=[
            ("median hours", [s.median_hours for s in summary]),
            ("longest hours", [s.max_hours for s in summary]),
        ],
        y_label="hours",
        value_suffix=" h",
        width=480,
    )
    return {"by_status": by_status, "to_complete": to_complete, "leads": leads}


def downtime_charts(report, limit: int = 30) -> dict[str, Chart]:
    recorded = report.recorded[-limit:]
    chart = bar_chart(
        title="Planned against actual window length",
        desc=(
            f"The last {len(recorded)} windows of the period with recorded start and end: "
            f"planned minutes beside actual minutes. {report.overrun_count} overran "
            f"({report.overrun_rate if report.overrun_rate is not None else 0}%)."
        ),
        categories=[_day_month(w.starts_at.astimezone(_zone())) for w in recorded],
        series=[
            ("planned minutes", [w.planned for w in recorded]),
            ("actual minutes", [w.actual or 0 for w in recorded]),
        ],
        y_label="minutes",
        value_suffix=" min",
    )
    return {"windows": chart}


def _day_month(d) -> str:
    return f"{d.day} {d:%b}"  # "7 Jul", as every other date on the pages


def _zone():
    from django.utils import timezone

    return timezone.get_current_timezone()
