"""Benchmark of advisory import and matching on PostgreSQL: prints figures for
docs/benchmarks.md (issue 14).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \\
        .venv/bin/python docs/bench/advisories_bench.py --servers 5000 --packages 2000

In a scratch database "<db>_advisories_bench" (created and dropped here):
1. writes a synthetic Debian Security Tracker JSON of the real feed's shape and
   size (--feed-packages source packages, ~5 CVEs each, 5 releases, every
   status) and imports it: time, peak RSS of this process, then a re-import of
   the unchanged file (incremental: nothing written);
2. a 3,000-package inventory import with and without the per-server rematch;
3. loads --servers x --packages installed packages with COPY (80% bookworm,
   20% bullseye; 10% of packages one version behind) and times the fleet
   rematch (match_servers(None)), then a second, unchanged rematch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.local")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

RELEASES = ["bookworm", "bullseye", "trixie", "sid", "buster"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a local PostgreSQL backend, from /proc; the
    machine is shared, so wall-clock time says little."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_feed(path: Path, n_packages: int, rng: random.Random) -> int:
    """The tracker JSON, written package by package (the writer keeps little in memory)."""
    pairs = 0
    with path.open("w") as out:
        out.write("{")
        for i in range(n_packages):
            cves = {}
            for k in range(rng.randint(1, 9)):
                releases = {}
                for release in RELEASES:
                    roll = rng.random()
                    if roll < 0.84:
                        entry = {
                            "status": "resolved",
                            "fixed_version": f"1.{k}-1",
                            "urgency": rng.choice(["low", "medium", "high", "not yet assigned"]),
                        }
                    elif roll < 0.92:
                        entry = {
                            "status": "resolved",
                            "fixed_version": "0",
                            "urgency": "unimportant",
                        }
                    elif roll < 0.93:
                        entry = {"status": "open", "urgency": "unimportant", "nodsa": "Minor issue"}
                    elif roll < 0.94:
                        entry = {"status": "undetermined", "urgency": "not yet assigned"}
                    else:  # fixed in the current version: servers one behind are exposed
                        entry = {
                            "status": "resolved",
                            "fixed_version": "2.1-1~deb12u1",
                            "urgency": "high",
                        }
                    entry["repositories"] = {release: "2.1-1~deb12u1"}
                    releases[release] = entry
                cves[f"CVE-{2015 + k}-{i:05d}"] = {
                    "description": f"Synthetic vulnerability {k} in pkg{i}: " + "x" * 120,
                    "scope": "remote",
                    "releases": releases,
                }
                pairs += 1
            out.write(("," if i else "") + json.dumps(f"pkg{i}") + ":" + json.dumps(cves))
        out.write("}")
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=5000)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--feed-packages", type=int, default=20000)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the scratch db")
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        sys.exit("needs PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DATABASES["default"]["TEST"] = {
        "NAME": settings.DATABASES["default"]["NAME"] + "_advisories_bench"
    }
    django.setup()
    from django.db import connection

    connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=args.keep, serialize=False
    )
    try:
        run(args)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(settings.DATABASES["default"]["NAME"], verbosity=0)


def run(args) -> None:
    from django.db import connection

    from patchplan.advisories.matching import match_servers
    from patchplan.advisories.models import AffectedPackage, Match
    from patchplan.advisories.receivers import rematch_imported_server
    from patchplan.advisories.services import advisories_import
    from patchplan.teams.models import Team
    from servers.inventory import inventory_import
    from servers.models import Server
    from servers.signals import inventory_imported
    from servers.versions import version_key

    rng = random.Random(14)
    print(f"machine: {os.cpu_count()} cores; RSS before: {rss_mb():.0f} MB")

    # 1. The Debian feed.
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "json"
        pairs = write_feed(feed, args.feed_packages, rng)
        size = feed.stat().st_size / 1e6
        before = rss_mb()
        started = time.perf_counter()
        stats = advisories_import(source="debian", location=str(feed), rematch=False)
        took = time.perf_counter() - started
        print(
            f"debian import: {size:.0f} MB, {args.feed_packages} packages, {pairs} records, "
            f"{AffectedPackage.objects.count()} release rows: {took:.1f} s, "
            f"peak RSS {rss_mb():.0f} MB (was {before:.0f} MB)"
        )
        started = time.perf_counter()
        again = advisories_import(source="debian", location=str(feed), rematch=False)
        print(
            f"debian re-import, unchanged: {time.perf_counter() - started:.1f} s, "
            f"{again.changed} changed (first: {stats.changed})"
        )

    team = Team.objects.create(name="Bench", slug="bench")

    # 2. Per-import matching on a 3,000-package listing.
    def listing(offset: int) -> str:
        return "".join(
            f"pkg{(offset + j) % args.feed_packages}\t"
            f"{'2.0-1' if j % 10 == 0 else '2.1-1~deb12u1'}\tamd64\n"
            for j in range(3000)
        )

    def timed_import(i: int) -> float:
        server = Server.objects.create(
            team=team, hostname=f"import-{i}", os_name="Debian", os_version="12"
        )
        started = time.perf_counter()
        inventory_import(server=server, data=listing(i * 7), source="upload")
        return (time.perf_counter() - started) * 1000

    with_match = [timed_import(i) for i in range(7)]
    inventory_imported.disconnect(rematch_imported_server, dispatch_uid="advisories-rematch")
    without = [timed_import(100 + i) for i in range(7)]
    inventory_imported.connect(rematch_imported_server, dispatch_uid="advisories-rematch")
    print(
        f"3,000-package import: {statistics.median(without):.0f} ms without matching, "
        f"{statistics.median(with_match):.0f} ms with it (median of 7): "
        f"+{statistics.median(with_match) - statistics.median(without):.0f} ms"
    )
    Server.objects.filter(team=team).delete()

    # 3. The fleet, loaded with COPY.
    started = time.perf_counter()
    names = [f"pkg{i}" for i in rng.sample(range(args.feed_packages), args.packages)]
    with connection.cursor() as cursor:
        Server.objects.bulk_create(
            [
                Server(
                    team=team,
                    hostname=f"srv-{i:05d}",
                    os_name="Debian",
                    os_version="12" if i % 5 else "11",
                )
                for i in range(args.servers)
            ],
            batch_size=1000,
        )
        ids = [pk for (pk,) in Server.objects.filter(team=team).values_list("pk")]
        table = "servers_serverpackage"
        # version_key as COPY's text form of bytea ("\\x" and hex), as the import stores it.
        keys = {
            v: "\\\\x" + version_key(v, family="deb").encode().hex()
            for v in ("2.0-1", "2.1-1~deb12u1")
        }
        for start in range(0, len(ids), 250):
            buf = io.StringIO()
            for sid in ids[start : start + 250]:
                behind = set(rng.sample(range(args.packages), args.packages // 10))
                for j, name in enumerate(names):
                    version = "2.0-1" if j in behind else "2.1-1~deb12u1"
                    buf.write(f"{sid}\t{name}\tamd64\t{version}\tinstall\t\t\t{keys[version]}\n")
            buf.seek(0)
            cursor.copy_from(
                buf,
                table,
                columns=[
                    "server_id",
                    "name",
                    "architecture",
                    "version",
                    "state",
                    "source_name",
                    "source_version",
                    "version_key",
                ],
            )
        cursor.execute(f"ANALYZE {table}")
    rows = args.servers * args.packages
    print(
        f"fleet loaded: {args.servers} servers x {args.packages} packages = {rows} rows "
        f"in {time.perf_counter() - started:.0f} s"
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    for label in ("fleet rematch, first", "fleet rematch, unchanged"):
        started = time.perf_counter()
        cpu, db_cpu = time.process_time(), backend_cpu(backend)
        count = match_servers(None)
        print(
            f"{label}: {time.perf_counter() - started:.1f} s wall, CPU "
            f"{time.process_time() - cpu:.1f} s Python + {backend_cpu(backend) - db_cpu:.1f} s "
            f"PostgreSQL, {count} open matches "
            f"({Match.objects.filter(resolved_at=None).count()} rows open); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
    print(f"peak RSS: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
