"""The team calendar: month, week and list views of maintenance windows and
milestones, in the viewer's time zone, server-rendered.

Two halves: `load_calendar` reads what one view needs in a fixed number of
queries (windows, their servers for the conflict checks, milestones, off-peak
slots, freezes), and the grid builders place it on days and hours.

Times: every instant stays an aware datetime until it is placed; a day of the
grid is the span from one local midnight to the next, so a window across
midnight lands on both days, and the off-peak slots (weekly, in the team's
zone) are expanded to real instants by plans.checks before they are converted
to the viewer's zone: a DST change in either zone moves them correctly.
Positions in the week view are wall-clock minutes of the viewer's day, so the
bands and blocks line up with the hour labels.
"""

from __future__ import annotations

import calendar as pycalendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from patchplan.teams.models import FreezePeriod, OffPeakPeriod, Team
from plans.checks import (
    Freeze,
    OffPeak,
    WindowFacts,
    check_freezes,
    check_off_peak,
    check_overlaps,
    off_peak_intervals,
)
from plans.models import MaintenanceWindow, Milestone, Plan, PlanRole, Task, WindowServer
from plans.selectors.tasks import members_by_team
from servers.choices import Environment
from servers.models import Server

VIEWS = ("month", "week", "list")
MONTH_CELL_LIMIT = 4
# Windows longer than this are not looked for before the range starts.
MAX_WINDOW_DAYS = 14


# --- Filters -----------------------------------------------------------------


