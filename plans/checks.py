"""Checks on maintenance windows: the guide's best practices as warnings.

The checks are pure functions over small value objects (no database), so
they are cheap to test and to run for every window on a plan page. One
selector, `load_check_context`, reads what they need for a whole plan in a
constant number of queries; `window_problems` and `plan_window_problems` are
the entry points other code (the plan page, sign-off) calls.

Times: every comparison is made in UTC. Python compares two datetimes that
share a tzinfo by wall-clock time (ignoring DST folds), so local times built
in the team's zone are converted to UTC at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from servers.choices import Environment

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Problem:
    """A reason a window is risky (or, for `bad_length`, impossible)."""

    code: str
    message: str


@dataclass(frozen=True)
class OffPeak:
    """A weekly slot (weekday 0 = Monday) in the team's zone; end <= start runs past midnight."""

    weekday: int
    starts: time
    ends: time


@dataclass(frozen=True)
class Freeze:
    """Dates, inclusive, in the team's zone."""

    starts_on: date
    ends_on: date
    reason: str


@dataclass(frozen=True)
class WindowFacts:
    """What the checks need to know about one window."""

    id: int | None
    plan_id: int
    starts_at: datetime
    ends_at: datetime
    # server id -> environment
    servers: dict[int, str] = field(default_factory=dict)
    label: str = ""
    # The due date of the window's milestone, if it has one with a date.
    milestone_due: date | None = None


@dataclass
class CheckContext:
    """Everything the checks of one plan's windows need, loaded once."""

    tz: ZoneInfo
    off_peak: list[OffPeak]
    freezes: list[Freeze]
    plan_windows: list[WindowFacts]
    # Non-cancelled windows of the team (any plan) sharing a server with the plan's windows.
    team_windows: list[WindowFacts]


