"""Plans as YAML: the guide's milestone shape and a full plan export.

The guide writes a timeline as
    milestones:
      - assessment: "2023-10-01"
      - testing: "2023-10-05"
A short entry `{name: date}` is a milestone due on that date; the long form
(`name`, `starts`, `due`, `signoffs`) carries the rest. A full export adds the
plan's sections, references, scope (hostnames), windows with their servers and
expected downtime, tasks with checklists, and RACI roles; importing it gives an
equal plan (export, import, export again: the same text).

Reading is `yaml.SafeLoader` only, through a subclass that refuses anchors and
aliases (no alias bombs), limits nesting depth and node count, and remembers
line numbers so every problem names its line. Import is one transaction:
any problem and nothing is created."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone

from patchplan.core.text import CONTROL_CHARACTERS
from patchplan.teams.models import Membership, Team
from plans.choices import PlanKind, Raci, Risk, TaskStatus
from plans.models import (
    Milestone,
    Plan,
    PlanRole,
    WindowServer,
)
from plans.services import plans as plan_services
from servers.models import Server

MAX_BYTES = 1_000_000
MAX_DEPTH = 20
# A full plan of the reference size (300 tasks, 20 windows, 200 servers) is about
# 10,000 nodes; refusing past 50,000 keeps a hostile file under a second or two.
MAX_NODES = 50_000

TEXT_FIELDS = (
    "objective",
    "success_criteria",
    "backup_plan",
    "test_procedure",
    "rollback_plan",
    "communication_plan",
    "lessons_learned",
)
TOP_KEYS = (
    "title", "kind", "risk", "owner", *TEXT_FIELDS, "packages", "references", "servers",
    "review_by", "milestones", "windows", "tasks", "roles",
)  # fmt: skip
MILESTONE_KEYS = ("name", "starts", "due", "signoffs")
SIGNOFF_KEYS = ("roles", "people", "count")
WINDOW_KEYS = ("title", "milestone", "starts", "ends", "servers")
WINDOW_SERVER_KEYS = ("hostname", "downtime_minutes")
TASK_KEYS = ("title", "description", "milestone", "assignee", "due", "status", "checklist")
CHECK_KEYS = ("text", "done")
ROLE_KEYS = ("user", "role")


class PlanImportError(Exception):
    """The YAML can't become a plan; `problems` are messages, each naming its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --- reading ------------------------------------------------------------------


class LineDict(dict):
    line: int | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}


class LineList(list):
    line: int | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.item_lines: list[int] = []


class _Problem(yaml.YAMLError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases, with depth and size limits and line numbers."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise _Problem(line, "aliases (*name) are not allowed")
        if getattr(event, "anchor", None):
            raise _Problem(line, "anchors (&name) are not allowed")
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            raise _Problem(line, f"nested deeper than {MAX_DEPTH} levels")
        if self._nodes > MAX_NODES:
            raise _Problem(line, "too many values")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_map(loader: StrictSafeLoader, node: yaml.MappingNode) -> LineDict:
    data = LineDict()
    data.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, (dict, list)):
            raise _Problem(line, "a key must be a plain value")
        if key in data:
            raise _Problem(line, f"duplicate key {key!r}")
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line
    return data


def _construct_seq(loader: StrictSafeLoader, node: yaml.SequenceNode) -> LineList:
    data = LineList()
    data.line = node.start_mark.line + 1
    for child in node.value:
        data.append(loader.construct_object(child, deep=True))
        data.item_lines.append(child.start_mark.line + 1)
    return data


StrictSafeLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
StrictSafeLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(text: str | bytes) -> Any:
    """Parse YAML safely; PlanImportError with the line for anything wrong."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise PlanImportError([f"The file is larger than {MAX_BYTES // 1000} kB."])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PlanImportError(["The file is not UTF-8 text."]) from exc
    if len(text) > MAX_BYTES:
        raise PlanImportError([f"The file is larger than {MAX_BYTES // 1000} kB."])
    try:
        return yaml.load(text, Loader=StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except _Problem as exc:
        raise PlanImportError([f"line {exc.line}: {exc.message}"]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        what = exc.problem or exc.context or "not valid YAML"
        raise PlanImportError([f"{where}not valid YAML ({what})"]) from exc
    except yaml.YAMLError as exc:
        raise PlanImportError([f"not valid YAML ({exc})"]) from exc


# --- validating ---------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, line: int | None, message: str) -> None:
        self.problems.append(f"line {line}: {message}" if line else message)


def _key_line(d: Any, key: Any) -> int | None:
    return getattr(d, "key_lines", {}).get(key) or getattr(d, "line", None)


def _item_line(seq: Any, index: int) -> int | None:
    lines = getattr(seq, "item_lines", None)
    return lines[index] if lines and index < len(lines) else getattr(seq, "line", None)


def _unknown_keys(c: _Collector, d: dict, known: Iterable[str], what: str) -> None:
    known = tuple(known)
    for key in d:
        if key not in known:
            c.add(_key_line(d, key), f"unknown key {key!r} in {what} (known: {', '.join(known)})")


def _str(
    c: _Collector, d: dict, key: str, *, line: int | None, max_len: int = 0, one_line=False
) -> str:
    value = d.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        c.add(line, f"{key} must be text")
        return ""
    value = str(value)
    if one_line:
        value = _one_line(c, value, key, line=line)
    if max_len and len(value) > max_len:
        c.add(line, f"{key} is longer than {max_len} characters")
    return value


def _one_line(c: _Collector, value: str, what: str, *, line: int | None) -> str:
    """Names and titles are refused with control characters, as in the forms
    (patchplan.core.text): they end up in email subjects and calendars. The
    ends are stripped first, so a YAML block scalar's final newline passes."""
    value = value.strip()
    if CONTROL_CHARACTERS.search(value):
        c.add(line, f"{what} must be one line of text (no line breaks, tabs or control characters)")
    return value


