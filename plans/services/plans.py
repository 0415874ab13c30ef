"""Writes to plans. Each service validates, saves in one transaction, and
queues side effects for after the commit.

The plan document merges rather than refuses: a save carries, for each edited
field, the value it had when the editor started, and only a field someone else
changed meanwhile is a conflict (`plan_update`). Milestones keep optimistic
locking: an edit names the version it was loaded from and the save is a
conditional `UPDATE ... WHERE version = loaded`; zero rows updated means someone
saved first (`StaleEdit`, carrying the current row) or the object is gone
(`Gone`). A stale save never re-creates a deleted row."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.teams.models import Membership
from patchplan.teams.roles import Role
from patchplan.teams.selectors import role_in_team
from plans import workflow
from plans.choices import DEFAULT_MILESTONES, PlanKind, PlanStatus, Raci, ReferenceKind, Risk
from plans.models import Comment, Milestone, Plan, PlanReference, PlanRole, PlanStatusChange
from plans.notify import events
from plans.services.documents import document_versions_record
from servers.models import Server


class StaleEdit(Exception):
    """Someone saved the object after the editor loaded it; `current` is the fresh row."""

    def __init__(self, current) -> None:
        super().__init__("stale edit")
        self.current = current


class Gone(Exception):
    """The object was deleted while the editor had it open."""


# --- references ---------------------------------------------------------------

CVE_RE = re.compile(r"^CVE-\d{4}-\d{4,}$")
# Advisory id patterns and where each is published.
ADVISORIES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^DSA-\d{3,}(-\d+)?$"), "https://security-tracker.debian.org/tracker/{id}"),
    (re.compile(r"^DLA-\d{3,}(-\d+)?$"), "https://security-tracker.debian.org/tracker/{id}"),
    (re.compile(r"^USN-\d+-\d+$"), "https://ubuntu.com/security/notices/{id}"),
    (re.compile(r"^RH[SBE]A-\d{4}:\d{3,}$"), "https://access.redhat.com/errata/{id}"),
    (re.compile(r"^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$"), "https://github.com/advisories/{id}"),
]
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    kind: str
    identifier: str
    url: str


def reference_parse(text: str) -> Reference:
    """A CVE id, an advisory id (DSA-5678-1, USN-6543-1, RHSA-2024:1234...) or an
    http(s) link, with the page it links to; ValidationError otherwise."""
    text = text.strip()
    upper = text.upper()
    if CVE_RE.match(upper):
        return Reference(ReferenceKind.CVE, upper, f"https://www.cve.org/CVERecord?id={upper}")
    for pattern, url in ADVISORIES:
        if pattern.match(upper) or (upper.startswith("GHSA") and pattern.match(text)):
            ident = text if upper.startswith("GHSA") else upper
            return Reference(ReferenceKind.ADVISORY, ident, url.format(id=ident))
    if _URL_RE.match(text) and len(text) <= 500:
        return Reference(ReferenceKind.LINK, "", text)
    if upper.startswith("CVE"):
        raise ValidationError(
            _("%(ref)s is not a CVE id (CVE-YYYY-NNNN).") % {"ref": text}, code="reference"
        )
    raise ValidationError(
        _("%(ref)s is neither a CVE id, a known advisory id (DSA-, DLA-, USN-, RHSA-, GHSA-) "
          "nor an http(s) link.") % {"ref": text},
        code="reference",
    )  # fmt: skip


def references_parse(lines: Iterable[str]) -> list[Reference]:
    """Parse many references, dropping blanks and duplicates; all errors at once."""
    refs: list[Reference] = []
    errors: list[ValidationError] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            ref = reference_parse(line)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if ref not in refs:
            refs.append(ref)
    if errors:
        raise ValidationError(errors)
    return refs


def _references_replace(plan: Plan, refs: Sequence[Reference]) -> None:
    plan.references.all().delete()
    PlanReference.objects.bulk_create(
        PlanReference(plan=plan, kind=r.kind, identifier=r.identifier, url=r.url) for r in refs
    )


# --- people -------------------------------------------------------------------


def _require_members(team_id: int, users: Iterable, what: str) -> None:
    users = [u for u in users if u is not None]
    if not users:
        return
    ids = {u.pk for u in users}
    found = set(
        Membership.objects.filter(team_id=team_id, user_id__in=ids).values_list(
            "user_id", flat=True
        )
    )
    if ids - found:
        raise ValidationError({what: _("Only members of the plan's team can be chosen.")})


# --- the plan -----------------------------------------------------------------

EDITABLE_FIELDS = frozenset(
    {
        "title",
        "kind",
        "risk",
        "objective",
        "success_criteria",
        "packages",
        "package_targets",
        "backup_plan",
        "test_procedure",
        "rollback_plan",
        "communication_plan",
        "owner",
        "review_by",
        "lessons_learned",
    }
)


def _clean_fields(team_id: int, fields: dict) -> dict:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if "title" in fields:
        fields["title"] = (fields["title"] or "").strip()
        if not fields["title"]:
            raise ValidationError({"title": _("A plan needs a title.")})
    if "kind" in fields and fields["kind"] not in PlanKind.values:
        raise ValidationError({"kind": _("Unknown kind.")})
    if "risk" in fields and fields["risk"] not in Risk.values:
        raise ValidationError({"risk": _("Unknown risk level.")})
    if "packages" in fields:
        fields["packages"] = packages_clean(fields["packages"])
    if "package_targets" in fields:
        fields["package_targets"] = package_targets_clean(fields["package_targets"])
    if "owner" in fields:
        if fields["owner"] is None:
            raise ValidationError({"owner": _("A plan needs an owner.")})
        _require_members(team_id, [fields["owner"]], "owner")
    return fields


_PACKAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:-]*$")


def packages_clean(packages: Iterable[str]) -> list[str]:
    """Package names, de-duplicated in order; a name with odd characters is refused."""
    out: list[str] = []
    for name in packages:
        name = name.strip()
        if not name:
            continue
        if not _PACKAGE_RE.match(name) or len(name) > 100:
            message = _("%(name)s is not a package name.") % {"name": name}
            raise ValidationError({"packages": message})
        if name not in out:
            out.append(name)
    return out


_TARGET_VERSION_RE = re.compile(r"^[A-Za-z0-9.+~:_-]{1,200}$")


def package_targets_clean(targets: dict) -> dict[str, str]:
    """Package name -> minimum (fixed) version; odd names or versions are refused."""
    out: dict[str, str] = {}
    for name, version in (targets or {}).items():
        [name] = packages_clean([name]) or [""]
        version = str(version).strip()
        if not name or not _TARGET_VERSION_RE.match(version):
            message = _("%(v)s is not a package version.") % {"v": version}
            raise ValidationError({"package_targets": message})
        out[name] = version
    return out


@transaction.atomic
def plan_create(
    *,
    team,
    title: str,
    owner,
    by,
    references: Sequence[Reference] = (),
    default_milestones: bool = True,
    is_template: bool = False,
    servers: Iterable[Server] = (),
    **fields,
) -> Plan:
    """Create a draft plan with the default milestones (assessment, testing,
    deployment, review) and its owner as the accountable person; `servers` (e.g. a
    fleet search's answer) start in its scope, in the same transaction."""
    fields = _clean_fields(team.pk, {"title": title, "owner": owner, **fields})
    plan = Plan.objects.create(team=team, created_by=by, is_template=is_template, **fields)
    _references_replace(plan, references)
    if default_milestones:
        Milestone.objects.bulk_create(
            Milestone(plan=plan, name=name, position=i) for i, name in enumerate(DEFAULT_MILESTONES)
        )
    PlanRole.objects.create(plan=plan, user=plan.owner, raci=Raci.ACCOUNTABLE)
    from plans.audit import audit_event

    audit_event(plan=plan, action="created", field="plan", new=plan.title, by=by)
    written = {n: v for n, v in fields.items() if v}
    document_versions_record(plan_id=plan.pk, texts=written, by=by)
    if servers:
        plan_scope_add(plan=plan, servers=servers, by=by)
    return plan


@dataclass(frozen=True)
class FieldConflict:
    """A field the user changed that someone else changed too since the editor
    started: what it was then (`base`), the user's value and the saved one."""

    field: str
    base: object
    mine: object
    theirs: object


@dataclass
class DocumentSave:
    plan: Plan
    saved: list[str]
    conflicts: list[FieldConflict]


def _comparable(name: str, value):
    """A value as it reads to a person: line ends, outer blanks, models by id and
    references by what was typed, so a form's base compares with the saved row."""
    if value is None:
        return ""
    if name == "references":
        return [getattr(r, "identifier", "") or r.url for r in value]
    if isinstance(value, str):
        return value.replace("\r\n", "\n").strip()
    if hasattr(value, "pk"):
        return value.pk
    return value


def _references_now(plan_id: int) -> list[PlanReference]:
    return list(PlanReference.objects.filter(plan_id=plan_id).order_by("pk"))


@transaction.atomic
def plan_update(*, plan: Plan, by, base: dict | None = None, **fields) -> DocumentSave:
    """Save the fields the user changed: each edited field comes with `base`, the value
    it had when the editor started. A field whose value equals its base was not
    changed and is not written. A changed field is written if nobody else changed it
    since (the saved value still equals the base, or already equals the user's); one
    someone else changed is a `FieldConflict`, left as they saved it, while the other
    fields are saved. `references` compare and save as one field. Gone if deleted.
    Without `base` (code, not a person's editor) the `plan` as the caller loaded it
    is what it started from."""
    fields = dict(fields)
    references = fields.pop("references", None)
    fields = _clean_fields(plan.team_id, fields)
    if references is not None:
        fields["references"] = list(references)
    if base is None:
        base = {
            n: list(plan.references.all()) if n == "references" else getattr(plan, n)
            for n in fields
        }
    missing = set(fields) - set(base)
    if missing:
        raise ValueError(f"no base value for {sorted(missing)}")
    # The row locked: two saves of one plan compare and write one after the other.
    current = Plan.objects.select_for_update().filter(pk=plan.pk).first()
    if current is None:
        raise Gone()
    now_refs = _references_now(plan.pk) if "references" in fields else []
    write: dict = {}
    before: dict = {}
    conflicts: list[FieldConflict] = []
    for name, mine in fields.items():
        theirs = now_refs if name == "references" else getattr(current, name)
        was, mine_c, theirs_c = (_comparable(name, v) for v in (base[name], mine, theirs))
        if mine_c in (was, theirs_c):
            continue  # not changed by this user, or already what they want
        if theirs_c != was:
            conflicts.append(FieldConflict(name, base[name], mine, theirs))
            continue
        write[name] = mine
        before[name] = [str(r) for r in theirs] if name == "references" else theirs
    if write:
        refs = write.pop("references", None)
        Plan.objects.filter(pk=plan.pk).update(**write, updated_at=timezone.now())
        if refs is not None:
            _references_replace(current, refs)
            write["references"] = refs
    plan.refresh_from_db()
    if write:
        from plans import live
        from plans.audit import audit_changes

        after = {n: getattr(plan, n) for n in write if n != "references"}
        if "references" in write:
            after["references"] = [str(r) for r in _references_now(plan.pk)]
        audit_changes(plan=plan, obj=None, before=before, after=after, by=by)
        document_versions_record(plan_id=plan.pk, texts=after, by=by)
        live.sections_changed(plan_id=plan.pk, fields=write, by=by)
    return DocumentSave(plan=plan, saved=sorted(write), conflicts=conflicts)


@transaction.atomic
def plan_delete(*, plan: Plan, by) -> None:
    """Delete a draft or cancelled plan, or a template. Plans that were approved or
    ran keep their record (the audit trail); cancel them instead."""
    if not plan.is_template and plan.status not in (PlanStatus.DRAFT, PlanStatus.CANCELLED):
        raise ValidationError(
            _("Only draft or cancelled plans can be deleted; cancel this one instead.")
        )
    from django.db.models import ProtectedError

    from plans.history_guard import history_purge
    from plans.models import FollowUp, SignOff

    if FollowUp.objects.filter(follow_up_plan_id=plan.pk).exists():
        raise ValidationError(_("This plan follows up servers of another plan; cancel it instead."))
    # The whole record goes with the plan (the only deletion of history rows the
    # triggers let through, see plans.history_guard): its sign-offs first, which
    # protect their milestones.
    with history_purge():
        SignOff.objects.filter(milestone__plan_id=plan.pk).delete()
        try:
            Plan.objects.filter(pk=plan.pk).delete()
        except ProtectedError:
            raise ValidationError(
                _("This plan's record is referenced; cancel it instead.")
            ) from None


@transaction.atomic
def plan_transition(*, plan: Plan, to_status: str, by, note: str = "") -> PlanStatusChange:
    """Move a plan to another status if the workflow table lets `by`'s role make
    the move; record who and when, and notify."""
    from_status = plan.status
    if plan.is_template:
        raise ValidationError(_("Templates have no status; create a plan from it."))
    if to_status in (PlanStatus.COMPLETED, PlanStatus.COMPLETED_EXC):
        raise ValidationError(_("A plan completes when its review is signed off."))
    if (from_status, to_status) not in workflow.TRANSITIONS:
        raise ValidationError(
            _("A plan can't move from %(a)s to %(b)s.")
            % {"a": PlanStatus(from_status).label, "b": PlanStatus(to_status).label}
        )
    role = role_in_team(user=by, team_id=plan.team_id)
    if not workflow.can_move(role=role, from_status=from_status, to_status=to_status):
        raise PermissionDenied(_("Your role may not make this move."))
    four_eyes = (from_status, to_status) in workflow.FOUR_EYES_MOVES and plan.team.four_eyes
    if four_eyes and plan.owner_id == by.pk:
        raise PermissionDenied(_("Four eyes: nobody approves their own plan."))
    now = timezone.now()
    extra = {"completed_at": now} if to_status == PlanStatus.COMPLETED else {}
    rows = Plan.objects.filter(pk=plan.pk, status=from_status).update(
        status=to_status, version=F("version") + 1, updated_at=now, **extra
    )
    if not rows:
        raise ValidationError(_("The plan's status changed meanwhile; reload the page."))
    change = PlanStatusChange.objects.create(
        plan=plan, from_status=from_status, to_status=to_status, by=by, note=note[:500]
    )
    plan.refresh_from_db()
    events.plan_status_changed(plan=plan, old_status=from_status, new_status=to_status, by=by)
    from plans.audit import audit_event

    audit_event(plan=plan, action="status", field="status", old=from_status, new=to_status, by=by)
    return change


# --- scope --------------------------------------------------------------------


@transaction.atomic
def plan_scope_add(*, plan: Plan, servers: Iterable[Server], by) -> int:
    """Add servers to a plan's scope; they must belong to the plan's team.
    Returns how many were new to the scope."""
    servers = list(servers)
    if any(s.team_id != plan.team_id for s in servers):
        raise ValidationError(_("Servers of another team can't be added to this plan."))
    existing = set(plan.servers.filter(pk__in=[s.pk for s in servers]).values_list("pk", flat=True))
    new = [s for s in servers if s.pk not in existing]
    if new:
        plan.servers.add(*new)
        Plan.objects.filter(pk=plan.pk).update(
            version=F("version") + 1, scope_changed_at=timezone.now()
        )
        from plans.audit import audit_event

        audit_event(plan=plan, action="scope", field="servers added", new=new, by=by)
    return len(new)


@transaction.atomic
def plan_scope_remove(*, plan: Plan, servers: Iterable[Server], by) -> int:
    """Take servers out of a plan's scope (and out of its windows). Returns how many left."""
    ids = [s.pk for s in servers if s.team_id == plan.team_id]
    through = Plan.servers.through
    removed, _detail = through.objects.filter(plan_id=plan.pk, server_id__in=ids).delete()
    if removed:
        from plans.models import WindowServer

        WindowServer.objects.filter(window__plan=plan, server_id__in=ids).delete()
        Plan.objects.filter(pk=plan.pk).update(
            version=F("version") + 1, scope_changed_at=timezone.now()
        )
        from plans.audit import audit_event

        gone = [s for s in servers if s.pk in ids]
        audit_event(plan=plan, action="scope", field="servers removed", old=gone, by=by)
    return removed


# --- milestones ---------------------------------------------------------------


def _check_dates(starts_on: date | None, due_on: date | None) -> None:
    if starts_on and due_on and due_on < starts_on:
        raise ValidationError({"due_on": _("The due date is before the start.")})


def _check_signoffs(plan: Plan, roles: Sequence[str], users: Sequence, count: int) -> None:
    bad = [r for r in roles if r not in Role.values]
    if bad:
        raise ValidationError({"signoff_roles": _("Unknown role: %(r)s.") % {"r": bad[0]}})
    _require_members(plan.team_id, users, "signoff_users")
    if count < 1:
        raise ValidationError({"signoff_count": _("At least one approval is needed.")})
    if not roles and users and count > len(users):
        raise ValidationError(
            {"signoff_count": _("More approvals than people named, and no role given.")}
        )


def _renumber(plan: Plan) -> None:
    for i, m in enumerate(plan.milestones.order_by("position", "pk")):
        if m.position != i:
            Milestone.objects.filter(pk=m.pk).update(position=i)


@transaction.atomic
def milestone_add(
    *, plan: Plan, name: str, by, starts_on: date | None = None, due_on: date | None = None
) -> Milestone:
    """Append a milestone (phase) to the plan's timeline."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A milestone needs a name.")})
    _check_dates(starts_on, due_on)
    last = plan.milestones.aggregate(m=Max("position"))["m"]
    milestone = Milestone.objects.create(
        plan=plan,
        name=name,
        position=0 if last is None else last + 1,
        starts_on=starts_on,
        due_on=due_on,
    )
    from plans.audit import audit_event

    audit_event(plan=plan, obj=milestone, action="created", field="milestone", new=name, by=by)
    return milestone


@transaction.atomic
def milestone_update(
    *,
    milestone: Milestone,
    version: int,
    by,
    name: str,
    starts_on: date | None,
    due_on: date | None,
    signoff_roles: Sequence[str] = (),
    signoff_users: Sequence = (),
    signoff_count: int = 1,
    entry_checks: Sequence[str] | None = None,
    exit_checks: Sequence[str] | None = None,
) -> Milestone:
    """Rename/re-date a milestone, set the sign-offs it will need and its gate (check
    codes from the catalogue; None keeps what it has), if still at `version`."""
    from plans.readiness import CATALOGUE, gate_codes

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A milestone needs a name.")})
    _check_dates(starts_on, due_on)
    _check_signoffs(milestone.plan, signoff_roles, signoff_users, signoff_count)
    gate = {}
    for key, codes in (("entry_checks", entry_checks), ("exit_checks", exit_checks)):
        if codes is None:
            continue
        unknown = [c for c in codes if c not in CATALOGUE]
        if unknown:
            raise ValidationError({key: _("Unknown check: %(c)s.") % {"c": unknown[0]}})
        # Kept in the catalogue's order; saved only when it differs from what applies.
        ordered = [c for c in CATALOGUE if c in codes]
        current = gate_codes(milestone)[0 if key == "entry_checks" else 1]
        if ordered != current:
            gate[key] = ordered
    audited = (
        "name",
        "starts_on",
        "due_on",
        "signoff_roles",
        "signoff_count",
        "entry_checks",
        "exit_checks",
    )
    before = {n: getattr(milestone, n) for n in audited}
    rows = Milestone.objects.filter(pk=milestone.pk, version=version).update(
        name=name,
        starts_on=starts_on,
        due_on=due_on,
        signoff_roles=list(signoff_roles),
        signoff_count=signoff_count,
        version=F("version") + 1,
        **gate,
    )
    if not rows:
        current = Milestone.objects.filter(pk=milestone.pk).first()
        if current is None:
            raise Gone()
        raise StaleEdit(current)
    milestone.refresh_from_db()
    milestone.signoff_users.set(list(signoff_users))
    from plans.audit import audit_changes

    after = {n: getattr(milestone, n) for n in audited}
    audit_changes(plan=milestone.plan_id, obj=milestone, before=before, after=after, by=by)
    return milestone


@transaction.atomic
def milestone_move(*, milestone: Milestone, offset: int, by) -> None:
    """Move a milestone up (offset -1) or down (+1) the timeline."""
    ordered = list(milestone.plan.milestones.order_by("position", "pk").select_for_update())
    index = next(i for i, m in enumerate(ordered) if m.pk == milestone.pk)
    target = index + offset
    if not 0 <= target < len(ordered):
        return
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for i, m in enumerate(ordered):
        if m.position != i:
            Milestone.objects.filter(pk=m.pk).update(position=i)
    from plans.audit import audit_event

    audit_event(
        plan=milestone.plan_id,
        obj=milestone,
        action="moved",
        field="position",
        old=index + 1,
        new=target + 1,
        by=by,
    )


@transaction.atomic
def milestone_remove(*, milestone: Milestone, by) -> None:
    """Remove a milestone; its tasks and windows stay, without a milestone. One with
    sign-offs (history) is retired instead: kept, out of the timeline's gates."""
    from plans.audit import audit_event
    from plans.models import SignOff

    if milestone.signed_off_at:
        raise ValidationError(_("A signed-off milestone can't be removed."))
    plan = milestone.plan
    if SignOff.objects.filter(milestone_id=milestone.pk).exists():
        Milestone.objects.filter(pk=milestone.pk).update(
            retired_at=timezone.now(), version=F("version") + 1
        )
        audit_event(plan=plan, obj=milestone, action="retired", field="milestone", by=by)
        return
    audit_event(
        plan=plan, obj=milestone, action="deleted", field="milestone", old=milestone.name, by=by
    )
    milestone.delete()
    _renumber(plan)


# --- comments -----------------------------------------------------------------

MENTION_RE = re.compile(r"(?<![\w@.])@([\w.+-]+)")
MAX_COMMENT = 10_000


def mentions_in(body: str) -> list[str]:
    """The usernames @mentioned in a text, in order, without a trailing dot."""
    seen: list[str] = []
    for raw in MENTION_RE.findall(body):
        name = raw.rstrip(".")
        if name and name not in seen:
            seen.append(name)
    return seen


@transaction.atomic
def comment_post(*, plan: Plan, body: str, by) -> Comment:
    """Post a comment; the team members it @mentions are recorded and notified."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    if len(body) > MAX_COMMENT:
        raise ValidationError({"body": _("A comment is at most 10,000 characters.")})
    names = mentions_in(body)
    members = []
    if names:
        members = [
            m.user
            for m in Membership.objects.filter(
                team_id=plan.team_id, user__username__in=names
            ).select_related("user")
        ]
    comment = Comment.objects.create(plan=plan, author=by, body=body)
    if members:
        comment.mentions.set(members)
    from plans.audit import audit_event

    audit_event(plan=plan, obj=comment, action="commented", field="comment", new=body, by=by)
    events.comment_posted(comment=comment, mentioned_users=members, by=by)
    return comment


# --- templates ----------------------------------------------------------------


@transaction.atomic
def plan_save_as_template(*, plan: Plan, title: str, review_by: date | None, by) -> Plan:
    """Copy a plan into a template: sections, references, milestones, windows and
    tasks with their dates, and its servers as examples of the roles they play (their
    environment and tags): a plan made from it gets the team's current servers of
    those roles. A template is never run."""
    from plans import yaml_io

    data = yaml_io.plan_to_data(plan)
    data["title"] = title
    _reset_progress(data)
    template = yaml_io.plan_from_data(data, team=plan.team, by=by, is_template=True)
    Plan.objects.filter(pk=template.pk).update(review_by=review_by, created_from=plan)
    template.refresh_from_db()
    return template


def _reset_progress(data: dict) -> None:
    """A copy starts with every task to do and nothing ticked."""
    for task in data.get("tasks", []):
        task["status"] = "todo"
        for item in task.get("checklist", []):
            item["done"] = False


def _resolve_roles(template: Plan) -> dict[str, list[str]]:
    """Each server of the template -> the hostnames of the team's current servers of the
    same role: the same environment and every one of its tags (a server without tags
    stands for itself, if it still exists)."""
    from servers.models import Server

    current = list(Server.objects.filter(team_id=template.team_id).prefetch_related("tags"))
    tags_of = {s.pk: {t.pk for t in s.tags.all()} for s in current}
    resolved: dict[str, list[str]] = {}
    for server in template.servers.prefetch_related("tags"):
        wanted = {t.pk for t in server.tags.all()}
        if not wanted:
            resolved[server.hostname] = [s.hostname for s in current if s.pk == server.pk]
            continue
        resolved[server.hostname] = sorted(
            s.hostname
            for s in current
            if s.environment == server.environment and wanted <= tags_of[s.pk]
        )
    return resolved


def _same_weekday_and_time(value: str, offset, tz) -> str:
    """A window's start moved by `offset` days, then on to the same weekday, at the
    same time of day in the team's zone."""
    from datetime import datetime, timedelta

    local = datetime.fromisoformat(value).astimezone(tz)
    day = local.date() + offset
    day += timedelta(days=(local.weekday() - day.weekday()) % 7)
    return datetime.combine(day, local.time(), tzinfo=tz).isoformat()


@transaction.atomic
def plan_create_from_template(
    *, template: Plan, title: str, starts_on: date, by, owner=None
) -> Plan:
    """A new draft plan from a template (or a copy of any plan), its timeline moved to
    start on `starts_on`: milestones and tasks by the same number of days, windows to
    the same weekday and time of day (team's zone). Every task starts to do, nothing
    is ticked, no evidence or execution is copied, and the template's servers are
    resolved to the team's current servers of the same role (environment and tags)."""
    from datetime import datetime

    from plans import yaml_io

    data = yaml_io.plan_to_data(template)
    anchor = yaml_io.data_first_date(data)
    offset = (starts_on - anchor) if anchor else None
    windows = data.pop("windows", [])
    if offset:
        yaml_io.data_shift(data, offset)
        tz = template.team.tzinfo
        for w in windows:
            length = datetime.fromisoformat(w["ends"]) - datetime.fromisoformat(w["starts"])
            w["starts"] = _same_weekday_and_time(w["starts"], offset, tz)
            w["ends"] = (datetime.fromisoformat(w["starts"]) + length).isoformat()
    resolved = _resolve_roles(template)
    data["servers"] = sorted(
        {h for host in data.get("servers", []) for h in resolved.get(host, [])}
    )
    for w in windows:
        w["servers"] = [
            {"hostname": h, "downtime_minutes": ws.get("downtime_minutes", 0)}
            for ws in w.get("servers", [])
            for h in resolved.get(ws.get("hostname"), [])
        ]
    data["windows"] = windows
    data["title"] = title
    data.pop("review_by", None)
    _reset_progress(data)
    if owner is not None:
        data["owner"] = owner.username
    plan = yaml_io.plan_from_data(data, team=template.team, by=by)
    Plan.objects.filter(pk=plan.pk).update(created_from=template)
    plan.refresh_from_db()
    return plan
