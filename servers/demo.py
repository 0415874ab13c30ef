"""Demo inventory: real Debian 12 listings (servers/demo_data/) spread over a few
months for the demo servers, so the server pages, history, diff and fleet views
have data. Rows are written with bulk_create (a few thousand a second)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from .inventory import _packages_blob, _updates_blob, _version_map, diff_version_maps
from .models import InventorySnapshot, PendingUpdate, Server, ServerPackage
from .parsers import Package, parse_inventory
from .versions import version_key

DATA = Path(__file__).resolve().parent / "demo_data"


def _hash(kind: str, blob: str) -> str:
    return hashlib.sha256(f"{kind}\n{blob}".encode()).hexdigest()


def _states():
    """Three package states of one host: months ago, last month, and patched."""
    installed = parse_inventory((DATA / "debian12-dpkg-query.tsv").read_bytes()).packages
    updates = parse_inventory((DATA / "debian12-apt-list-upgradable.txt").read_bytes()).updates
    # Months ago: some packages not installed yet.
    early = [p for i, p in enumerate(installed) if i % 97 != 5]
    # Patched: the security updates applied.
    security = {(u.name, u.architecture): u.candidate for u in updates if u.is_security}
    patched = [
        Package(p.name, security.get((p.name, p.architecture), p.version), p.architecture)
        for p in installed
    ]
    return early, installed, patched, updates


# What each kind of demo host runs beyond the common Debian 12 base (the guide's two
# examples need web servers running nginx or apache2 and database servers running
# PostgreSQL): (package, version months ago, version now).
NGINX = [
    ("nginx", "1.22.1-9", "1.22.1-9+deb12u2"),
    ("nginx-common", "1.22.1-9", "1.22.1-9+deb12u2"),
]
APACHE = [
    ("apache2", "2.4.61-1~deb12u1", "2.4.62-1~deb12u2"),
    ("apache2-bin", "2.4.61-1~deb12u1", "2.4.62-1~deb12u2"),
    ("apache2-data", "2.4.61-1~deb12u1", "2.4.62-1~deb12u2"),
    ("apache2-utils", "2.4.61-1~deb12u1", "2.4.62-1~deb12u2"),
]
APACHE_HOSTS = {"web-prd-16", "web-prd-21"}


def _arch(name: str) -> str:
    return "all" if name.endswith(("common", "data")) else "amd64"


def _role_layer(hostname: str, packages: list[Package], *, early: bool) -> list[Package]:
    """The base listing as this host runs it: PostgreSQL only on database hosts, nginx or
    apache2 on web hosts."""
    kind = hostname.split("-", 1)[0]
    if kind != "db":
        packages = [p for p in packages if not p.name.startswith("postgresql")]
    if kind == "web":
        server = APACHE if hostname in APACHE_HOSTS else NGINX
        packages = packages + [
            Package(name, old if early else new, _arch(name)) for name, old, new in server
        ]
    return packages


def demo_inventory_load(
    *, servers: Sequence[Server], patched_at: dict[str, datetime] | None = None
) -> None:
    """Give each demo server package snapshots over the past months and pending updates.

    Every third server is already patched (security updates applied), the rest
    still have the security updates pending. `patched_at`: hosts also patched, each
    with its listing at that time (a staging host patched in a window that has run).
    """
    patched_at = patched_at or {}
    base_states = _states()
    updates = base_states[3]
    now = timezone.now()
    # One set of listings per kind of host (web with nginx, web with apache2, db, other).
    layers: dict[tuple, dict] = {}

    def states_for(hostname: str) -> dict:
        kind = hostname.split("-", 1)[0]
        key = (kind, hostname in APACHE_HOSTS)
        if key not in layers:
            early, installed, patched, _updates = base_states
            pkgs = {
                "early": _role_layer(hostname, early, early=True),
                "installed": _role_layer(hostname, installed, early=False),
                "patched": _role_layer(hostname, patched, early=False),
            }
            maps = {
                name: _version_map((p.name, p.architecture, p.version) for p in found)
                for name, found in pkgs.items()
            }
            layers[key] = {
                "packages": pkgs,
                "blobs": {name: _packages_blob(found) for name, found in pkgs.items()},
                "maps": maps,
                "changes": {
                    "early": diff_version_maps({}, maps["early"], family="deb"),
                    "installed": diff_version_maps(maps["early"], maps["installed"], family="deb"),
                    "patched": diff_version_maps(maps["installed"], maps["patched"], family="deb"),
                },
            }
        return layers[key]

    pending_all = updates
    pending_rest = [u for u in updates if not u.is_security]

    def counts(changes):
        kinds = {"added": 0, "removed": 0, "upgraded": 0, "downgraded": 0}
        for c in changes:
            if c.kind in kinds:
                kinds[c.kind] += 1
        return {f"{k}_count": v for k, v in kinds.items()}

    snapshots, finals, pendings = [], {}, {}
    for i, server in enumerate(servers):
        layer = states_for(server.hostname)
        blobs, maps = layer["blobs"], layer["maps"]
        is_patched = i % 3 == 0 or server.hostname in patched_at
        # Stagger the dates per server so the history looks lived-in.
        t1 = now - timedelta(days=120 - i % 7, hours=i)
        t2 = now - timedelta(days=40 - i % 5, hours=i)
        t_updates = now - timedelta(days=2, hours=i % 12)
        steps = [(t1, "early"), (t2, "installed")]
        if is_patched:
            when = patched_at.get(server.hostname, now - timedelta(days=1, hours=i % 9))
            steps.append((when, "patched"))
        for when, state in steps:
            changes = layer["changes"][state]
            snapshots.append(
                InventorySnapshot(
                    server=server,
                    taken_at=when,
                    format="dpkg-query",
                    source="command",
                    content_hash=_hash("packages", blobs[state]),
                    data=blobs[state],
                    package_count=len(maps[state]),
                    **counts(changes),
                )
            )
        pend = pending_rest if is_patched else pending_all
        snapshots.append(
            InventorySnapshot(
                server=server,
                taken_at=t_updates,
                format="apt-upgradable",
                source="api",
                content_hash=_hash("updates", _updates_blob(pend)),
                data=_updates_blob(pend),
                pending_count=len(pend),
                security_count=sum(u.is_security for u in pend),
            )
        )
        finals[server.pk] = layer["packages"]["patched" if is_patched else "installed"]
        pendings[server.pk] = pend
    snapshots = InventorySnapshot.objects.bulk_create(snapshots)
    latest = {}
    for snap in snapshots:
        if snap.format == "apt-upgradable":
            latest[("u", snap.server_id)] = snap
        else:
            prev = latest.get(("p", snap.server_id))
            if prev is None or snap.taken_at > prev.taken_at:
                latest[("p", snap.server_id)] = snap
    ServerPackage.objects.bulk_create(
        [
            ServerPackage(
                server_id=sid,
                name=p.name,
                architecture=p.architecture,
                version=p.version,
                state=p.state,
                version_key=version_key(p.version, family="deb").encode(),  # demo: Debian hosts
            )
            for sid, pkgs in finals.items()
            for p in pkgs
        ],
        batch_size=2000,
    )
    PendingUpdate.objects.bulk_create(
        [
            PendingUpdate(
                server_id=sid,
                snapshot=latest[("u", sid)],
                name=u.name,
                architecture=u.architecture,
                current=u.current,
                candidate=u.candidate,
                suite=u.suite,
                is_security=u.is_security,
            )
            for sid, pend in pendings.items()
            for u in pend
        ],
        batch_size=2000,
    )
    for server in servers:
        pend = pendings[server.pk]
        server.package_count = len(finals[server.pk])
        server.pending_updates = len(pend)
        server.pending_security = sum(u.is_security for u in pend)
        server.last_inventory_at = max(
            latest[("u", server.pk)].taken_at, latest[("p", server.pk)].taken_at
        )
        server.package_family = "deb"
    Server.objects.bulk_update(
        servers,
        [
            "package_count",
            "pending_updates",
            "pending_security",
            "last_inventory_at",
            "package_family",
        ],
    )