def _date(c: _Collector, value: Any, *, line: int | None, what: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        c.add(line, f"{what}: {value!r} is not a date (YYYY-MM-DD)")
        return None


def _datetime(c: _Collector, value: Any, *, line: int | None, what: str, tz) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            c.add(line, f"{what}: {value!r} is not a date and time (2023-10-10T22:00:00+00:00)")
            return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _list(c: _Collector, d: dict, key: str, what: str) -> list:
    value = d.get(key)
    if value is None:
        return LineList()
    if not isinstance(value, list):
        c.add(_key_line(d, key), f"{what} must be a list")
        return LineList()
    return value


def _choice(c: _Collector, d: dict, key: str, choices, default: str) -> str:
    value = d.get(key)
    if value is None:
        return default
    if value not in choices.values:
        c.add(
            _key_line(d, key),
            f"{key} {value!r} is not one of {', '.join(choices.values)}",
        )
        return default
    return value


def _parse_milestones(c: _Collector, data: dict, member) -> list[dict]:
    """The milestones list: short `{name: due}` or long entries, in date order."""
    milestones: list[dict] = []
    ms_list = _list(c, data, "milestones", "milestones")
    previous: dict | None = None
    for i, entry in enumerate(ms_list):
        line = _item_line(ms_list, i)
        if isinstance(entry, dict) and "name" not in entry and len(entry) == 1:
            name, when = next(iter(entry.items()))
            ms = {
                "name": _one_line(c, str(name), "name", line=line),
                "starts": None,
                "due": _date(c, when, line=line, what=str(name)),
                "roles": [],
                "people": [],
                "count": 1,
                "line": line,
                "long": False,
            }
        elif isinstance(entry, dict) and "name" in entry:
            _unknown_keys(c, entry, MILESTONE_KEYS, "a milestone")
            signoffs = entry.get("signoffs") or LineDict()
            if not isinstance(signoffs, dict):
                c.add(_key_line(entry, "signoffs"), "signoffs must be a mapping")
                signoffs = LineDict()
            _unknown_keys(c, signoffs, SIGNOFF_KEYS, "signoffs")
            people = [
                member(p, _key_line(signoffs, "people"), "sign-off person")
                for p in _list(c, signoffs, "people", "people")
            ]
            count = signoffs.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                c.add(_key_line(signoffs, "count"), "count must be a whole number of at least 1")
                count = 1
            roles = [str(r) for r in _list(c, signoffs, "roles", "roles")]
            ms = {
                "name": _str(c, entry, "name", line=line, max_len=100, one_line=True),
                "starts": _date(c, entry.get("starts"), line=_key_line(entry, "starts"),
                                what="starts"),
                "due": _date(c, entry.get("due"), line=_key_line(entry, "due"), what="due"),
                "roles": roles,
                "people": [p for p in people if p is not None],
                "count": count,
                "line": line,
                "long": True,
            }  # fmt: skip
        else:
            c.add(line, 'a milestone is `- name: "YYYY-MM-DD"` or a mapping with a name')
            continue
        if not ms["name"].strip():
            c.add(line, "a milestone needs a name")
        if any(m["name"] == ms["name"] for m in milestones):
            c.add(line, f"milestone {ms['name']!r} is listed twice")
        if ms["starts"] and ms["due"] and ms["due"] < ms["starts"]:
            c.add(line, f"{ms['name']} is due ({ms['due']}) before it starts ({ms['starts']})")
        first = ms["starts"] or ms["due"]
        if previous is not None and first:
            before = previous["starts"] or previous["due"]
            if before and first < before:
                c.add(
                    line,
                    f"{ms['name']} ({first}) is before {previous['name']} ({before}):"
                    " milestones must be in date order",
                )
        if first:
            previous = ms
        milestones.append(ms)
    return milestones


@transaction.atomic
def plan_from_data(
    data: Any,
    *,
    team: Team,
    by=None,
    title: str | None = None,
    owner=None,
    is_template: bool = False,
) -> Plan:
    """Create a plan from parsed YAML (or plan_to_data's dict); PlanImportError
    listing every problem, with lines, and nothing created."""
    c = _Collector()
    if not isinstance(data, dict):
        raise PlanImportError(["The file must be a YAML mapping (keys such as title, milestones)."])
    _unknown_keys(c, data, TOP_KEYS, "the plan")

    members = {
        m.user.username: m.user for m in Membership.objects.filter(team=team).select_related("user")
    }

    def member(value: Any, line: int | None, what: str):
        if value is None or value == "":
            return None
        user = members.get(str(value))
        if user is None:
            c.add(line, f"{what}: {value!r} is not a member of team {team.slug}")
        return user

    plan_title = title or _str(
        c, data, "title", line=_key_line(data, "title"), max_len=200, one_line=True
    )
    if not plan_title.strip():
        c.add(
            getattr(data, "line", None),
            "the plan needs a title (a `title:` key, or give one when importing)",
        )
    fields: dict[str, Any] = {
        "kind": _choice(c, data, "kind", PlanKind, PlanKind.SECURITY_PATCH),
        "risk": _choice(c, data, "risk", Risk, Risk.MEDIUM),
    }
    for name in TEXT_FIELDS:
        fields[name] = _str(c, data, name, line=_key_line(data, name))
    fields["review_by"] = _date(
        c, data.get("review_by"), line=_key_line(data, "review_by"), what="review_by"
    )
    if owner is None:
        owner = member(data.get("owner"), _key_line(data, "owner"), "owner")
        if owner is None and data.get("owner") is None:
            owner = by if by is not None and by.username in members else None
            if owner is None:
                c.add(None, "the plan needs an owner (an `owner:` key with a member's username)")

    packages = _list(c, data, "packages", "packages")
    try:
        fields["packages"] = plan_services.packages_clean(str(p) for p in packages)
    except Exception as exc:  # ValidationError
        c.add(_key_line(data, "packages"), " ".join(getattr(exc, "messages", [str(exc)])))

    refs = []
    ref_list = _list(c, data, "references", "references")
    for i, raw in enumerate(ref_list):
        try:
            refs.append(plan_services.reference_parse(str(raw)))
        except Exception as exc:  # ValidationError
            c.add(_item_line(ref_list, i), " ".join(getattr(exc, "messages", [str(exc)])))

    hostnames = _list(c, data, "servers", "servers")
    wanted_hosts = {str(h) for h in hostnames}
    for ws_list in (w.get("servers") for w in data.get("windows") or [] if isinstance(w, dict)):
        for entry in ws_list or []:
            if isinstance(entry, dict) and entry.get("hostname"):
                wanted_hosts.add(str(entry["hostname"]))
    servers = {s.hostname: s for s in Server.objects.filter(team=team, hostname__in=wanted_hosts)}
    scope: list[Server] = []
    for i, host in enumerate(hostnames):
        server = servers.get(str(host))
        if server is None:
            c.add(_item_line(hostnames, i), f"unknown server {host!r} in team {team.slug}")
        elif server not in scope:
            scope.append(server)

    milestones = _parse_milestones(c, data, member)
    ms_names = {m["name"] for m in milestones}

    def milestone_ref(value: Any, line: int | None) -> str | None:
        if value is None or value == "":
            return None
        if str(value) not in ms_names:
            c.add(line, f"no milestone named {value!r}")
            return None
        return str(value)

    # Windows.
    tz = team.tzinfo
    windows: list[dict] = []
    win_list = _list(c, data, "windows", "windows")
    for i, entry in enumerate(win_list):
        line = _item_line(win_list, i)
        if not isinstance(entry, dict):
            c.add(line, "a window must be a mapping (starts, ends, servers...)")
            continue
        _unknown_keys(c, entry, WINDOW_KEYS, "a window")
        starts = _datetime(c, entry.get("starts"), line=_key_line(entry, "starts"),
                           what="starts", tz=tz)  # fmt: skip
        ends = _datetime(c, entry.get("ends"), line=_key_line(entry, "ends"), what="ends", tz=tz)
        if starts and ends and ends <= starts:
            c.add(line, "the window ends before it starts (or has no length)")
        win_servers = []
        ws_list = _list(c, entry, "servers", "window servers")
        for j, ws in enumerate(ws_list):
            ws_line = _item_line(ws_list, j)
            if isinstance(ws, str):
                ws = LineDict(hostname=ws)
            if not isinstance(ws, dict):
                c.add(ws_line, "a window server is a hostname or {hostname, downtime_minutes}")
                continue
            _unknown_keys(c, ws, WINDOW_SERVER_KEYS, "a window server")
            server = servers.get(str(ws.get("hostname")))
            if server is None:
                c.add(ws_line, f"unknown server {ws.get('hostname')!r} in team {team.slug}")
                continue
            downtime = ws.get("downtime_minutes", 0)
            if not isinstance(downtime, int) or isinstance(downtime, bool) or downtime < 0:
                c.add(ws_line, "downtime_minutes must be a whole number of minutes")
                downtime = 0
            win_servers.append((server, downtime))
        windows.append(
            {
                "title": _str(c, entry, "title", line=line, max_len=200, one_line=True),
                "milestone": milestone_ref(entry.get("milestone"), _key_line(entry, "milestone")),
                "starts": starts,
                "ends": ends,
                "servers": win_servers,
            }
        )

    # Tasks.
    tasks: list[dict] = []
    task_list = _list(c, data, "tasks", "tasks")
    for i, entry in enumerate(task_list):
        line = _item_line(task_list, i)
        if not isinstance(entry, dict):
            c.add(line, "a task must be a mapping (title, assignee, due...)")
            continue
        _unknown_keys(c, entry, TASK_KEYS, "a task")
        task_title = _str(c, entry, "title", line=line, max_len=200, one_line=True)
        if not task_title.strip():
            c.add(line, "a task needs a title")
        checklist = []
        check_list = _list(c, entry, "checklist", "checklist")
        for j, item in enumerate(check_list):
            item_line = _item_line(check_list, j)
            if isinstance(item, str):
                checklist.append((_one_line(c, item, "a checklist line", line=item_line), False))
            elif isinstance(item, dict):
                _unknown_keys(c, item, CHECK_KEYS, "a checklist line")
                checklist.append(
                    (
                        _str(c, item, "text", line=item_line, max_len=300, one_line=True),
                        bool(item.get("done")),
                    )
                )
            else:
                c.add(item_line, "a checklist line is text or {text, done}")
        tasks.append(
            {
                "title": task_title,
                "description": _str(c, entry, "description", line=line),
                "milestone": milestone_ref(entry.get("milestone"), _key_line(entry, "milestone")),
                "assignee": member(entry.get("assignee"), _key_line(entry, "assignee"), "assignee"),
                "due": _date(c, entry.get("due"), line=_key_line(entry, "due"), what="due"),
                "status": _choice(c, entry, "status", TaskStatus, TaskStatus.TODO),
                "checklist": checklist,
            }
        )

    # RACI roles.
    roles: list[tuple] = []
    role_list = data.get("roles")
    if role_list is not None:
        role_list = _list(c, data, "roles", "roles")
        for i, entry in enumerate(role_list):
            line = _item_line(role_list, i)
            if not isinstance(entry, dict):
                c.add(line, "a role is {user, role}")
                continue
            _unknown_keys(c, entry, ROLE_KEYS, "a role")
            user = member(entry.get("user"), line, "role user")
            raci = _choice(c, entry, "role", Raci, Raci.INFORMED)
            if user is not None and (user, raci) not in roles:
                roles.append((user, raci))
        accountable = [r for r in roles if r[1] == Raci.ACCOUNTABLE]
        if len(accountable) != 1:
            c.add(_key_line(data, "roles"), "a plan has exactly one accountable person")

    if c.problems:
        raise PlanImportError(c.problems)

    plan = plan_services.plan_create(
        team=team,
        title=plan_title.strip(),
        owner=owner,
        by=by,
        references=refs,
        default_milestones=False,
        is_template=is_template,
        **fields,
    )
    # Everything below goes through the services the pages use (validation, history,
    # notifications), inside this one transaction: a refusal leaves nothing behind.
    from plans.services import raci as raci_services
    from plans.services import tasks as task_services
    from plans.services import windows as window_services

    window_hosts = [s for w in windows for s, _d in w["servers"] if s not in scope]
    scope = scope + list(dict.fromkeys(window_hosts))
    if scope:
        plan_services.plan_scope_add(plan=plan, servers=scope, by=by)
    by_name: dict[str, Milestone] = {}
    for ms in milestones:
        m = plan_services.milestone_add(
            plan=plan, name=ms["name"], starts_on=ms["starts"], due_on=ms["due"], by=by
        )
        if ms["roles"] or ms["people"] or ms["count"] != 1:
            m = plan_services.milestone_update(
                milestone=m,
                version=m.version,
                by=by,
                name=m.name,
                starts_on=m.starts_on,
                due_on=m.due_on,
                signoff_roles=ms["roles"],
                signoff_users=ms["people"],
                signoff_count=ms["count"],
            )
        by_name[m.name] = m
    for w in windows:
        window_services.window_create(
            plan=plan,
            milestone=by_name.get(w["milestone"]),
            title=w["title"],
            starts_at=w["starts"],
            ends_at=w["ends"],
            downtimes=dict(w["servers"]),
            by=by,
        )
    for t in tasks:
        task = task_services.task_create(
            plan=plan,
            milestone=by_name.get(t["milestone"]),
            title=t["title"],
            description=t["description"],
            assignee=t["assignee"],
            due_on=t["due"],
            status=t["status"],
            checklist=[text for text, _done in t["checklist"]],
            by=by,
        )
        done = {text for text, is_done in t["checklist"] if is_done}
        for item in task.checklist.all():
            if item.text in done:
                task_services.checklist_item_toggle(item=item, done=True, by=by)
    if role_list is not None:
        for user, raci in sorted(roles, key=lambda r: r[1] != Raci.ACCOUNTABLE):
            raci_services.planrole_assign(plan=plan, user=user, raci=raci, by=by)
        # The owner was made accountable by plan_create; the file's roles replace it.
        for role in PlanRole.objects.filter(plan=plan).select_related("user"):
            if (role.user, role.raci) not in roles:
                raci_services.planrole_remove(role=role, by=by)
    return plan


def import_plan(
    text: str | bytes,
    *,
    team: Team,
    by=None,
    title: str | None = None,
    owner=None,
    starts_on: date | None = None,
) -> Plan:
    """Parse YAML and create the plan it describes (PlanImportError on any problem).
    With `starts_on`, every date of the timeline moves so that the first is that day."""
    data = load_yaml(text)
    if starts_on is not None:
        anchor = yaml_first_date(data)
        if anchor is not None and anchor != starts_on:
            data_shift(data, starts_on - anchor, tz=team.tzinfo)
    return plan_from_data(data, team=team, by=by, title=title, owner=owner)


def yaml_first_date(data: Any) -> date | None:
    """The first date of a loaded file's timeline, or None (no dates, or a shape that
    the import will report on anyway)."""
    try:
        return data_first_date(data)
    except (AttributeError, TypeError, ValueError):
        return None


@transaction.atomic
def milestones_import(text: str | bytes, *, plan: Plan, by) -> list[Milestone]:
    """Read the guide's `milestones:` list into an existing plan: a milestone of the
    same name gets the file's dates (and sign-offs, in the long form), others are
    added; the file's order comes first. PlanImportError and no change on a problem."""
    data = load_yaml(text)
    c = _Collector()
    if not isinstance(data, dict) or "milestones" not in data:
        raise PlanImportError(['The file needs a `milestones:` list (- assessment: "2023-10-01").'])
    for key in data:
        if key != "milestones":
            c.add(
                _key_line(data, key),
                f"unknown key {key!r} here (only milestones are read; import a whole plan"
                " from the plan list)",
            )
    members = {
        m.user.username: m.user
        for m in Membership.objects.filter(team_id=plan.team_id).select_related("user")
    }

    def member(value: Any, line: int | None, what: str):
        user = members.get(str(value))
        if user is None:
            c.add(line, f"{what}: {value!r} is not a member of the team")
        return user

    parsed = _parse_milestones(c, data, member)
    if c.problems:
        raise PlanImportError(c.problems)
    existing = {m.name: m for m in plan.milestones.select_for_update()}
    ordered: list[Milestone] = []
    for ms in parsed:
        m = existing.pop(ms["name"], None)
        if m is None:
            m = Milestone(plan=plan, name=ms["name"])
        m.starts_on = ms["starts"]
        m.due_on = ms["due"]
        if ms["long"]:
            m.signoff_roles = ms["roles"]
            m.signoff_count = ms["count"]
        ordered.append(m)
    ordered += sorted(existing.values(), key=lambda m: (m.position, m.pk))
    for position, m in enumerate(ordered):
        m.position = position
        if m.pk:
            m.version += 1
        m.save()
    for ms, m in zip(parsed, ordered, strict=False):
        if ms["long"]:
            m.signoff_users.set(ms["people"])
    return ordered


# --- writing ------------------------------------------------------------------


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def plan_to_data(plan: Plan) -> dict:
    """The plan as plain data, in a fixed order, ready for YAML."""
    data: dict[str, Any] = {
        "title": plan.title,
        "kind": plan.kind,
        "risk": plan.risk,
        "owner": plan.owner.username,
    }
    for name in TEXT_FIELDS:
        value = getattr(plan, name)
        if value:
            data[name] = value
    if plan.review_by:
        data["review_by"] = _d(plan.review_by)
    data["packages"] = list(plan.packages or [])
    data["references"] = [r.identifier or r.url for r in plan.references.all()]
    data["servers"] = sorted(plan.servers.values_list("hostname", flat=True))

    milestones = []
    for m in plan.milestones.order_by("position", "pk").prefetch_related("signoff_users"):
        people = sorted(u.username for u in m.signoff_users.all())
        plain = (
            (not m.starts_on and not m.signoff_roles and not people and m.signoff_count == 1)
            and m.due_on is not None
            and m.name not in MILESTONE_KEYS
        )
        if plain:
            milestones.append({m.name: _d(m.due_on)})
            continue
        entry: dict[str, Any] = {"name": m.name}
        if m.starts_on:
            entry["starts"] = _d(m.starts_on)
        if m.due_on:
            entry["due"] = _d(m.due_on)
        entry["signoffs"] = {
            "roles": list(m.signoff_roles or []),
            "people": people,
            "count": m.signoff_count,
        }
        milestones.append(entry)
    data["milestones"] = milestones

    by_window: dict[int, list] = {}
    for ws in (
        WindowServer.objects.filter(window__plan=plan)
        .select_related("server")
        .order_by("server__hostname")
    ):
        by_window.setdefault(ws.window_id, []).append(
            {"hostname": ws.server.hostname, "downtime_minutes": ws.expected_downtime_minutes}
        )
    windows = []
    for w in (
        plan.windows.filter(cancelled_at=None)
        .select_related("milestone")
        .order_by("starts_at", "ends_at", "pk")
    ):
        entry = {}
        if w.title:
            entry["title"] = w.title
        if w.milestone:
            entry["milestone"] = w.milestone.name
        entry["starts"] = _dt(w.starts_at)
        entry["ends"] = _dt(w.ends_at)
        entry["servers"] = by_window.get(w.pk, [])
        windows.append(entry)
    data["windows"] = windows

    tasks = []
    for t in (
        plan.tasks.select_related("milestone", "assignee")
        .prefetch_related("checklist")
        .order_by("position", "pk")
    ):
        entry = {"title": t.title}
        if t.description:
            entry["description"] = t.description
        if t.milestone:
            entry["milestone"] = t.milestone.name
        if t.assignee:
            entry["assignee"] = t.assignee.username
        if t.due_on:
            entry["due"] = _d(t.due_on)
        entry["status"] = t.status
        if t.checklist.all():
            entry["checklist"] = [{"text": i.text, "done": i.done} for i in t.checklist.all()]
        tasks.append(entry)
    data["tasks"] = tasks
    data["roles"] = [
        {"user": r.user.username, "role": r.raci}
        for r in plan.roles.select_related("user").order_by("raci", "user__username")
    ]
    return data


# libyaml's emitter when PyYAML was built with it (several times faster); the
# reading side stays pure Python, where the alias/depth checks hook in.
_DumperBase = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_DumperBase):
    """Block style, long texts as `|` blocks so they read like the page."""


