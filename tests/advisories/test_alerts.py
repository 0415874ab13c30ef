"""A new critical or known-exploited vulnerability on production notifies the
team's planners, once per vulnerability."""

import pytest

from patchplan.advisories.services import exposure_alerts
from patchplan.notifications.models import Notification
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from tests.factories import ServerFactory

pytestmark = pytest.mark.django_db
OPENSSL_OLD = "openssl\t3.0.19-1~deb12u2\tamd64\n"


def test_planners_hear_once_per_vulnerability(team, planner, viewer, feeds):
    prd = ServerFactory(team=team, hostname="web-prd-01", environment="production")
    inventory_import(server=prd, data=OPENSSL_OLD, source=SnapshotSource.UPLOAD)
    rows = Notification.objects.filter(kind="advisory")
    assert [(n.recipient_id, n.context["ident"]) for n in rows] == [(planner.pk, "CVE-2026-21001")]
    assert rows.get().context["hosts"] == ["web-prd-01"]
    # A second production server, a fleet rematch: still one row.
    other = ServerFactory(team=team, hostname="web-prd-02", environment="production")
    inventory_import(server=other, data=OPENSSL_OLD, source=SnapshotSource.UPLOAD)
    exposure_alerts()
    assert Notification.objects.filter(kind="advisory").count() == 1


def test_staging_alone_or_a_medium_cve_notifies_nobody(team, planner, feeds):
    stg = ServerFactory(team=team, environment="staging")
    inventory_import(server=stg, data=OPENSSL_OLD, source=SnapshotSource.UPLOAD)
    prd = ServerFactory(team=team, environment="production")
    # zlib's CVE-2023-45853 is medium and not exploited.
    inventory_import(
        server=prd, data="zlib1g\t1:1.2.13.dfsg-1\tamd64\tzlib\t1:1.2.13.dfsg-1\n", source="upload"
    )
    exposure_alerts()
    assert not Notification.objects.filter(kind="advisory").exists()


def test_the_alert_renders_as_an_email(team, planner, feeds):
    from patchplan.notifications.emails import build_message

    planner.email = "paul@example.com"
    planner.save()
    prd = ServerFactory(team=team, hostname="web-prd-01", environment="production")
    inventory_import(server=prd, data=OPENSSL_OLD, source=SnapshotSource.UPLOAD)
    message = build_message(Notification.objects.get(kind="advisory"))
    assert (
        message.subject == "CVE-2026-21001 (critical, known exploited) affects 1 production server"
    )
    assert "web-prd-01" in message.body
    assert "/vulnerabilities/CVE-2026-21001/" in message.body
