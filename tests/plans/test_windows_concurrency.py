"""Optimistic locking of windows under real concurrency (PostgreSQL): of 20 saves of
the same version at once, exactly one wins and the sequence rises once."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from plans.models import MaintenanceWindow
from plans.services import windows as services
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_saves_of_one_version_one_wins(require_postgres, team, planner):
    plan = factories.PlanFactory(team=team, owner=planner)
    start = datetime(2030, 1, 5, 23, tzinfo=BERLIN)
    window = factories.WindowFactory(plan=plan, starts_at=start, ends_at=start + timedelta(hours=2))
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def save(i: int) -> None:
        try:
            barrier.wait()
            services.window_update(
                window=MaintenanceWindow.objects.get(pk=window.pk),
                version=1,
                title=f"save {i}",
                starts_at=start,
                ends_at=start + timedelta(hours=1 + i % 3),
                by=planner,
            )
            outcomes.append("saved")
        except services.StaleEdit:
            outcomes.append("stale")
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    window.refresh_from_db()
    assert sorted(outcomes) == ["saved"] + ["stale"] * 19
    assert (window.version, window.sequence) == (2, 1)
