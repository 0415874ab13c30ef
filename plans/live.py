"""The plan document's sections, and what open plan pages poll: which sections
changed since the page last looked, and who else has the plan open.

Nothing is kept in a process: a per-plan change counter and each section's last
change live in the shared cache (Redis in production, so every web process sees
them; the embedded default's per-process cache is all `make run`'s one process
needs). A lost counter (cache eviction, Redis restart) reads as "changed,
everything", so open pages catch up rather than miss a change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext_lazy as _


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
    """Each section's own change counter and who changed it last."""
    keys = [k for s in SECTIONS for k in (_section_key(plan_id, s), _by_key(plan_id, s))]
    found = cache.get_many(keys)
    return {
        s: {
            "rev": found.get(_section_key(plan_id, s), 0),
            "by": found.get(_by_key(plan_id, s), ""),
        }
        for s in SECTIONS
    }


def sections_changed(*, plan_id: int, fields, by) -> None:
    """After the transaction commits: bump the counter of each section the fields
    belong to, then the plan's. In that order, a poll that sees the plan's counter
    move also sees every section counter that moved before it."""
    sections = sorted({SECTION_OF_FIELD[f] for f in fields if f in SECTION_OF_FIELD})
    if not sections:
        return
    name = getattr(by, "display_name", "") or getattr(by, "username", "")

    def bump() -> None:
        for s in sections:
            cache.set(_by_key(plan_id, s), name, _KEEP)
            _incr(_section_key(plan_id, s))
        _incr(_rev_key(plan_id))

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