def _str_representer(dumper, value: str):
    value = str(value)  # TextChoices members are str subclasses
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)
_Dumper.add_multi_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
        width=100,
    )  # fmt: skip


def export_plan(plan: Plan) -> str:
    """The plan as YAML text (imports back into an equal plan)."""
    return dump_yaml(plan_to_data(plan))


# --- shifting (templates) -----------------------------------------------------


def _as_date(value) -> date:
    # YAML reads an unquoted 2023-10-01 as a date, a quoted one as a string.
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def data_first_date(data: dict) -> date | None:
    """The earliest date of the timeline: milestones, windows (UTC day) and task due dates."""
    found: list[date] = []
    for m in data.get("milestones", []) or []:
        if "name" in m:
            found += [_as_date(m[k]) for k in ("starts", "due") if m.get(k)]
        else:
            found += [_as_date(v) for v in m.values() if v]
    for w in data.get("windows", []) or []:
        found.append(_as_datetime(w["starts"]).date())
    for t in data.get("tasks", []) or []:
        if t.get("due"):
            found.append(_as_date(t["due"]))
    return min(found) if found else None


def data_shift(data: dict, offset: timedelta, *, tz=None) -> None:
    """Move every date of the timeline by `offset` (whole days), in place. A window
    keeps its time of day in `tz` (the team's zone) across a DST change: 22:00 in
    October (+02:00) moved to December is 22:00 there (+01:00), not 21:00."""

    def shift_day(value) -> str:
        return (_as_date(value) + offset).isoformat()

    def shift_instant(value) -> str:
        moment = _as_datetime(value)
        if tz is None or timezone.is_naive(moment):
            # A naive time is already a wall time, read in the team's zone on import.
            return (moment + offset).isoformat()
        local = moment.astimezone(tz).replace(tzinfo=None) + offset
        return local.replace(tzinfo=tz).isoformat()

    for m in data.get("milestones", []):
        for key in list(m):
            is_date = key in ("starts", "due") or "name" not in m
            if is_date and m[key]:
                m[key] = shift_day(m[key])
    for w in data.get("windows", []):
        for key in ("starts", "ends"):
            w[key] = shift_instant(w[key])
    for t in data.get("tasks", []):
        if t.get("due"):
            t["due"] = shift_day(t["due"])
