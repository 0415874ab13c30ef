"""Writes to servers, tags and inventory tokens. Views, the command and the API call these."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.core import audit
from patchplan.core.tokens import hash_token
from patchplan.teams.models import Team

from .inventory import ImportResult, InventoryRejected, inventory_import
from .models import TOKEN_PREFIX, InventoryToken, Server, Tag
from .signals import server_deleting

__all__ = [
    "ImportResult",
    "InventoryRejected",
    "generate_token",
    "inventory_import",
    "inventory_import_new_server",
    "normalize_hostname",
    "parse_tag_names",
    "server_create",
    "server_delete",
    "server_update",
    "servers_tag",
    "tags_for_names",
    "token_authenticate",
    "token_create",
    "token_revoke",
]

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_TAG_RE = re.compile(r"[\w.:/+-]{1,64}")


def normalize_hostname(value: str) -> str:
    """Lower-case a hostname and check it (RFC 1123 labels); raise ValidationError if bad."""
    hostname = (value or "").strip().lower().rstrip(".")
    if not hostname or len(hostname) > 253 or not _HOSTNAME_RE.fullmatch(hostname):
        raise ValidationError(
            _("'%(value)s' is not a valid hostname (letters, digits, hyphens and dots)."),
            params={"value": value[:80]},
            code="hostname",
        )
    return hostname


def parse_tag_names(value: str | Iterable[str]) -> list[str]:
    """Split "web, eu-west" into clean tag names; raise ValidationError for a bad one."""
    names = value.replace(";", ",").split(",") if isinstance(value, str) else list(value)
    clean: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if not _TAG_RE.fullmatch(name):
            raise ValidationError(
                _("'%(tag)s' is not a valid tag (letters, digits and . : / + - _, up to 64)."),
                params={"tag": name[:80]},
                code="tag",
            )
        if name not in clean:
            clean.append(name)
    return clean


def tags_for_names(*, team: Team, names: Iterable[str]) -> list[Tag]:
    """The team's tags with these names, created when new."""
    names = list(names)
    existing = {t.name: t for t in Tag.objects.filter(team=team, name__in=names)}
    missing = [Tag(team=team, name=n) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(team=team, name__in=names)}
    return [existing[n] for n in names]


_SERVER_FIELDS = (
    "fqdn",
    "ip_address",
    "environment",
    "criticality",
    "os_name",
    "os_version",
    "release",
    "owner",
    "notes",
)


def _audit(team, *, action: str, by=None, obj=None, field: str = "", old=None, new=None) -> None:
    """The team's history (an AuditEvent with the team and no plan), in the caller's
    transaction, through core.audit: the rows are the plans app's, above servers."""
    audit.audit_event(team=team, obj=obj, action=action, field=field, old=old, new=new, by=by)


def _check_owner(team: Team, owner) -> None:
    if owner is not None and not team.memberships.filter(user=owner).exists():
        raise ValidationError({"owner": _("The owner must be a member of the team.")})


def _check_unique(team: Team, hostname: str, exclude_pk: int | None = None) -> None:
    qs = Server.objects.filter(team=team, hostname=hostname)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ValidationError({"hostname": _("This team already has a server with that name.")})


@transaction.atomic
def server_create(*, team: Team, hostname: str, tags: Iterable[str] = (), by=None, **fields):
    """Add a server to a team's inventory."""
    try:
        hostname = normalize_hostname(hostname)
    except ValidationError as error:
        raise ValidationError({"hostname": error.messages}) from None
    _check_unique(team, hostname)
    _check_owner(team, fields.get("owner"))
    unknown = set(fields) - set(_SERVER_FIELDS)
    if unknown:
        raise TypeError(f"unknown server fields: {sorted(unknown)}")
    server = Server(team=team, hostname=hostname, **fields)
    server.full_clean(exclude=["team", "tags"])
    server.save()
    tag_names = parse_tag_names(tags)
    if tag_names:
        server.tags.set(tags_for_names(team=team, names=tag_names))
    _audit(team, action="created", obj=server, field="server", new=server.hostname, by=by)
    return server


