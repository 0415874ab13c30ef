"""The demo data gives the servers real inventory with history."""

import io
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from servers.inventory import snapshot_diff
from servers.models import InventorySnapshot, PendingUpdate, Server, ServerPackage

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_servers_history_and_pending_security_updates():
    # How long seeding takes is a benchmark figure (docs), not something to assert.
    call_command("seed_demo", stdout=io.StringIO())
    servers = Server.objects.filter(team__slug="demo")
    assert servers.count() == 30
    assert all(s.last_inventory_at for s in servers)
    # The common Debian base (832 packages) as each kind of host runs it: PostgreSQL's
    # six packages only on the database hosts, nginx (2) or apache2 (4) on the web hosts.
    counts = {s.hostname: s.package_count for s in servers}
    assert counts["db-prd-02"] == 832 and counts["cache-prd-03"] == 826
    assert counts["web-prd-01"] == 828 and counts["web-prd-16"] == 830
    assert ServerPackage.objects.filter(server__team__slug="demo").count() == sum(counts.values())
    exposed = servers.filter(pending_security__gt=0)
    assert 0 < exposed.count() < 30  # some patched, some not
    assert PendingUpdate.objects.filter(is_security=True).exists()
    server = servers.filter(pending_security=0).first()
    snaps = list(InventorySnapshot.objects.filter(server=server).exclude(format="apt-upgradable"))
    assert len(snaps) == 3
    span = snaps[0].taken_at - snaps[-1].taken_at
    assert span.days > 60
    kinds = {c.kind for c in snapshot_diff(snaps[1], snaps[0])}
    assert kinds == {"upgraded"}
    # The current table matches the newest snapshot.
    openssl = ServerPackage.objects.get(server=server, name="openssl")
    assert openssl.version in snaps[0].data


def test_seed_demo_makes_the_guides_examples_walkable():
    """Web hosts run nginx or apache2 with a staging twin; PostgreSQL runs on the database
    hosts only, with a replica; every open plan's window has servers; fleet search
    tells patched from unpatched OpenSSL."""
    from plans.models import MaintenanceWindow
    from servers.selectors import fleet_package_search

    call_command("seed_demo", stdout=io.StringIO())
    team = Server.objects.filter(team__slug="demo").first().team
    web = ServerPackage.objects.filter(server__team=team, name__in=["nginx", "apache2"])
    assert set(web.values_list("name", flat=True)) == {"nginx", "apache2"}
    assert web.filter(server__hostname="web-stg-26", name="nginx").exists()
    pg_hosts = set(
        ServerPackage.objects.filter(server__team=team, name="postgresql-15").values_list(
            "server__hostname", flat=True
        )
    )
    assert pg_hosts and all(h.startswith("db-") for h in pg_hosts) and "db-stg-27" in pg_hosts
    assert Server.objects.filter(team=team, tags__name="replica").exists()
    open_windows = MaintenanceWindow.objects.filter(plan__team=team, plan__completed_at=None)
    assert open_windows.count() >= 4
    assert all(w.servers.exists() for w in open_windows)
    from patchplan.accounts.models import User

    planner = User.objects.get(username="planner")
    below = fleet_package_search(user=planner, team=team, name="openssl", below="3.0.22-1~deb12u2")
    assert 0 < len(below) < 30


@pytest.mark.parametrize(
    "now",
    # 00:30 in Berlin while it is still yesterday in UTC; and a Berlin afternoon.
    [datetime(2026, 12, 2, 23, 30, tzinfo=UTC), datetime(2026, 12, 2, 15, 0, tzinfo=UTC)],
    ids=["berlin-after-midnight", "afternoon"],
)
def test_the_security_patch_ran_staging_first_at_any_hour(now):
    """The OpenSSL plan's staging window is last night in the team's zone, already run,
    and its test run comes after it; production is still ahead."""
    from plans.models import MaintenanceWindow, TestRun

    with time_machine.travel(now, tick=False):
        call_command("seed_demo", stdout=io.StringIO())
        berlin = ZoneInfo("Europe/Berlin")
        today = now.astimezone(berlin).date()
        staging, production = MaintenanceWindow.objects.filter(
            plan__title__startswith="OpenSSL"
        ).order_by("starts_at")
        assert staging.starts_at == datetime.combine(
            today - timedelta(days=1), time(1), tzinfo=berlin
        )
        assert staging.actual_ends_at < now and production.starts_at > now
        run = TestRun.objects.get(plan=staging.plan)
        assert staging.actual_ends_at < run.run_at < now
        assert staging.executions.get().status == "verified"
