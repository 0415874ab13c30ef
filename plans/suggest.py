"""Suggest a window: the next free slots inside the team's off-peak hours.

`free_slots` is pure (intervals in, slots out); `suggest_windows` loads the
team's calendar and the busy windows of the chosen servers in four queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from .checks import (
    Freeze,
    Interval,
    OffPeak,
    freeze_intervals,
    merge,
    off_peak_intervals,
    to_utc,
)

HORIZON = timedelta(days=90)
STEP = timedelta(minutes=15)


def _round_up(value: datetime, step: timedelta = STEP) -> datetime:
    seconds = step.total_seconds()
    ts = value.timestamp()
    rounded = -(-ts // seconds) * seconds
    return datetime.fromtimestamp(rounded, tz=value.tzinfo)


def subtract(free: Sequence[Interval], busy: Sequence[Interval]) -> list[Interval]:
    """Parts of the `free` intervals not covered by any `busy` interval."""
    busy = merge(busy)
    result: list[Interval] = []
    for start, end in free:
        cursor = start
        for b_start, b_end in busy:
            if b_end <= cursor or b_start >= end:
                continue
            if b_start > cursor:
                result.append((cursor, b_start))
            cursor = max(cursor, b_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def free_slots(
    *,
    off_peak: Sequence[OffPeak],
    freezes: Sequence[Freeze],
    busy: Sequence[Interval],
    tz,
    length: timedelta,
    after: datetime,
    count: int = 5,
    horizon: timedelta = HORIZON,
) -> list[Interval]:
    """The first `count` slots of `length`, one per free stretch of off-peak time,
    starting no earlier than `after` (rounded up to a quarter hour)."""
    if length <= timedelta(0) or not off_peak:
        return []
    start = _round_up(to_utc(after))
    end = start + horizon
    free = [
        (max(s, start), e) for s, e in off_peak_intervals(off_peak, tz, start, end) if e > start
    ]
    blocked = [interval for interval, _f in freeze_intervals(freezes, tz)]
    blocked += [(to_utc(s), to_utc(e)) for s, e in busy]
    slots: list[Interval] = []
    for s, e in subtract(free, blocked):
        s = _round_up(s)
        if e - s >= length:
            slots.append((s, s + length))
            if len(slots) >= count:
                break
    return slots


def suggest_windows(
    *,
    plan,
    servers,
    length: timedelta,
    after: datetime | None = None,
    count: int = 5,
    exclude_window_id: int | None = None,
) -> list[Interval]:
    """Next free slots for these servers of the plan's team: inside off-peak hours,
    outside freezes, clear of every other non-cancelled window on those servers."""
    from patchplan.teams.models import FreezePeriod, OffPeakPeriod
    from plans.models import MaintenanceWindow

    after = after or timezone.now()
    team = plan.team
    off_peak = [
        OffPeak(p.weekday, p.starts_at, p.ends_at)
        for p in OffPeakPeriod.objects.filter(team_id=team.pk)
    ]
    freezes = [
        Freeze(f.starts_on, f.ends_on, f.reason)
        for f in FreezePeriod.objects.filter(team_id=team.pk, ends_on__gte=after.date())
    ]
    busy_qs = MaintenanceWindow.objects.filter(
        plan__team_id=team.pk,
        cancelled_at=None,
        servers__in=[s.pk for s in servers],
        ends_at__gt=after,
        starts_at__lt=after + HORIZON,
    )
    if exclude_window_id is not None:
        busy_qs = busy_qs.exclude(pk=exclude_window_id)
    busy = list(busy_qs.values_list("starts_at", "ends_at").distinct())
    return free_slots(
        off_peak=off_peak,
        freezes=freezes,
        busy=busy,
        tz=team.tzinfo,
        length=length,
        after=after,
        count=count,
    )
