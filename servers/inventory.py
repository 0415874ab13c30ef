"""Inventory import: one service for every way in (upload, paste, command, API).

Storage (chosen for the issue's performance targets):
- each import is an ``InventorySnapshot`` whose ``data`` is the listing in a
  compact canonical text form (one entry a line, sorted); any two snapshots are
  diffed in Python from those blobs, so no snapshot costs a row per package;
- ``ServerPackage`` holds the server's current packages and is updated by
  difference, so re-importing 3,000 packages of which 20 changed writes 20 rows;
- ``PendingUpdate`` holds the latest ``apt list --upgradable`` answer;
- the counts the server list filters on are denormalised onto ``Server``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .models import InventorySnapshot, PendingUpdate, Server, ServerPackage
from .parsers import (
    DEFAULT_MAX_BYTES,
    InventoryParseError,
    Package,
    Update,
    parse_inventory,
)
from .releases import release_from_suite
from .signals import inventory_imported
from .versions import compare_versions, family_for_format, version_key

PackageKey = tuple[str, str]  # (name, architecture)


class InventoryRejected(ValidationError):
    """A listing that was refused; ``line`` is the first bad line (1-based) or None."""

    def __init__(self, message: str, line: int | None = None, *, too_large: bool = False):
        super().__init__(message, code="too_large" if too_large else "invalid")
        self.line = line
        self.too_large = too_large


@dataclass(frozen=True)
class ImportResult:
    """What an import did and the server's inventory state after it."""

    snapshot: InventorySnapshot
    created: bool  # False when the listing repeated the latest snapshot of its kind
    package_count: int
    pending_updates: int
    pending_security: int

    def summary(self) -> str:
        return (
            f"{self.package_count} packages, {self.pending_updates} pending updates "
            f"({self.pending_security} security)"
        )

    def as_json(self) -> dict:
        return {
            "snapshot": self.snapshot.pk,
            "format": self.snapshot.format,
            "created": self.created,
            "packages": self.package_count,
            "pending_updates": self.pending_updates,
            "pending_security": self.pending_security,
        }


@dataclass(frozen=True)
class Change:
    """One line of a snapshot diff."""

    kind: str  # added, removed, upgraded, downgraded, changed
    name: str
    architecture: str
    old_version: str
    new_version: str


# --- canonical blobs --------------------------------------------------------


def _packages_blob(packages: list[Package]) -> str:
    # The source columns are appended only when the listing carried them, so
    # a listing without them hashes (and diffs) exactly as before.
    rows = sorted(
        {
            (p.name, p.architecture, p.version, p.state, p.source_name, p.source_version)
            if p.source_name
            else (p.name, p.architecture, p.version, p.state)
            for p in packages
        }
    )
    return "\n".join("\t".join(row) for row in rows)


def _updates_blob(updates: list[Update]) -> str:
    rows = sorted(
        {
            (u.name, u.architecture, u.current, u.candidate, u.suite, "S" if u.is_security else "-")
            for u in updates
        }
    )
    return "\n".join("\t".join(row) for row in rows)


def packages_from_blob(data: str) -> list[tuple[str, ...]]:
    """(name, architecture, version, state[, source name, source version]) rows of a
    package snapshot."""
    return [tuple(line.split("\t")) for line in data.split("\n") if line]  # type: ignore[misc]


def updates_from_blob(data: str) -> list[tuple[str, str, str, str, str, bool]]:
    """(name, architecture, current, candidate, suite, is_security) rows of an update snapshot."""
    rows = []
    for line in data.split("\n"):
        if line:
            name, arch, current, candidate, suite, flag = line.split("\t")
            rows.append((name, arch, current, candidate, suite, flag == "S"))
    return rows


def _version_map(rows) -> dict[PackageKey, list[str]]:
    found: dict[PackageKey, list[str]] = defaultdict(list)
    for name, arch, version, *_rest in rows:
        found[(name, arch)].append(version)
    for versions in found.values():
        versions.sort()
    return found


def _compare(a: str, b: str, family: str) -> int | None:
    if not a or not b:
        return None
    try:
        return compare_versions(a, b, family=family)
    except ValueError:
        return None


