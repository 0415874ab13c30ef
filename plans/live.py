"""The plan document's sections, the page's other live pieces, and what open plan
pages poll: which of them changed since the page last looked, and who else has the
plan open.

Nothing is kept in a process: a per-plan change counter and each part's last
change live in the shared cache (Redis in production, so every web process sees
them; the embedded default's per-process cache is all `make run`'s one process
needs). A lost counter (cache eviction, Redis restart) reads as "changed,
everything", so open pages catch up rather than miss a change. While the cache
is unreachable the page still renders (its counter then reads as lost, so its
first answered poll reloads everything), the poll answers 503 (the page keeps
its counter and asks again) and a save is kept; only its bump is dropped.

Counters move after the transaction that made the change commits: the document's
sections from `plan_update` (`sections_changed`), the other parts (activity,
readiness and sign-off, milestones, windows, timeline, run mode) from the audit
trail (`plans.audit`), which every service that changes a plan writes in its
transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a cache that cannot be reached raises (Redis down or restarting).
CACHE_ERRORS = (RedisError, OSError)


@dataclass(frozen=True)
class Section:
    name: str
    label: str
    fields: tuple[str, ...]
    # A document text (plans.models.DocumentText): Markdown with a preview, versions kept.
    document: bool = False


# Each part of the plan document that is edited and saved on its own.
SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "objective", _("Objective and success criteria"), ("objective", "success_criteria")
        ),
        Section("references", _("References and packages"), ("references", "packages")),
        Section("backup_plan", _("Backup plan"), ("backup_plan",), document=True),
        Section("test_procedure", _("Test procedure"), ("test_procedure",), document=True),
        Section("rollback_plan", _("Rollback plan"), ("rollback_plan",), document=True),
        Section(
            "communication_plan",
            _("Communication plan"),
            ("communication_plan",),
            document=True,
        ),
        Section("classification", _("Risk and kind"), ("risk", "kind")),
        # Fields only the full edit page changes; their section is the page's header.
        Section("header", _("Title and owner"), ("title", "owner", "review_by", "lessons_learned")),
    )
}
SECTION_OF_FIELD = {f: s.name for s in SECTIONS.values() for f in s.fields}

# The plan page's other pieces that refresh through the same poll when they change
# (each element says which, with data-live-panel), and run mode's board.
ACTIVITY, READINESS, MILESTONES, WINDOWS, TIMELINE, RUN, TASKS = (
    "activity",
    "readiness",
    "milestones",
    "windows",
    "timeline",
    "run",
    "tasks",
)
PARTS = (ACTIVITY, READINESS, MILESTONES, WINDOWS, TIMELINE, RUN, TASKS)
# Audited objects whose change shows on the schedule's cards (dates, sign-off state,
# windows and their warnings, a server's status).
_SCHEDULE_OBJECTS = frozenset(
    {"milestone", "maintenancewindow", "windowserver", "serverexecution", "server", "plan"}
)
# Audited objects whose change shows in the tasks card (a milestone only by its name).
_TASK_OBJECTS = frozenset({"task", "checklistitem"})
# The plan's own fields that show on those cards (its texts do not).
_SCHEDULE_PLAN_FIELDS = frozenset({"status", "servers", "scope", "plan"})


def parts_of_audit(object_type: str, field: str) -> set[str]:
    """Which live parts an audited change to a plan moves. Anything audited is in the
    activity feed and may change a readiness check or run mode's gate."""
    parts = {ACTIVITY, READINESS, RUN}
    if object_type in _SCHEDULE_OBJECTS and (
        object_type != "plan" or field in _SCHEDULE_PLAN_FIELDS
    ):
        parts |= {MILESTONES, WINDOWS, TIMELINE}
    if object_type in _TASK_OBJECTS or (object_type == "milestone" and field == "name"):
        parts.add(TASKS)
    return parts


def _rev_key(plan_id: int) -> str:
    return f"plan:{plan_id}:rev"


def _section_key(plan_id: int, section: str) -> str:
    return f"plan:{plan_id}:sec:{section}"


def _by_key(plan_id: int, section: str) -> str:
    return f"plan:{plan_id}:sec:{section}:by"


def _here_key(plan_id: int, user_id: int) -> str:
    return f"plan:{plan_id}:here:{user_id}"


def _roster_key(plan_id: int) -> str:
    return f"plan:{plan_id}:roster"


# Long enough to outlive any open page; a counter that expired anyway is "lost",
# which open pages handle as "reload every section".
_KEEP = 60 * 60 * 24