@dataclass
class CalendarFilters:
    """What the GET parameters ask for; `errors` by parameter name."""

    view: str = "month"
    anchor: date = field(default_factory=date.today)
    plan: int | None = None
    environment: str = ""
    server: str = ""
    person: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, params, *, today: date) -> CalendarFilters:
        f = cls(anchor=today)
        view = params.get("view", "month")
        f.view = view if view in VIEWS else "month"
        raw_date = params.get("date", "").strip()
        if raw_date:
            try:
                f.anchor = date.fromisoformat(raw_date)
            except ValueError:
                f.errors["date"] = _("Enter a date as YYYY-MM-DD.")
            # The view's range and its UTC bounds must stay inside datetime's years.
            if not date(1900, 1, 1) <= f.anchor <= date(9000, 12, 31):
                f.anchor = today
                f.errors["date"] = _("Pick a date between the years 1900 and 9000.")
        raw_plan = params.get("plan", "").strip()
        if raw_plan:
            if raw_plan.isdecimal():
                f.plan = int(raw_plan)
            else:
                f.errors["plan"] = _("Pick a plan from the list.")
        env = params.get("environment", "").strip()
        if env:
            if env in Environment.values:
                f.environment = env
            else:
                f.errors["environment"] = _("Pick an environment from the list.")
        f.server = params.get("server", "").strip().replace("\x00", "")[:253]
        raw_person = params.get("person", "").strip()
        if raw_person:
            if raw_person.isdecimal():
                f.person = int(raw_person)
            else:
                f.errors["person"] = _("Pick a person from the list.")
        return f

    @property
    def active(self) -> bool:
        return bool(self.plan or self.environment or self.server or self.person)

    def query(self, **overrides) -> str:
        """The URL query for these filters with some values replaced."""
        values = {
            "view": self.view,
            "date": self.anchor.isoformat(),
            "plan": self.plan or "",
            "environment": self.environment,
            "server": self.server,
            "person": self.person or "",
        }
        values.update(overrides)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def view_range(view: str, anchor: date) -> tuple[date, date]:
    """First and last day (inclusive) the view shows."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=6)
    month_first = anchor.replace(day=1)
    month_last = anchor.replace(day=pycalendar.monthrange(anchor.year, anchor.month)[1])
    if view == "list":
        return month_first, month_last
    first = month_first - timedelta(days=month_first.weekday())
    last = month_last + timedelta(days=6 - month_last.weekday())
    return first, last


def step(view: str, anchor: date, direction: int) -> date:
    """The anchor of the previous (-1) or next (+1) page."""
    if view == "week":
        return anchor + timedelta(days=7 * direction)
    month = anchor.month - 1 + direction
    return date(anchor.year + month // 12, month % 12 + 1, 1)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


# --- Loading -----------------------------------------------------------------


@dataclass
class CalEvent:
    """A window or a milestone as the calendar shows it."""

    kind: str  # "window" or "milestone"
    pk: int
    plan_id: int
    plan_title: str
    title: str
    starts_at: datetime  # aware; a milestone: its due day's local midnight
    ends_at: datetime
    url: str
    conflicts: list[str] = field(default_factory=list)
    signed_off: bool = False
    due_on: date | None = None

    @property
    def label(self) -> str:
        if self.kind == "milestone":
            return f"{self.plan_title}: {self.title}"
        return self.title or self.plan_title


@dataclass
class CalendarData:
    events: list[CalEvent]
    freezes: list[FreezePeriod]
    off_peak: list[OffPeak]
    team_tz: ZoneInfo


def _window_filters(qs, f: CalendarFilters, team: Team):
    if f.plan:
        qs = qs.filter(plan_id=f.plan)
    if f.environment:
        qs = qs.filter(
            Exists(
                WindowServer.objects.filter(
                    window_id=OuterRef("pk"), server__environment=f.environment
                )
            )
        )
    if f.server:
        qs = qs.filter(
            Exists(
                WindowServer.objects.filter(
                    window_id=OuterRef("pk"), server__hostname=f.server, server__team=team
                )
            )
        )
    if f.person:
        qs = qs.filter(
            Q(plan__owner_id=f.person)
            | Exists(PlanRole.objects.filter(plan_id=OuterRef("plan_id"), user_id=f.person))
            | Exists(
                Task.objects.filter(milestone_id=OuterRef("milestone_id"), assignee_id=f.person)
            )
        )
    return qs


def _milestone_filters(qs, f: CalendarFilters, team: Team):
    if f.plan:
        qs = qs.filter(plan_id=f.plan)
    plan_servers = Plan.servers.through.objects.filter(plan_id=OuterRef("plan_id"))
    if f.environment:
        qs = qs.filter(Exists(plan_servers.filter(server__environment=f.environment)))
    if f.server:
        qs = qs.filter(Exists(plan_servers.filter(server__hostname=f.server, server__team=team)))
    if f.person:
        qs = qs.filter(
            Q(plan__owner_id=f.person)
            | Exists(PlanRole.objects.filter(plan_id=OuterRef("plan_id"), user_id=f.person))
            | Exists(Task.objects.filter(milestone_id=OuterRef("pk"), assignee_id=f.person))
        )
    return qs


def load_calendar(
    *, team: Team, f: CalendarFilters, first: date, last: date, tz: ZoneInfo
) -> CalendarData:
    """Windows and milestones of the team between two days (inclusive, viewer's
    zone), each window with its conflicts. 5 queries whatever the data: windows
    shown, servers of every team window in the range (for overlaps, whatever
    the filters), milestones, off-peak slots, freezes."""
    start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)
    team_tz = team.tzinfo
    base = MaintenanceWindow.objects.filter(
        plan__team=team,
        plan__is_template=False,
        cancelled_at__isnull=True,
        starts_at__lt=end,
        ends_at__gt=start,
    )
    windows = list(
        _window_filters(base, f, team)
        .order_by("starts_at", "pk")
        .values_list("pk", "plan_id", "plan__title", "title", "starts_at", "ends_at")
    )
    # Every team window touching the range, with its servers: a shown window may
    # overlap one the filters hide, and that is still a conflict.
    facts: dict[int, WindowFacts] = {}
    for wid, plan_id, title, starts, ends, server_id, env in WindowServer.objects.filter(
        window__in=base
    ).values_list(
        "window_id",
        "window__plan_id",
        "window__title",
        "window__starts_at",
        "window__ends_at",
        "server_id",
        "server__environment",
    ):
        wf = facts.get(wid)
        if wf is None:
            wf = facts[wid] = WindowFacts(wid, plan_id, starts, ends, {}, title)
        wf.servers[server_id] = env
    off_peak = [
        OffPeak(p.weekday, p.starts_at, p.ends_at) for p in OffPeakPeriod.objects.filter(team=team)
    ]
    # Freeze days are in the team's zone; a day either side covers any offset.
    freezes = list(
        FreezePeriod.objects.filter(
            team=team,
            starts_on__lte=last + timedelta(days=1),
            ends_on__gte=first - timedelta(days=1),
        ).order_by("starts_on")
    )
    freeze_facts = [Freeze(fp.starts_on, fp.ends_on, fp.reason) for fp in freezes]
    # Only windows sharing a server can overlap: look those up, not every pair.
    by_server: dict[int, list[WindowFacts]] = defaultdict(list)
    for wf in facts.values():
        for server_id in wf.servers:
            by_server[server_id].append(wf)
    events = []
    for pk, plan_id, plan_title, title, starts, ends in windows:
        wf = facts.get(pk) or WindowFacts(pk, plan_id, starts, ends, {}, title)
        problems = []
        off = check_off_peak(wf, off_peak, team_tz)
        if off:
            problems.append(off)
        problems += check_freezes(wf, freeze_facts, team_tz)
        others = {o.id: o for sid in wf.servers for o in by_server[sid]}
        problems += check_overlaps(wf, list(others.values()))
        events.append(
            CalEvent(
                "window",
                pk,
                plan_id,
                plan_title,
                title,
                starts,
                ends,
                reverse("window_detail", args=[pk]),
                [p.message for p in problems],
            )
        )
    milestones = _milestone_filters(
        Milestone.objects.filter(
            plan__team=team, plan__is_template=False, due_on__gte=first, due_on__lte=last
        ),
        f,
        team,
    ).values_list("pk", "plan_id", "plan__title", "name", "due_on", "signed_off_at")
    for pk, plan_id, plan_title, name, due_on, signed_off_at in milestones:
        day_start = local_midnight(due_on, tz)
        events.append(
            CalEvent(
                "milestone",
                pk,
                plan_id,
                plan_title,
                name,
                day_start,
                local_midnight(due_on + timedelta(days=1), tz),
                reverse("plan_detail", args=[plan_id]) + f"#milestone-{pk}",
                signed_off=signed_off_at is not None,
                due_on=due_on,
            )
        )
    return CalendarData(events, freezes, off_peak, team_tz)


def filter_choices(*, team: Team) -> dict:
    """The plans and people the filter lists offer: 2 queries."""
    return {
        "plans": list(
            Plan.objects.filter(team=team, is_template=False)
            .order_by("title", "pk")
            .values_list("pk", "title")
        ),
        # (pk, name) pairs, no User objects built.
        "people": members_by_team([team.pk])[team.pk],
        "environments": Environment.choices,
    }


def validate_filters(f: CalendarFilters, choices: dict, *, team: Team) -> None:
    """Refuse a plan or person not of the team, and a server the team lacks."""
    if f.plan and f.plan not in {pk for pk, _t in choices["plans"]}:
        f.errors["plan"] = _("No such plan in this team.")
    if f.person and f.person not in {pk for pk, _n in choices["people"]}:
        f.errors["person"] = _("No such person in this team.")
    if f.server and not Server.objects.filter(team=team, hostname=f.server).exists():
        f.errors["server"] = _("No server named “%(name)s” in this team.") % {"name": f.server}


# --- Placing -----------------------------------------------------------------


@dataclass
class Piece:
    """The part of an event that falls on one day."""

    event: CalEvent
    starts: datetime  # local, clipped to the day
    ends: datetime
    continues_before: bool
    continues_after: bool
    top: float = 0.0  # percent of the day column (week view)
    height: float = 0.0

    @property
    def time_label(self) -> str:
        if self.event.kind == "milestone":
            return _("due")
        start = "…" if self.continues_before else f"{self.starts:%H:%M}"
        end = "…" if self.continues_after else f"{self.ends:%H:%M}"
        return f"{start}–{end}"


@dataclass
class Band:
    """An off-peak stretch of one day, as percent of the day column."""

    top: float
    height: float
    label: str


@dataclass
class Day:
    day: date
    in_range: bool
    is_today: bool
    freeze: str = ""  # the reason, if the day is in a freeze
    pieces: list[Piece] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    hours: float = 24.0  # 23 or 25 on a DST change

    @property
    def windows(self) -> list[Piece]:
        return [p for p in self.pieces if p.event.kind == "window"]

    @property
    def milestones(self) -> list[Piece]:
        return [p for p in self.pieces if p.event.kind == "milestone"]

    @property
    def shown(self) -> list[Piece]:
        return self.pieces[:MONTH_CELL_LIMIT]

    @property
    def hidden_count(self) -> int:
        return max(0, len(self.pieces) - MONTH_CELL_LIMIT)


def _minutes_of_day(value: datetime, tz: ZoneInfo) -> int:
    local = value.astimezone(tz)
    return local.hour * 60 + local.minute


def _percent(start_min: int, end_min: int) -> tuple[float, float]:
    top = round(100 * start_min / 1440, 3)
    height = round(100 * max(end_min - start_min, 15) / 1440, 3)
    return top, min(height, 100 - top) if top < 100 else 0.0


def _freeze_days(freezes: list[FreezePeriod], team_tz: ZoneInfo, tz: ZoneInfo) -> dict:
    """Viewer days touched by a freeze (freeze days run midnight to midnight in the team's zone)."""
    spans = [
        (
            local_midnight(fp.starts_on, team_tz),
            local_midnight(fp.ends_on + timedelta(1), team_tz),
            fp,
        )
        for fp in freezes
    ]
    return {"spans": spans}


def build_days(
    data: CalendarData,
    *,
    first: date,
    last: date,
    tz: ZoneInfo,
    today: date,
    in_range: tuple[date, date] | None = None,
) -> list[Day]:
    """One Day per date from first to last, with the pieces of events, the off-peak
    bands and freezes falling on it."""
    range_first, range_last = in_range or (first, last)
    start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)
    bands_utc = off_peak_intervals(data.off_peak, data.team_tz, start, end) if data.off_peak else []
    freeze_spans = _freeze_days(data.freezes, data.team_tz, tz)["spans"]
    days = []
    by_day: dict[date, Day] = {}
    d = first
    while d <= last:
        day_start, day_end = local_midnight(d, tz), local_midnight(d + timedelta(days=1), tz)
        day = Day(d, range_first <= d <= range_last, d == today)
        day.hours = (day_end - day_start).total_seconds() / 3600
        for f_start, f_end, fp in freeze_spans:
            if f_start < day_end and f_end > day_start:
                day.freeze = fp.reason
                break
        for b_start, b_end in bands_utc:
            if b_start < day_end and b_end > day_start:
                s = max(b_start, day_start)
                e = min(b_end, day_end)
                s_min = _minutes_of_day(s, tz)
                e_min = 1440 if e >= day_end else _minutes_of_day(e, tz)
                if e_min > s_min:
                    top = round(100 * s_min / 1440, 3)
                    height = round(100 * (e_min - s_min) / 1440, 3)
                    until = "24:00" if e_min == 1440 else f"{e.astimezone(tz):%H:%M}"
                    label = f"{s.astimezone(tz):%H:%M}–{until}"
                    day.bands.append(Band(top, height, label))
        days.append(day)
        by_day[d] = day
        d += timedelta(days=1)
    for event in sorted(data.events, key=lambda e: (e.kind != "milestone", e.starts_at, e.pk)):
        if event.kind == "milestone":
            day = by_day.get(event.due_on)
            if day is not None:
                day.pieces.append(
                    Piece(
                        event,
                        event.starts_at.astimezone(tz),
                        event.ends_at.astimezone(tz),
                        False,
                        False,
                        0,
                        0,
                    )
                )
            continue
        local_start = event.starts_at.astimezone(tz)
        d = max(local_start.date(), first)
        while d <= last:
            day_start, day_end = local_midnight(d, tz), local_midnight(d + timedelta(days=1), tz)
            if event.starts_at >= day_end:
                d += timedelta(days=1)
                continue
            if event.ends_at <= day_start:
                break
            s, e = max(event.starts_at, day_start), min(event.ends_at, day_end)
            s_min = _minutes_of_day(s, tz)
            e_min = 1440 if e >= day_end else _minutes_of_day(e, tz)
            top, height = _percent(s_min, e_min)
            by_day[d].pieces.append(
                Piece(
                    event,
                    s.astimezone(tz),
                    e.astimezone(tz),
                    event.starts_at < day_start,
                    event.ends_at > day_end,
                    top,
                    height,
                )
            )
            d += timedelta(days=1)
    return days


