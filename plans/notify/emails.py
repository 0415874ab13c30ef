"""The plan part of an outbox row's email, at send time (the outbox's
notifications.emails does the rest: the person, their preferences and zone,
rendering and sending).

Everything is read fresh here: whether the person is still concerned, the
object's current state. A row that no longer applies raises Undeliverable."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.mime.text import MIMEText
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from patchplan.formats.dates import day, local
from patchplan.notifications.models import Kind, Notification, Status
from patchplan.notifications.registry import Content
from patchplan.notifications.services import Undeliverable
from plans.choices import Raci, TaskStatus
from plans.models import Comment, MaintenanceWindow, Milestone, Plan, PlanRole, Task, WindowServer
from servers.choices import Environment

from . import recipients as selectors
from .calendars import ICS_METHOD, WindowFacts, window_ics

WINDOW_KINDS = {Kind.WINDOW_REMINDER, Kind.WINDOW_UPDATED, Kind.WINDOW_CANCELLED}
# Window emails that say what to do: hostnames, the run mode, your part.
ACTIONABLE_WINDOW_KINDS = {
    Kind.WINDOW_REMINDER,
    Kind.WINDOW_UPDATED,
    Kind.WINDOW_OVERRUNNING,
    Kind.WORK_STARTED_EARLY,
}
# Every kind but those of other apps (advisories) is the plans app's.
PLAN_KINDS = [kind for kind in Kind if kind != Kind.ADVISORY]
MAX_HOSTS = 20
MAX_TASKS = 10


def _window_facts(n: Notification) -> tuple[WindowFacts, MaintenanceWindow | None]:
    window = (
        MaintenanceWindow.objects.select_related("plan__owner")
        .annotate(server_count=Count("servers"))
        .filter(pk=n.object_id)
        .first()
        if n.object_type == "window"
        else None
    )
    if window is not None:
        return WindowFacts.from_window(window, server_count=window.server_count), window
    if "window" in n.context:
        return WindowFacts.from_snapshot(n.context["window"]), None
    raise Undeliverable("the window no longer exists", Status.CANCELLED)


def _check_still_applies(n: Notification, obj_context: dict) -> None:
    if n.kind == Kind.WINDOW_REMINDER:
        window = obj_context["window"]
        if window is None or window.cancelled_at is not None:
            raise Undeliverable("the window was cancelled", Status.CANCELLED)
        start_key = window.starts_at.astimezone(ZoneInfo("UTC")).isoformat()
        if not n.occurrence.startswith(start_key):
            raise Undeliverable(
                "the window moved; a reminder for the new time follows", Status.CANCELLED
            )
        if window.starts_at <= timezone.now():
            raise Undeliverable("the window has started", Status.CANCELLED)
        if not selectors.is_window_recipient(window=window, user_id=n.recipient_id):
            raise Undeliverable("no longer concerned by this window")
    elif n.kind in (Kind.TASK_DUE, Kind.TASK_OVERDUE):
        task = obj_context["task"]
        if task is None or task.status == TaskStatus.DONE:
            raise Undeliverable("the task is done", Status.CANCELLED)
        if task.assignee_id != n.recipient_id and not n.context.get("as_owner"):
            raise Undeliverable("the task was reassigned", Status.CANCELLED)
    elif n.kind == Kind.TASK_ASSIGNED:
        task = obj_context["task"]
        if task is None or task.assignee_id != n.recipient_id:
            raise Undeliverable("the task was reassigned", Status.CANCELLED)
    elif n.kind == Kind.SIGNOFF_PENDING:
        milestone = obj_context["milestone"]
        if milestone is None or milestone.signed_off_at is not None:
            raise Undeliverable("the milestone was signed off", Status.CANCELLED)


def _load_object(n: Notification) -> dict:
    """The row's subject object and its plan, fresh from the database."""
    ctx: dict = {"window": None, "task": None, "milestone": None, "plan": None, "comment": None}
    if n.object_type == "window":
        facts, window = _window_facts(n)
        ctx.update(window=window, facts=facts, plan=window.plan if window else None)
    elif n.object_type == "task":
        task = Task.objects.select_related("plan", "milestone").filter(pk=n.object_id).first()
        ctx.update(task=task, plan=task.plan if task else None)
    elif n.object_type == "milestone":
        m = Milestone.objects.select_related("plan").filter(pk=n.object_id).first()
        ctx.update(milestone=m, plan=m.plan if m else None)
    elif n.object_type == "plan":
        ctx["plan"] = Plan.objects.filter(pk=n.object_id).first()
    elif n.object_type == "comment":
        c = Comment.objects.select_related("plan", "author").filter(pk=n.object_id).first()
        ctx.update(comment=c, plan=c.plan if c else None)
    if n.object_type in ("task", "milestone", "plan", "comment") and ctx["plan"] is None:
        raise Undeliverable("the object no longer exists", Status.CANCELLED)
    return ctx