def _incr(key: str) -> int:
    cache.add(key, 0, _KEEP)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, _KEEP)
        return 1


def revision(plan_id: int) -> int:
    """The plan's change counter; 0 when the cache has none (never changed, or lost)."""
    return cache.get(_rev_key(plan_id)) or 0


def section_revisions(plan_id: int) -> dict[str, dict]:
    """Each section's and part's own change counter and who changed it last."""
    names = [*SECTIONS, *PARTS]
    keys = [k for s in names for k in (_section_key(plan_id, s), _by_key(plan_id, s))]
    found = cache.get_many(keys)
    return {
        s: {
            "rev": found.get(_section_key(plan_id, s), 0),
            "by": found.get(_by_key(plan_id, s), ""),
        }
        for s in names
    }


def page_state(plan_id: int) -> tuple[int, str]:
    """What an open page starts polling from: the plan's counter and, as JSON for a
    data attribute, each section's and part's. Read before the page's data, so a
    save between the two is fetched by the first poll rather than missed."""
    try:
        rev = revision(plan_id)
        sections = {s: v["rev"] for s, v in section_revisions(plan_id).items()}
    except CACHE_ERRORS:
        logger.warning("live: cache unreachable, plan %s page starts as lost", plan_id)
        return -1, "{}"
    return rev, json.dumps(sections)


def sections_changed(*, plan_id: int, fields, by) -> None:
    """After the transaction commits: bump the counter of each section the fields
    belong to, then the plan's."""
    parts_changed(
        plan_id=plan_id, parts={SECTION_OF_FIELD[f] for f in fields if f in SECTION_OF_FIELD}, by=by
    )


def parts_changed(*, plan_id: int, parts, by) -> None:
    """After the transaction commits: bump the counter of each named section or part,
    then the plan's. In that order, a poll that sees the plan's counter move also
    sees every part counter that moved before it. A rolled-back transaction bumps
    nothing (its on_commit callbacks are dropped)."""
    parts = sorted(set(parts))
    if not parts:
        return
    name = getattr(by, "display_name", "") or getattr(by, "username", "")

    def bump() -> None:
        try:
            for s in parts:
                cache.set(_by_key(plan_id, s), name, _KEEP)
                _incr(_section_key(plan_id, s))
            _incr(_rev_key(plan_id))
        except CACHE_ERRORS:
            # The change is saved; open pages see it with the next bump, or reload
            # everything when they find the counters lost.
            logger.warning("live: cache unreachable, plan %s change not announced", plan_id)

    transaction.on_commit(bump)


def changes_since(*, plan_id: int, since: int) -> tuple[int, dict | None, bool]:
    """(the plan's counter, every section's counter when it moved from `since` else
    None, whether it was lost: went back or vanished, so pages reload everything)."""
    rev = revision(plan_id)
    if rev == since:
        return rev, None, False
    return rev, section_revisions(plan_id), rev < since or rev == 0


# --- presence ---------------------------------------------------------------------


def presence_ttl() -> int:
    return getattr(settings, "PLAN_PRESENCE_TTL", 30)


def here(*, plan_id: int, user, editing: str = "") -> None:
    """`user` has the plan open (editing a section, or not) for the next TTL seconds."""
    ttl = presence_ttl()
    editing = editing if editing in SECTIONS else ""
    cache.set(
        _here_key(plan_id, user.pk),
        {"name": user.display_name, "editing": editing},
        ttl,
    )
    roster = cache.get(_roster_key(plan_id)) or []
    if user.pk not in roster:
        # Rarely written (a new visitor); a lost race is repaired on the next poll.
        cache.set(_roster_key(plan_id), [*roster, user.pk][-50:], _KEEP)


def present(*, plan_id: int, exclude_user_id: int | None = None) -> list[dict]:
    """Who has the plan open now, and which section each is editing."""
    roster = cache.get(_roster_key(plan_id)) or []
    keys = {_here_key(plan_id, uid): uid for uid in roster if uid != exclude_user_id}
    found = cache.get_many(list(keys))
    people = []
    for key, uid in keys.items():
        entry = found.get(key)
        if entry:
            section = SECTIONS.get(entry["editing"])
            people.append(
                {
                    "id": uid,
                    "name": entry["name"],
                    "editing": entry["editing"],
                    "editing_label": str(section.label) if section else "",
                }
            )
    return sorted(people, key=lambda p: (p["name"], p["id"]))


def presence_tag(people: list[dict]) -> str:
    """A short fingerprint of who is here, for the poll's "nothing new" answer."""
    text = "|".join(f"{p['id']}:{p['editing']}" for p in people)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]