def to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    # A wall time that does not exist (the spring-forward gap) or exists twice
    # gets zoneinfo's fold=0 reading, then becomes an exact instant in UTC.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of intervals (touching ones joined)."""
    result: list[Interval] = []
    for start, end in sorted(intervals):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def off_peak_intervals(
    periods: Sequence[OffPeak], tz: ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """The team's off-peak slots as UTC intervals covering [start, end], merged."""
    first = to_utc(start).astimezone(tz).date() - timedelta(days=1)
    last = to_utc(end).astimezone(tz).date() + timedelta(days=1)
    by_weekday: dict[int, list[OffPeak]] = defaultdict(list)
    for p in periods:
        by_weekday[p.weekday].append(p)
    found: list[Interval] = []
    day = first
    while day <= last:
        for p in by_weekday.get(day.weekday(), ()):
            ends_day = day if p.ends > p.starts else day + timedelta(days=1)
            found.append((_local(day, p.starts, tz), _local(ends_day, p.ends, tz)))
        day += timedelta(days=1)
    return merge(found)


def freeze_intervals(freezes: Sequence[Freeze], tz: ZoneInfo) -> list[tuple[Interval, Freeze]]:
    """Each freeze as the UTC interval from its first day's midnight to the day after its last."""
    return [
        (
            (
                _local(f.starts_on, time(0), tz),
                _local(f.ends_on + timedelta(days=1), time(0), tz),
            ),
            f,
        )
        for f in freezes
    ]


def _fmt(value: datetime, tz: ZoneInfo | None = None) -> str:
    zone = tz or timezone.get_current_timezone()
    local = value.astimezone(zone)
    return f"{date_format(local, 'D j M Y, H:i')} {zone}"


def _fmt_range(start: datetime, end: datetime, tz: ZoneInfo | None = None) -> str:
    """Like "Tue 8 Jan 2030, 14:00–16:00 Europe/Berlin"; the end's date only if it differs
    (the format of every other moment on the pages)."""
    zone = tz or timezone.get_current_timezone()
    a, b = start.astimezone(zone), end.astimezone(zone)
    until = date_format(b, "H:i" if a.date() == b.date() else "D j M, H:i")
    return f"{date_format(a, 'D j M Y, H:i')}–{until} {zone}"


# --- The checks -----------------------------------------------------------


def check_length(starts_at: datetime, ends_at: datetime) -> Problem | None:
    """End before start, or zero length: refused outright by form, service and database."""
    if ends_at <= starts_at:
        return Problem("bad_length", _("The window must end after it starts."))
    return None


def check_off_peak(w: WindowFacts, periods: Sequence[OffPeak], tz: ZoneInfo) -> Problem | None:
    """The window must lie wholly inside the team's off-peak hours (if the team set any)."""
    if not periods or w.ends_at <= w.starts_at:
        return None
    start, end = to_utc(w.starts_at), to_utc(w.ends_at)
    for slot_start, slot_end in off_peak_intervals(periods, tz, start, end):
        if slot_start <= start and end <= slot_end:
            return None
    return Problem(
        "outside_off_peak",
        _("Outside the team's off-peak hours (%(hours)s): %(when)s is not inside one.")
        % {"hours": describe_off_peak(periods), "when": _fmt_range(start, end, tz)},
    )


def describe_off_peak(periods: Sequence[OffPeak]) -> str:
    """The team's off-peak hours in a line, e.g. "Mon–Fri 22:00–05:00, Sat–Sun 00:00–24:00"."""
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    by_hours: dict[tuple[time, time], list[int]] = defaultdict(list)
    for p in sorted(periods, key=lambda p: (p.weekday, p.starts)):
        by_hours[(p.starts, p.ends)].append(p.weekday)
    parts = []
    for (starts, ends), days in by_hours.items():
        runs: list[list[int]] = []
        for day in days:
            if runs and day == runs[-1][-1] + 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        label = ", ".join(
            names[r[0]] if len(r) == 1 else f"{names[r[0]]}–{names[r[-1]]}" for r in runs
        )
        until = "24:00" if ends == time(0) and starts == time(0) else f"{ends:%H:%M}"
        parts.append(f"{label} {starts:%H:%M}–{until}")
    return "; ".join(parts)


def check_milestone_due(w: WindowFacts, tz: ZoneInfo) -> Problem | None:
    """The window should start by its milestone's due date (the end of that day, team
    zone): a night window that starts on the due day and ends after midnight is in time."""
    if w.milestone_due is None:
        return None
    if to_utc(w.starts_at) >= _local(w.milestone_due + timedelta(days=1), time(0), tz):
        return Problem(
            "after_milestone_due",
            _("Starts after its milestone's due date (%(due)s).")
            % {"due": date_format(w.milestone_due, "D j M Y")},
        )
    return None


def check_freezes(w: WindowFacts, freezes: Sequence[Freeze], tz: ZoneInfo) -> list[Problem]:
    """The window must not touch a freeze period's days."""
    start, end = to_utc(w.starts_at), to_utc(w.ends_at)
    return [
        Problem(
            "in_freeze",
            _("Inside the freeze period %(from)s to %(until)s (%(reason)s).")
            % {"from": f.starts_on, "until": f.ends_on, "reason": f.reason},
        )
        for (f_start, f_end), f in freeze_intervals(freezes, tz)
        if start < f_end and end > f_start
    ]


def check_overlaps(w: WindowFacts, others: Sequence[WindowFacts]) -> list[Problem]:
    """No other window (any plan of the team) may touch one of this window's servers at once."""
    start, end = to_utc(w.starts_at), to_utc(w.ends_at)
    problems = []
    for o in others:
        if o.id is not None and o.id == w.id:
            continue
        shared = w.servers.keys() & o.servers.keys()
        if shared and start < to_utc(o.ends_at) and end > to_utc(o.starts_at):
            problems.append(
                Problem(
                    "overlap",
                    ngettext(
                        "Overlaps %(other)s (%(when)s) on %(count)d shared server.",
                        "Overlaps %(other)s (%(when)s) on %(count)d of the same servers.",
                        len(shared),
                    )
                    % {
                        "other": o.label or _("another window"),
                        "when": _fmt_range(o.starts_at, o.ends_at),
                        "count": len(shared),
                    },
                )
            )
    return problems


def check_staging_first(w: WindowFacts, plan_windows: Sequence[WindowFacts]) -> Problem | None:
    """Production servers only after the plan's (earliest) staging test window has ended."""
    if Environment.PRODUCTION not in w.servers.values():
        return None
    staging = [
        o for o in plan_windows if Environment.STAGING in o.servers.values() and o.id != w.id
    ]
    if Environment.STAGING in w.servers.values():
        staging.append(w)
    if not staging:
        return Problem(
            "production_before_staging",
            _("Production servers, but the plan has no test window on staging servers."),
        )
    earliest = min(staging, key=lambda o: (to_utc(o.starts_at), o.id or 0))
    if to_utc(w.starts_at) < to_utc(earliest.ends_at):
        return Problem(
            "production_before_staging",
            _("Production servers are scheduled before the staging test window ends (%(end)s).")
            % {"end": _fmt(earliest.ends_at)},
        )
    return None


def problems_for(w: WindowFacts, ctx: CheckContext) -> list[Problem]:
    """Every check on one window, given its plan's context."""
    length = check_length(w.starts_at, w.ends_at)
    if length:
        return [length]
    problems: list[Problem] = []
    off_peak = check_off_peak(w, ctx.off_peak, ctx.tz)
    if off_peak:
        problems.append(off_peak)
    problems += check_freezes(w, ctx.freezes, ctx.tz)
    problems += check_overlaps(w, ctx.team_windows)
    staging = check_staging_first(w, ctx.plan_windows)
    if staging:
        problems.append(staging)
    due = check_milestone_due(w, ctx.tz)
    if due:
        problems.append(due)
    return problems


# --- Loading --------------------------------------------------------------


def _label(title: str, plan_title: str) -> str:
    if title:
        return _("the window “%(title)s” of “%(plan)s”") % {"title": title, "plan": plan_title}
    return _("a window of “%(plan)s”") % {"plan": plan_title}


def plan_window_facts(plan, windows) -> list[WindowFacts]:
    """Facts of the plan's windows read already (plans.selectors.windows.windows_of_plan:
    `milestone` and `entries` with server ids), cancelled ones left out: no query."""
    return [
        WindowFacts(
            w.pk,
            plan.pk,
            w.starts_at,
            w.ends_at,
            {e.server_id: e.environment for e in w.entries},
            _label(w.title, plan.title),
            w.milestone.due_on if w.milestone is not None else None,
        )
        for w in windows
        if w.cancelled_at is None
    ]


def load_check_context(
    plan, *, extra: WindowFacts | None = None, plan_windows: list[WindowFacts] | None = None
) -> CheckContext:
    """Read what the checks of `plan`'s windows need, in five queries whatever the sizes:
    plan windows, their servers, off-peak periods, freezes, and the team's windows
    sharing a server; three when the plan's windows are given (`plan_windows`, from
    plan_window_facts). `extra` is a window not saved yet (a form being filled)."""
    from patchplan.teams.models import FreezePeriod, OffPeakPeriod
    from plans.models import MaintenanceWindow, WindowServer

    team = plan.team
    tz = team.tzinfo
    if plan_windows is None:
        windows = list(
            MaintenanceWindow.objects.filter(plan_id=plan.pk, cancelled_at=None).values_list(
                "pk", "starts_at", "ends_at", "title", "milestone__due_on"
            )
        )
        servers: dict[int, dict[int, str]] = defaultdict(dict)
        for window_id, server_id, env in WindowServer.objects.filter(
            window__plan_id=plan.pk, window__cancelled_at=None
        ).values_list("window_id", "server_id", "server__environment"):
            servers[window_id][server_id] = env
        plan_windows = [
            WindowFacts(pk, plan.pk, starts, ends, servers[pk], _label(title, plan.title), due)
            for pk, starts, ends, title, due in windows
        ]
    if extra is not None:
        plan_windows = [pw for pw in plan_windows if pw.id != extra.id] + [extra]

    all_servers = (
        set().union(*(pw.servers.keys() for pw in plan_windows)) if plan_windows else set()
    )
    team_windows: list[WindowFacts] = []
    if all_servers:
        start = min(pw.starts_at for pw in plan_windows)
        end = max(pw.ends_at for pw in plan_windows)
        if extra is None:
            # The same servers, named by a subquery: hundreds of ids as parameters cost
            # more to prepare than the whole check.
            servers_in = WindowServer.objects.filter(
                window__plan_id=plan.pk, window__cancelled_at=None
            ).values("server_id")
        else:  # a draft's servers are not saved yet
            servers_in = all_servers
        rows = WindowServer.objects.filter(
            server_id__in=servers_in,
            window__plan__team_id=team.pk,
            # A template's windows are examples, never run: they conflict with nothing.
            window__plan__is_template=False,
            window__cancelled_at=None,
            window__starts_at__lt=end,
            window__ends_at__gt=start,
        ).values_list(
            "window_id",
            "window__plan_id",
            "window__plan__title",
            "window__title",
            "window__starts_at",
            "window__ends_at",
            "server_id",
            "server__environment",
        )
        by_window: dict[int, WindowFacts] = {}
        for wid, plan_id, plan_title, title, starts, ends, server_id, env in rows:
            if extra is not None and wid == extra.id:
                continue
            facts = by_window.get(wid)
            if facts is None:
                label = _label(title, plan_title)
                facts = by_window[wid] = WindowFacts(wid, plan_id, starts, ends, {}, label)
            facts.servers[server_id] = env
        team_windows = list(by_window.values())

    # Tuples straight from the rows: no model instances for a handful of values.
    off_peak = [
        OffPeak(*row)
        for row in OffPeakPeriod.objects.filter(team_id=team.pk).values_list(
            "weekday", "starts_at", "ends_at"
        )
    ]
    freezes = [
        Freeze(*row)
        for row in FreezePeriod.objects.filter(team_id=team.pk).values_list(
            "starts_on", "ends_on", "reason"
        )
    ]
    return CheckContext(tz, off_peak, freezes, plan_windows, team_windows)


def plan_window_problems(plan, *, windows=None) -> dict[int, list[Problem]]:
    """Problems of every non-cancelled window of the plan, by window id. `windows`: the
    plan's windows as windows_of_plan read them (saves two of the five queries)."""
    facts = None if windows is None else plan_window_facts(plan, windows)
    ctx = load_check_context(plan, plan_windows=facts)
    return {w.id: problems_for(w, ctx) for w in ctx.plan_windows if w.id is not None}


def window_problems(window) -> list[Problem]:
    """Problems of one window (none for a cancelled one)."""
    if window.cancelled_at is not None:
        return []
    return plan_window_problems(window.plan).get(window.pk, [])


def draft_problems(
    plan, *, window_id: int | None, starts_at, ends_at, servers, milestone=None
) -> list[Problem]:
    """Problems a window would have with these values (for the form, before saving).
    `servers` are Server objects."""
    length = check_length(starts_at, ends_at)
    if length:
        return [length]
    facts = WindowFacts(
        window_id,
        plan.pk,
        starts_at,
        ends_at,
        {s.pk: s.environment for s in servers},
        milestone_due=milestone.due_on if milestone is not None else None,
    )
    return problems_for(facts, load_check_context(plan, extra=facts))
