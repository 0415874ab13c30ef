"""Benchmark of the servers app on PostgreSQL: prints figures for docs/benchmarks.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \
        .venv/bin/python docs/bench/servers_bench.py --servers 5000 --packages 1000

It builds the reference fleet in a scratch database named "<db>_servers_bench"
(created and dropped here; the DATABASE_URL database itself is not touched),
loading rows with COPY, then measures the median server time of each page
through Django's test client (whole middleware stack, no network) and the
import service on its own. --keep keeps the scratch database for a re-run.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.local")
# Timed as deployed: DEBUG off (cached templates, no query log).
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=5000)
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the scratch db")
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        sys.exit("needs PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DATABASES["default"]["TEST"] = {
        "NAME": settings.DATABASES["default"]["NAME"] + "_servers_bench"
    }
    settings.ALLOWED_HOSTS = ["*"]
    # The manifest storage needs collectstatic; the figures are about the page, not assets.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()

    from django.db import connection

    started = time.perf_counter()
    connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=args.keep, serialize=False
    )
    try:
        run(args, started)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(settings.DATABASES["default"]["NAME"], verbosity=0)


def _copy(cursor, table: str, columns: list[str], rows, chunk: int = 200_000) -> None:
    """COPY rows in chunks: a 20,000-server fleet's 40 M rows in one buffer do not fit
    in memory (22 GB, killed)."""
    buffer, count = io.StringIO(), 0
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
        count += 1
        if count == chunk:
            buffer.seek(0)
            cursor.copy_from(buffer, table, columns=columns)
            buffer, count = io.StringIO(), 0
    if count:
        buffer.seek(0)
        cursor.copy_from(buffer, table, columns=columns)


def build_fleet(n_servers: int, n_packages: int):
    """The team, its people and the fleet: rows made with COPY, as a bulk load would."""
    from django.db import connection, transaction
    from django.utils import timezone

    from patchplan.accounts.models import User
    from patchplan.teams.models import Membership, Team
    from servers.models import InventorySnapshot, PendingUpdate, Server, ServerPackage
    from servers.versions import version_key

    team = Team.objects.create(name="Bench", slug="bench", time_zone="Europe/Berlin")
    user = User.objects.create_user(username="bench", password="bench-password-1")  # noqa: S106 - scratch db
    Membership.objects.create(team=team, user=user, role="admin")
    rng = random.Random(42)
    universe = [f"lib{word}{i}" for i, word in enumerate(["ssl", "xml", "curl", "gtk"] * 1000)]
    core = ["openssl", "libssl3", "bash", "coreutils", "systemd", "openssh-server"]
    now = timezone.now()
    envs = ["production", "staging", "development", "other"]
    crits = ["low", "medium", "high", "critical"]
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.connection.cursor()
        _copy(
            raw,
            Server._meta.db_table,
            [
                "team_id",
                "hostname",
                "fqdn",
                "environment",
                "criticality",
                "os_name",
                "os_version",
                "notes",
                "created_at",
                "updated_at",
                "package_count",
                "pending_updates",
                "pending_security",
                "last_inventory_at",
                "package_family",
                "release",
            ],
            (
                (
                    team.pk,
                    f"host-{i:05d}",
                    "",
                    envs[i % 4],
                    crits[i % 4],
                    "Debian",
                    "12",
                    "",
                    now,
                    now,
                    n_packages,
                    20,
                    i % 5,
                    now,
                    "deb",
                    "",  # derived from the OS (Debian 12: bookworm)
                )
                for i in range(n_servers)
            ),
        )
        server_ids = list(
            Server.objects.filter(team=team).order_by("pk").values_list("pk", flat=True)
        )
        names_per_server = {
            sid: core + rng.sample(universe, n_packages - len(core)) for sid in server_ids
        }
        # The listings, made as COPY reads them (a list of 20,000 of them is 1 GB).
        blobs = (
            (sid, "\n".join(f"{n}\tamd64\t1.{sid % 7}-1\tinstall" for n in names))
            for sid, names in names_per_server.items()
        )
        _copy(
            raw,
            InventorySnapshot._meta.db_table,
            [
                "server_id",
                "taken_at",
                "format",
                "source",
                "content_hash",
                "data",
                "package_count",
                "pending_count",
                "security_count",
                "added_count",
                "removed_count",
                "upgraded_count",
                "downgraded_count",
            ],
            (
                (
                    sid,
                    now,
                    "dpkg-query",
                    "command",
                    f"{sid:064d}",
                    blob.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t"),
                    n_packages,
                    20,
                    0,
                    n_packages,
                    0,
                    0,
                    0,
                )
                for sid, blob in blobs
            ),
            chunk=500,  # rows of about 50 KB each
        )
        # version_key as COPY's text form of bytea ("\\x" and hex), one per distinct version.
        keys = {
            f"3.0.{a}-1~deb12u{b}": "\\\\x" + version_key(f"3.0.{a}-1~deb12u{b}").encode().hex()
            for a in range(17)
            for b in range(3)
        }
        snap_ids = dict(
            InventorySnapshot.objects.filter(server__team=team).values_list("server_id", "pk")
        )
        _copy(
            raw,
            ServerPackage._meta.db_table,
            [
                "server_id",
                "name",
                "architecture",
                "version",
                "state",
                "version_key",
                "source_name",
                "source_version",
            ],
            (
                (sid, name, "amd64", version, "install", keys[version], "", "")
                for sid in server_ids
                for version in [f"3.0.{sid % 17}-1~deb12u{sid % 3}"]
                for name in names_per_server[sid]
            ),
        )
        _copy(
            raw,
            PendingUpdate._meta.db_table,
            [
                "server_id",
                "snapshot_id",
                "name",
                "architecture",
                "current",
                "candidate",
                "suite",
                "is_security",
            ],
            (
                (
                    sid,
                    snap_ids[sid],
                    name,
                    "amd64",
                    "1.0",
                    "1.1",
                    "bookworm-security" if j < sid % 5 else "bookworm",
                    "t" if j < sid % 5 else "f",
                )
                for sid in server_ids
                for j, name in enumerate(names_per_server[sid][:20])
            ),
        )
        cursor.execute("ANALYZE")
    return team, user, server_ids


def median_ms(fn, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (ms).

    The CPU time leaves out waiting for PostgreSQL and for other processes,
    so it is the steadier figure on a shared, busy machine.
    """
    fn()  # warm: templates compiled, connection open
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def run(args, started: float) -> None:
    from django.db import connection
    from django.test import Client

    from servers.choices import SnapshotSource
    from servers.inventory import inventory_import
    from servers.models import Server, ServerPackage

    if Server.objects.exists():
        from patchplan.accounts.models import User
        from patchplan.teams.models import Team

        team, user = Team.objects.get(slug="bench"), User.objects.get(username="bench")
        server_ids = list(Server.objects.filter(team=team).values_list("pk", flat=True))
        print(f"reusing the kept fleet ({len(server_ids)} servers)")
    else:
        team, user, server_ids = build_fleet(args.servers, args.packages)
    built = time.perf_counter() - started
    rows = ServerPackage.objects.count()
    print(
        f"fleet: {len(server_ids)} servers x {args.packages} packages = {rows:,} package rows "
        f"(built in {built:.0f} s)"
    )

    print(f"load average before measuring: {os.getloadavg()[0]:.1f} (2 cores)")
    client = Client()
    client.force_login(user)

    def page(url: str, label: str, **params) -> None:
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(url, params)
        assert response.status_code == 200, (url, response.status_code, response.get("Location"))
        ms, cpu = median_ms(lambda: client.get(url, params), args.runs)
        print(f"{label:<44} {ms:7.1f} ms median ({cpu:5.1f} ms CPU)  {len(queries):3d} queries")

    page("/servers/", "server list, 50 rows")
    page(
        "/servers/",
        "server list, security filter, sort",
        security="1",
        sort="-security",
        environment="production",
    )
    page("/servers/", "server list, search 'host-04'", q="host-04")
    page(f"/servers/{server_ids[len(server_ids) // 2]}/", "server page")
    page("/servers/fleet/", "fleet search 'openssl' (all servers)", name="openssl")
    page(
        "/servers/fleet/",
        "fleet search 'openssl' below a version",
        name="openssl",
        below="3.0.9-1~deb12u1",
    )
    page("/servers/fleet/", "fleet search, CSV export", name="openssl", export="csv")
    page("/servers/fleet/updates/", "fleet pending updates")

    # Import through the service: a new 3,000-package server, then re-imports.
    listing = {f"bench-pkg{i}": f"1.{i}-1" for i in range(3000)}

    def text() -> str:
        return "".join(f"{n}\t{v}\tamd64\n" for n, v in listing.items())

    first, again, changed = [], [], []
    Server.objects.filter(team=team, hostname__startswith="import-").delete()
    for run_no in range(5):
        server = Server.objects.create(team=team, hostname=f"import-{run_no}")
        start = time.perf_counter()
        inventory_import(server=server, data=text(), source=SnapshotSource.COMMAND)
        first.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        inventory_import(server=server, data=text(), source=SnapshotSource.COMMAND)
        again.append((time.perf_counter() - start) * 1000)
        for i in range(0, 3000, 60):  # 50 upgraded packages
            listing[f"bench-pkg{i}"] = f"1.{i}-{run_no + 2}"
        start = time.perf_counter()
        inventory_import(server=server, data=text(), source=SnapshotSource.COMMAND)
        changed.append((time.perf_counter() - start) * 1000)
    print(f"load average after measuring: {os.getloadavg()[0]:.1f}")
    print(f"{'import 3,000 packages, new server':<44} {statistics.median(first):7.1f} ms median")
    print(
        f"{'import 3,000 packages, identical repeat':<44} {statistics.median(again):7.1f} ms median"
    )
    print(f"{'import 3,000 packages, 50 upgraded':<44} {statistics.median(changed):7.1f} ms median")


if __name__ == "__main__":
    main()
