"""Run-mode verification with the targets "Plan the fix" sets: a server is verified
when its new listing shows every targeted package at or above its fixed version."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError

from plans.services import execution as run
from plans.services.plans import plan_create, plan_scope_add
from plans.services.signoff import signoff_give
from servers.inventory import inventory_import
from tests import factories
from tests.plans.run_helpers import give_go, make_window, milestone

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)


@pytest.fixture
def setup(team, owner, engineer, approver):
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        plan = plan_create(
            team=team,
            title="Fix CVE-2026-21001",
            owner=owner,
            by=owner,
            packages=["libssl3", "openssl"],
            package_targets={"libssl3": "3.0.22-1~deb12u2", "openssl": "3.0.22-1~deb12u2"},
            rollback_plan="Reinstall the previous packages from the local mirror.",
        )
        server = factories.ServerFactory(team=team)
        plan_scope_add(plan=plan, servers=[server], by=owner)
        window = make_window(plan, [server], owner, starts=NOW - timedelta(hours=1))
        inventory_import(
            server=server,
            data="libssl3\t3.0.19-1~deb12u2\tamd64\nopenssl\t3.0.19-1~deb12u2\tamd64\n",
            source="upload",
            taken_at=NOW - timedelta(days=1),
        )
        # The gates before deployment, passed through the services: this listing is
        # the assessment's fresh one, then testing, the backup and the go.
        signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
        give_go(plan, [server], planner=owner, approver=approver, assessed=True)
        run.execution_set_status(window=window, server=server, status="in_progress", by=engineer)
        run.execution_set_status(window=window, server=server, status="patched", by=engineer)
    return window, server


def _listing(libssl, openssl):
    return f"libssl3\t{libssl}\tamd64\nopenssl\t{openssl}\tamd64\n"


def test_a_newer_version_below_the_target_does_not_verify(setup, engineer):
    window, server = setup
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        # Newer than before, but the fix is in ~deb12u2: not enough.
        run.execution_import_listing(
            window=window,
            server=server,
            data=_listing("3.0.22-1~deb12u1", "3.0.22-1~deb12u2"),
            by=engineer,
        )
        with pytest.raises(ValidationError) as exc:
            run.execution_set_status(window=window, server=server, status="verified", by=engineer)
    assert "verification_note" in exc.value.error_dict


def test_every_target_reached_verifies(setup, engineer):
    window, server = setup
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        run.execution_import_listing(
            window=window,
            server=server,
            data=_listing("3.0.22-1~deb12u2", "3.0.23-1~deb12u1"),
            by=engineer,
        )
        execution = run.execution_set_status(
            window=window, server=server, status="verified", by=engineer
        )
    assert execution.status == "verified"