def diff_version_maps(
    old: dict[PackageKey, list[str]], new: dict[PackageKey, list[str]], *, family: str
) -> list[Change]:
    """Added, removed, upgraded and downgraded packages between two package sets.

    A name installed in several versions at once (rpm's kernels) is compared
    as a set of versions: the ones that appeared are added, the gone removed.
    """
    changes: list[Change] = []
    for key in old.keys() | new.keys():
        before, after = old.get(key, []), new.get(key, [])
        if before == after:
            continue
        name, arch = key
        if len(before) == 1 and len(after) == 1:
            order = _compare(before[0], after[0], family)
            kind = {None: "changed", -1: "upgraded", 1: "downgraded", 0: "changed"}[order]
            changes.append(Change(kind, name, arch, before[0], after[0]))
            continue
        for version in sorted(set(before) - set(after)):
            changes.append(Change("removed", name, arch, version, ""))
        for version in sorted(set(after) - set(before)):
            changes.append(Change("added", name, arch, "", version))
    order = {"upgraded": 0, "downgraded": 1, "changed": 2, "added": 3, "removed": 4}
    changes.sort(key=lambda c: (order[c.kind], c.name, c.architecture))
    return changes


def snapshot_diff(old: InventorySnapshot, new: InventorySnapshot) -> list[Change]:
    """The package changes from snapshot ``old`` to snapshot ``new`` (same server)."""
    return diff_version_maps(
        _version_map(packages_from_blob(old.data)),
        _version_map(packages_from_blob(new.data)),
        family=family_for_format(new.format),
    )


# --- the service ----------------------------------------------------------------


def _parse(data: bytes | str, format: str | None, max_bytes: int):
    try:
        return parse_inventory(data, format or None, max_bytes=max_bytes)
    except InventoryParseError as error:
        raise InventoryRejected(
            str(error), error.line, too_large="larger than" in error.message
        ) from None


def _count_pending(server: Server) -> tuple[int, int]:
    total = security = 0
    for is_security in PendingUpdate.objects.filter(server=server).values_list(
        "is_security", flat=True
    ):
        total += 1
        security += is_security
    return total, security


_INSERT_BATCH = 1000


def _insert_packages(rows: list[tuple[int, str, str, str, str, str, str, bytes]]) -> None:
    """Multi-row INSERTs of ServerPackage rows without building model instances.

    A first import writes thousands of rows; bulk_create spends most of its
    time making and preparing a model object per row, which this skips.
    """
    table = connection.ops.quote_name(ServerPackage._meta.db_table)
    columns = (
        "server_id, name, architecture, version, state, source_name, source_version, version_key"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start : start + _INSERT_BATCH]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(batch))
            params = [value for row in batch for value in row]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608


def _key(version: str, family: str) -> bytes:
    return version_key(version, family=family).encode() if version else b""