@transaction.atomic
def server_update(
    *, server: Server, by=None, tags: Iterable[str] | None = None, **fields
) -> Server:
    """Change a server's details (and its tags when ``tags`` is given)."""
    if "hostname" in fields:
        try:
            fields["hostname"] = normalize_hostname(fields["hostname"])
        except ValidationError as error:
            raise ValidationError({"hostname": error.messages}) from None
        _check_unique(server.team, fields["hostname"], exclude_pk=server.pk)
    if "owner" in fields:
        _check_owner(server.team, fields["owner"])
    for name in fields:
        if name != "hostname" and name not in _SERVER_FIELDS:
            raise TypeError(f"unknown server field {name!r}")
    before = {name: getattr(server, name) for name in fields}
    old_tags = sorted(t.name for t in server.tags.all()) if tags is not None else None
    for name, value in fields.items():
        setattr(server, name, value)
    server.full_clean(exclude=["team", "tags"], validate_unique=False)
    server.save(update_fields=[*fields, "updated_at"])
    after = {name: getattr(server, name) for name in fields}
    if tags is not None:
        server.tags.set(tags_for_names(team=server.team, names=parse_tag_names(tags)))
        before["tags"] = old_tags
        after["tags"] = sorted(t.name for t in server.tags.all())
    audit.audit_changes(team=server.team_id, obj=server, before=before, after=after, by=by)
    return server


@transaction.atomic
def server_delete(*, server: Server, by=None) -> None:
    """Remove a server with its inventory history. One that was worked on in a plan's
    window is refused: the plan's execution record (append-only) names it. Plans
    says so through the server_deleting signal (servers does not import plans)."""
    server_deleting.send(sender=Server, server=server)
    _audit(server.team_id, action="deleted", obj=server, field="server", old=server.hostname, by=by)
    server.delete()


@transaction.atomic
def servers_tag(*, team: Team, servers: Iterable[Server], tag_names: Iterable[str], by=None) -> int:
    """Add tags to several servers of one team; returns how many tag links were new."""
    servers = list(servers)
    if any(s.team_id != team.pk for s in servers):
        raise ValidationError(_("Servers of another team can't be tagged here."))
    names = parse_tag_names(tag_names)
    if not names:
        raise ValidationError(_("Give at least one tag."))
    tags = tags_for_names(team=team, names=names)
    through = Server.tags.through
    existing = set(
        through.objects.filter(server__in=servers, tag__in=tags).values_list("server_id", "tag_id")
    )
    new = [
        through(server_id=s.pk, tag_id=t.pk)
        for s in servers
        for t in tags
        if (s.pk, t.pk) not in existing
    ]
    through.objects.bulk_create(new)
    if new:
        _audit(
            team,
            action="tagged",
            field="tags",
            new=f"{', '.join(names)} on {len(servers)} server(s)",
            by=by,
        )
    return len(new)


@transaction.atomic
def inventory_import_new_server(
    *,
    team: Team,
    hostname: str,
    data: bytes | str,
    format: str | None = None,
    source: str = "api",
    by=None,
    token=None,
) -> ImportResult:
    """Create a server and import its first listing, in one transaction: a bad
    listing leaves no empty server behind."""
    server = server_create(team=team, hostname=hostname, by=by)
    return inventory_import(
        server=server, data=data, format=format, source=source, by=by, token=token
    )


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def token_create(
    *, team: Team, name: str, can_create_servers: bool = False, by=None
) -> tuple[InventoryToken, str]:
    """Make an inventory push token; returns it and the raw value, which is shown once only."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name.")})
    raw = generate_token()
    token = InventoryToken.objects.create(
        team=team,
        name=name[:100],
        token_hash=hash_token(raw),
        hint=raw[: len(TOKEN_PREFIX) + 4],
        can_create_servers=can_create_servers,
        created_by=by,
    )
    _audit(team, action="created", obj=token, field="api token", new=token.name, by=by)
    return token, raw


@transaction.atomic
def token_revoke(*, token: InventoryToken, by=None) -> None:
    """Revoke a token at once; a revoked token authenticates nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(token.team_id, action="revoked", obj=token, field="api token", old=token.name, by=by)


def token_authenticate(raw: str) -> InventoryToken | None:
    """The live token with this raw value, or None. Marks it used."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        InventoryToken.objects.select_related("team")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        now = timezone.now()
        # Written at most once a minute: a fleet pushing at once should not
        # queue up on one row.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            InventoryToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
    return token
