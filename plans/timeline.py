"""Geometry of the plan's timeline picture (an SVG drawn by a template).

Milestones are bars on their own rows, windows are marks on a last row, and
today is a dashed line. Everything carries a text label, so the picture
reads the same printed in black and white."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial

from django.utils import timezone
from django.utils.dateformat import format as date_format

WIDTH = 900
LEFT = 160
RIGHT = 24
TOP = 34
ROW = 30
BAR = 16
MIN_MARK = 6


@dataclass
class Bar:
    label: str
    x: float
    width: float
    y: float
    dates: str
    text_x: float
    point: bool = False


@dataclass
class Mark:
    label: str
    x: float
    width: float
    y: float
    label_y: float
    title: str


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    width: int
    height: int
    left: int
    plot_right: float
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    today_x: float | None = None
    windows_y: float = 0
    axis_y: float = TOP - 8
    empty: bool = False
    today_note: str = ""


def _tick_step(days: int) -> int:
    for step in (1, 2, 7, 14, 30, 61, 91, 182, 365):
        if days / step <= 12:
            return step
    return 730


def build_timeline(
    *,
    milestones: Sequence,
    windows: Sequence,
    today: date | None = None,
    tz=None,
) -> Timeline:
    """Lay out milestones (name, starts_on, due_on) and windows (starts_at, ends_at,
    title) on a shared day axis in the zone `tz` (the viewer's by default)."""
    tz = tz or timezone.get_current_timezone()
    today = today or timezone.localdate(timezone=tz)
    windows = [w for w in windows if getattr(w, "cancelled_at", None) is None]
    days: list[date] = []
    for m in milestones:
        days += [d for d in (m.starts_on, m.due_on) if d]
    for w in windows:
        days += [w.starts_at.astimezone(tz).date(), w.ends_at.astimezone(tz).date()]
    rows = len(milestones) + 1
    height = TOP + rows * ROW + 24
    if not days:
        return Timeline(WIDTH, height, LEFT, WIDTH - RIGHT, empty=True)
    first, last = min(days), max(days)
    # Today joins the axis when it is near the plan; a plan months away keeps its scale
    # and names today in a note instead.
    near = timedelta(days=max(14, (last - first).days // 2))
    if first - near <= today <= last + near:
        first, last = min(first, today), max(last, today)
    first -= timedelta(days=1)
    last += timedelta(days=2)
    start = datetime.combine(first, time(0), tzinfo=tz)
    span = (datetime.combine(last, time(0), tzinfo=tz) - start).total_seconds()
    plot = WIDTH - LEFT - RIGHT

    def x_of(moment: datetime) -> float:
        return round(LEFT + (moment - start).total_seconds() / span * plot, 1)

    def x_day(day: date) -> float:
        return x_of(datetime.combine(day, time(0), tzinfo=tz))

    tl = Timeline(WIDTH, height, LEFT, WIDTH - RIGHT)
    step = _tick_step((last - first).days)
    day = first
    while day <= last:
        tl.ticks.append(Tick(x_day(day), date_format(day, "j M")))
        day += timedelta(days=step)
    previous_due: date | None = None
    for i, m in enumerate(milestones):
        y = TOP + i * ROW + (ROW - BAR) / 2
        begin, end = m.starts_on or m.due_on, m.due_on or m.starts_on
        # A phase with only a due date (the guide's YAML) runs from the previous one's due.
        if m.starts_on is None and previous_due is not None and end and previous_due < end:
            begin = previous_due + timedelta(days=1)
        previous_due = end or previous_due
        if begin is None:
            tl.bars.append(Bar(m.name, LEFT, 0, y, "no dates", LEFT + 4, point=True))
            continue
        x = x_day(begin)
        width = max(x_day(end + timedelta(days=1)) - x, 4)
        day_of = partial(date_format, format_string="j M")  # the pages' format: "1 Dec"
        dates = f"{day_of(begin)}–{day_of(end)}" if m.starts_on and m.due_on else None
        dates = dates or f"due {day_of(end)}"
        tl.bars.append(Bar(m.name, x, round(width, 1), y, dates, round(x + width + 4, 1)))
    tl.windows_y = TOP + len(milestones) * ROW + (ROW - BAR) / 2
    for i, w in enumerate(sorted(windows, key=lambda w: w.starts_at)):
        x = x_of(w.starts_at.astimezone(tz))
        width = max(x_of(w.ends_at.astimezone(tz)) - x, MIN_MARK)
        local = w.starts_at.astimezone(tz)
        # Labels alternate above and below the row so neighbours don't collide.
        label_y = tl.windows_y - 3 if i % 2 == 0 else tl.windows_y + BAR + 11
        tl.marks.append(
            Mark(
                f"W{i + 1}",
                x,
                round(width, 1),
                tl.windows_y,
                label_y,
                f"W{i + 1}: {w.title + ', ' if w.title else ''}"
                f"{date_format(local, 'j M, H:i')} {tz}",
            )
        )
    tl.today_x = x_day(today) if first <= today <= last else None
    if tl.today_x is None:
        tl.today_note = (
            f"Today ({date_format(today, 'j M Y')}) is "
            f"{'after' if today > last else 'before'} this timeline."
        )
    return tl