def month_weeks(days: list[Day]) -> list[list[Day]]:
    return [days[i : i + 7] for i in range(0, len(days), 7)]


def list_items(data: CalendarData, *, tz: ZoneInfo) -> list[tuple[date, list[CalEvent]]]:
    """Events by local start day (a window across days is listed once, at its start)."""
    by_day: dict[date, list[CalEvent]] = defaultdict(list)
    for event in data.events:
        key = event.due_on if event.kind == "milestone" else event.starts_at.astimezone(tz).date()
        by_day[key].append(event)
    return [
        (d, sorted(events, key=lambda e: (e.kind != "milestone", e.starts_at, e.pk)))
        for d, events in sorted(by_day.items())
    ]


# --- The page ----------------------------------------------------------------


def feed_links(*, user, team: Team) -> dict:
    """Where to get calendar feeds, and whether the viewer and the team have
    one. Feed URLs are shown once when made (only their hash is stored), so
    this page links to the preferences, never to a feed. 2 queries."""
    try:
        from patchplan.notifications.models import NotificationPreference, TeamCalendarFeed
    except ImportError:  # pragma: no cover - the notifications app is optional here
        return {}
    return {
        "preferences": reverse("notification_preferences"),
        "mine": NotificationPreference.objects.filter(
            user=user, calendar_token_hash__isnull=False
        ).exists(),
        "team": TeamCalendarFeed.objects.filter(team=team).exists(),
    }


