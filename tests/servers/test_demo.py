"""The demo data gives the servers real inventory with history."""

import io

import pytest
from django.core.management import call_command

from servers.inventory import snapshot_diff
from servers.models import InventorySnapshot, PendingUpdate, Server, ServerPackage

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_servers_history_and_pending_security_updates():
    # How long seeding takes is a benchmark figure (docs), not something to assert.
    call_command("seed_demo", stdout=io.StringIO())
    servers = Server.objects.filter(team__slug="demo")
    assert servers.count() == 30
    assert all(s.package_count == 832 and s.last_inventory_at for s in servers)
    exposed = servers.filter(pending_security__gt=0)
    assert 0 < exposed.count() < 30  # some patched, some not
    assert ServerPackage.objects.filter(server__team__slug="demo").count() == 30 * 832
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