def _apply_packages(server: Server, packages: list[Package], family: str) -> list[Change]:
    """Bring ServerPackage in line with ``packages``, touching only what changed."""
    # "state" below is (selection state, source name, source version): a
    # listing that newly carries the source columns rewrites the rows.
    current: dict[PackageKey, list[tuple[int, str, tuple[str, str, str]]]] = defaultdict(list)
    for pk, name, arch, version, *state in ServerPackage.objects.filter(server=server).values_list(
        "pk", "name", "architecture", "version", "state", "source_name", "source_version"
    ):
        current[(name, arch)].append((pk, version, tuple(state)))
    wanted: dict[PackageKey, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for p in packages:
        wanted[(p.name, p.architecture)][p.version] = (p.state, p.source_name, p.source_version)

    changes = diff_version_maps(
        {k: sorted(v for _pk, v, _s in rows) for k, rows in current.items()},
        {k: sorted(v) for k, v in wanted.items()},
        family=family,
    )
    # A package whose rows differ in any way is replaced (delete + insert: two
    # statements however many changed, where Django's bulk_update builds a
    # CASE per row); unchanged packages are not touched.
    to_create: list[tuple[int, str, str, str, str, str, str, bytes]] = []
    to_delete: list[int] = []
    for key in current.keys() | wanted.keys():
        rows, versions = current.get(key, []), wanted.get(key, {})
        if sorted((v, st) for _pk, v, st in rows) == sorted(versions.items()):
            continue
        to_delete.extend(pk for pk, _v, _st in rows)
        to_create.extend(
            (server.pk, key[0], key[1], version, *state, _key(version, family))
            for version, state in versions.items()
        )
    if to_delete:
        ServerPackage.objects.filter(pk__in=to_delete).delete()
    if server.package_family != family:
        # The host changed package manager (rare): the kept rows' keys follow its rules.
        deleted = set(to_delete)
        for pk, version in [(pk, v) for rows in current.values() for pk, v, _st in rows]:
            if pk not in deleted:
                ServerPackage.objects.filter(pk=pk).update(version_key=_key(version, family))
    _insert_packages(to_create)

    # Pending updates the new listing shows as installed (or gone) are done.
    installed = {key: next(iter(v)) for key, v in wanted.items() if len(v) == 1}
    installed_names = {name for name, _arch in wanted}
    done = []
    for pk, name, arch, candidate in PendingUpdate.objects.filter(server=server).values_list(
        "pk", "name", "architecture", "candidate"
    ):
        version = installed.get((name, arch)) or installed.get((name, ""))
        order = _compare(version, candidate, family) if version else None
        if name not in installed_names or (order is not None and order >= 0):
            done.append(pk)
    if done:
        PendingUpdate.objects.filter(pk__in=done).delete()
    return changes


@transaction.atomic
def inventory_import(
    *,
    server: Server,
    data: bytes | str,
    format: str | None = None,
    source: str,
    by=None,
    token=None,
    taken_at: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    """Import one package listing for ``server`` as a snapshot; all or nothing.

    Raises ``InventoryRejected`` (a ValidationError with the bad line number)
    for anything ``parse_inventory`` refuses; nothing is written then. A
    listing identical to the server's latest snapshot of the same kind
    (packages or pending updates) is recognised and not stored again.
    """
    parsed = _parse(data, format, max_bytes)
    family = family_for_format(parsed.format)
    is_updates = parsed.format == "apt-upgradable"
    blob = _updates_blob(parsed.updates) if is_updates else _packages_blob(parsed.packages)
    kind = InventorySnapshot.KIND_UPDATES if is_updates else InventorySnapshot.KIND_PACKAGES
    content_hash = hashlib.sha256(f"{kind}\n{blob}".encode()).hexdigest()
    now = taken_at or timezone.now()

    # One import per server at a time: the diff below reads then writes.
    server = Server.objects.select_for_update().get(pk=server.pk)
    same_kind = (
        server.snapshots.filter(format="apt-upgradable")
        if is_updates
        else (server.snapshots.exclude(format="apt-upgradable"))
    )
    latest = same_kind.defer("data").first()
    if latest is not None and latest.content_hash == content_hash:
        if server.last_inventory_at is None or server.last_inventory_at < now:
            Server.objects.filter(pk=server.pk).update(last_inventory_at=now)
        return ImportResult(
            latest, False, server.package_count, server.pending_updates, server.pending_security
        )

    snapshot = InventorySnapshot.objects.create(
        server=server,
        taken_at=now,
        format=parsed.format,
        source=source,
        content_hash=content_hash,
        data=blob,
        created_by=by,
        token=token,
    )
    if is_updates:
        PendingUpdate.objects.filter(server=server).delete()
        PendingUpdate.objects.bulk_create(
            [
                PendingUpdate(
                    server=server,
                    snapshot=snapshot,
                    name=u.name,
                    architecture=u.architecture,
                    current=u.current,
                    candidate=u.candidate,
                    suite=u.suite,
                    is_security=u.is_security,
                )
                for u in {(u.name, u.architecture): u for u in parsed.updates}.values()
            ]
        )
        package_count = server.package_count
        snapshot.pending_count = len(parsed.updates)
        snapshot.security_count = sum(u.is_security for u in parsed.updates)
        update_fields = ["pending_count", "security_count"]
    else:
        changes = _apply_packages(server, parsed.packages, family)
        package_count = len({(p.name, p.architecture, p.version) for p in parsed.packages})
        counts = defaultdict(int)
        for change in changes:
            counts[change.kind] += 1
        snapshot.package_count = package_count
        snapshot.added_count = counts["added"]
        snapshot.removed_count = counts["removed"]
        snapshot.upgraded_count = counts["upgraded"]
        snapshot.downgraded_count = counts["downgraded"]
        update_fields = [
            "package_count",
            "added_count",
            "removed_count",
            "upgraded_count",
            "downgraded_count",
        ]
    pending, security = _count_pending(server)
    if not is_updates:
        snapshot.pending_count, snapshot.security_count = pending, security
        update_fields += ["pending_count", "security_count"]
    snapshot.save(update_fields=update_fields)
    fields = {
        "package_count": package_count,
        "pending_updates": pending,
        "pending_security": security,
        "last_inventory_at": max(now, server.last_inventory_at or now),
    }
    if not is_updates:
        fields["package_family"] = family
    elif not server.release:
        # apt names the suites its updates come from: the listing says the release.
        release = next((r for r in (release_from_suite(u.suite) for u in parsed.updates) if r), "")
        if release:
            fields["release"] = release
    Server.objects.filter(pk=server.pk).update(**fields)
    for name, value in fields.items():
        setattr(server, name, value)
    inventory_imported.send(sender=Server, server=server, snapshot=snapshot)
    return ImportResult(snapshot, True, package_count, pending, security)