def calendar_page(*, user, team: Team, params, today: date, tz: ZoneInfo) -> dict:
    """Everything the calendar page shows. Queries: 2 filter lists (+1 when a server
    is named), 5 for the calendar, 2 for the feed links."""
    f = CalendarFilters.from_query(params, today=today)
    choices = filter_choices(team=team)
    validate_filters(f, choices, team=team)
    first, last = view_range(f.view, f.anchor)
    if f.errors:
        data = CalendarData([], [], [], team.tzinfo)
    else:
        data = load_calendar(team=team, f=f, first=first, last=last, tz=tz)
    context = {
        "filters": f,
        "choices": choices,
        "first": first,
        "last": last,
        "tz": tz,
        "team": team,
        "prev_query": f.query(date=step(f.view, f.anchor, -1).isoformat()),
        "next_query": f.query(date=step(f.view, f.anchor, +1).isoformat()),
        "today_query": f.query(date=today.isoformat()),
        "view_queries": {v: f.query(view=v) for v in VIEWS},
        "feeds": feed_links(user=user, team=team),
        "conflict_count": sum(1 for e in data.events if e.conflicts),
        "hours": [(h, round(100 * h / 24, 3)) for h in range(1, 24)],
    }
    if f.view == "month":
        month_first = f.anchor.replace(day=1)
        month_last = view_range("list", f.anchor)[1]
        days = build_days(
            data, first=first, last=last, tz=tz, today=today, in_range=(month_first, month_last)
        )
        context["weeks"] = month_weeks(days)
        context["title_date"] = month_first
    elif f.view == "week":
        context["days"] = build_days(data, first=first, last=last, tz=tz, today=today)
        context["title_date"] = first
    else:
        context["items"] = list_items(data, tz=tz)
        context["title_date"] = first
        # Freezes in the list view: shown above the events.
        context["freezes"] = data.freezes
    return context