def _window_extras(n: Notification, window: MaintenanceWindow) -> dict:
    """What an on-call engineer acts on: the first hostnames (with their
    environment), the run mode link, and the recipient's part in the window
    (their open tasks in its milestone, their RACI roles, whether they
    approve its milestone's go). Five queries, whatever the window's size."""
    site = settings.SITE_URL
    hosts = [
        {"hostname": host, "environment": Environment(env).label if env else ""}
        for host, env in WindowServer.objects.filter(window_id=window.pk)
        .order_by("server__hostname")
        .values_list("server__hostname", "server__environment")[:MAX_HOSTS]
    ]
    window_link = site + reverse("window_detail", kwargs={"window_id": window.pk})
    tasks, milestone, approves = [], None, False
    if window.milestone_id:
        milestone = Milestone.objects.filter(pk=window.milestone_id).first()
        tasks = list(
            Task.objects.filter(milestone_id=window.milestone_id, assignee_id=n.recipient_id)
            .exclude(status=TaskStatus.DONE)
            .order_by("due_on", "pk")
            .values("pk", "title", "due_on")[:MAX_TASKS]
        )
        for task in tasks:
            task["link"] = site + reverse("task_detail", kwargs={"task_id": task["pk"]})
    if milestone is not None:
        milestone.plan = window.plan
        approves = n.recipient_id in selectors.milestone_approvers(milestone)
    roles = [
        str(Raci(r).label)
        for r in PlanRole.objects.filter(plan_id=window.plan_id, user_id=n.recipient_id)
        .order_by("raci")
        .values_list("raci", flat=True)
    ]
    return {
        "hosts": hosts,
        "more_hosts": max(0, window.server_count - len(hosts)),
        "hosts_link": window_link + "#servers",
        "window_link": window_link,
        "run_link": site
        + reverse("plan_window_run", kwargs={"plan_id": window.plan_id, "window_id": window.pk}),
        "milestone": milestone,
        "part": {
            "tasks": tasks,
            "roles": roles,
            "approves": approves,
            "owner": window.plan.owner_id == n.recipient_id,
        },
    }


def _local(value: str | None, tz) -> str:
    if not value:
        return ""
    # As the body's other times: "Fri 4 Dec 2026, 03:59 EST".
    return local(datetime.fromisoformat(value), "D j M Y, H:i T", tz=tz)


def _change_rows(changes: dict, tz) -> list[dict]:
    """The update's change set as was -> now rows, times in the reader's zone."""
    rows = []
    labels = {
        "starts_at": "Start",
        "ends_at": "End",
        "title": "Title",
        "milestone": "Milestone",
    }
    for key, label in labels.items():
        if key in changes:
            was, now = changes[key]
            if key in ("starts_at", "ends_at"):
                was, now = _local(was, tz), _local(now, tz)
            rows.append({"label": label, "was": was or "(none)", "now": now or "(none)"})
    return rows


def _human_delta(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes >= 36 * 60:
        return f"{round(minutes / 1440)} days"
    if minutes >= 60:
        return f"{round(minutes / 60)} h"
    return f"{minutes} min"


def _digest_context(n: Notification, tz) -> dict:
    now = timezone.now()
    until = now + timedelta(days=7)
    windows = list(
        selectors.feed_windows_for_user(user=n.recipient, since=now).filter(
            starts_at__lte=until, cancelled_at__isnull=True
        )
    )
    tasks = list(
        selectors.digest_tasks_for_user(user=n.recipient, until=(until.astimezone(tz)).date())
    )
    return {"windows": windows, "tasks": tasks}


def message_content(n: Notification, tz: ZoneInfo) -> Content:
    """The plan part of a row's email (registered with the outbox for
    PLAN_KINDS): the subject object read fresh, a window's hosts, run link and
    the reader's part in it, was -> now for an update, times in the reader's
    zone, and the calendar invitation. Raises Undeliverable when the row no
    longer applies (window cancelled or moved, task done or reassigned...)."""
    obj = _load_object(n)
    _check_still_applies(n, obj)
    context = dict(obj)
    if n.kind == Kind.DIGEST:
        context.update(_digest_context(n, tz))
    facts = obj.get("facts")
    window = obj.get("window")
    if window is not None and n.kind in ACTIONABLE_WINDOW_KINDS and window.cancelled_at is None:
        context.update(_window_extras(n, window))
    if n.kind == Kind.WORK_STARTED_EARLY and n.context.get("started_at"):
        # When the work really started, beside the planned times.
        context["started_at"] = datetime.fromisoformat(n.context["started_at"])
    if n.kind == Kind.WINDOW_UPDATED:
        changes = n.context.get("changes", {})
        context["change_rows"] = _change_rows(changes, tz)
        context["servers_added"] = changes.get("servers_added", [])
        context["servers_removed"] = changes.get("servers_removed", [])
    attachments = []
    if facts is not None:
        context["lead"] = _human_delta(facts.starts_at - timezone.now())
        context["starts_at"] = facts.starts_at
        context["ends_at"] = facts.ends_at
        # Wall-clock times in the recipient's zone, for the subject line, in the
        # pages' formats ("Fri 4 Dec 2026 09:00-10:00 CET").
        start_local = facts.starts_at.astimezone(tz)
        end_local = facts.ends_at.astimezone(tz)
        same_day = start_local.date() == end_local.date()
        context["span"] = (
            f"{local(start_local, 'H:i', tz=tz)}-{local(end_local, 'H:i T', tz=tz)}"
            if same_day
            else f"{local(start_local, 'D j M H:i', tz=tz)} - "
            f"{local(end_local, 'D j M H:i T', tz=tz)}"
        )
        context["day"] = day(start_local, tz=tz)
        # Date, times and zone: every window subject carries all three.
        context["when"] = (
            f"{context['day']} {context['span']}"
            if same_day
            else f"{local(start_local, 'D j M Y H:i', tz=tz)} - "
            f"{local(end_local, 'D j M Y H:i T', tz=tz)}"
        )
        if n.kind in WINDOW_KINDS:
            ics = window_ics(facts, cancelled=n.kind == Kind.WINDOW_CANCELLED)
            part = MIMEText(ics.decode("utf-8"), "calendar", "utf-8")
            # The MIME method must match the calendar's METHOD (RFC 6047).
            part.set_param("method", ICS_METHOD)
            part.add_header("Content-Disposition", "attachment", filename="window.ics")
            attachments.append(part)
    return Content(context=context, attachments=attachments)
