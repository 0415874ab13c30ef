"""Personas and shared fixtures.

Personas: `team` with `admin`, `planner`, `engineer`, `approver`, `viewer`;
`outsider` is the admin of another team. Every view test includes the outsider.
"""

import os
from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from patchplan.teams.roles import Role

from . import db_flush, factories
from .services import missing, redis_url, using_postgres

# Browser tests drive a sync Playwright from the test thread while Django's
# live server runs in another; Django's async guard must not refuse that.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

db_flush.install()

PASSWORD = "a-long-test-password"

# PATCHPLAN_TEST_CLOCK=2027-03-28T00:30+01:00 runs the whole test process at that
# instant (tests/clock_matrix.sh runs the clock-sensitive modules at the hours and
# days where "today" and "N days ago" go wrong: around midnight and noon in the
# team's zone, the DST changes, the year's end).
TEST_CLOCK = os.environ.get("PATCHPLAN_TEST_CLOCK", "")


@pytest.fixture(autouse=True, scope="session")
def _test_clock():
    """Travel the whole process (every thread: the live server, the in-process
    Celery worker) to PATCHPLAN_TEST_CLOCK; time keeps running from there so
    timeouts and retries behave. The code reads the clock only through Python
    (timezone.now(), auto_now, localdate); no query uses the database's now()."""
    if not TEST_CLOCK:
        yield None
        return
    start = datetime.fromisoformat(TEST_CLOCK)
    if start.tzinfo is None:
        raise pytest.UsageError("PATCHPLAN_TEST_CLOCK needs an offset, e.g. +01:00")
    with time_machine.travel(start, tick=True):
        yield start


@pytest.fixture
def frozen_now(_test_clock):
    """The current instant (the test clock's, or the real one), frozen for the
    test: fixture data made relative to it and the code under test see the same
    "now", so no test straddles a midnight while it runs."""
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        yield now


@pytest.fixture
def team(db):
    return factories.TeamFactory(name="Blue Ops", slug="blue")


def _member(team, role, username):
    user = factories.UserFactory(username=username)
    factories.MembershipFactory(team=team, user=user, role=role)
    return user


@pytest.fixture
def admin(team):
    return _member(team, Role.ADMIN, "alice-admin")


@pytest.fixture
def planner(team):
    return _member(team, Role.PLANNER, "paul-planner")


@pytest.fixture
def owner(planner):
    """The plan owner is a planner."""
    return planner


@pytest.fixture
def engineer(team):
    return _member(team, Role.ENGINEER, "erin-engineer")


@pytest.fixture
def approver(team):
    return _member(team, Role.APPROVER, "arno-approver")


@pytest.fixture
def viewer(team):
    return _member(team, Role.VIEWER, "vera-viewer")


@pytest.fixture
def other_team(db):
    return factories.TeamFactory(name="Red Ops", slug="red")


@pytest.fixture
def outsider(other_team):
    """Admin of another team: sees nothing of `team`."""
    return _member(other_team, Role.ADMIN, "oscar-outsider")


@pytest.fixture
def client_for(client):
    """client_for(user) logs the test client in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def require_postgres():
    if not using_postgres():
        missing("needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def require_redis():
    if redis_url() is None:
        missing("needs Redis: set CELERY_BROKER_URL=redis://127.0.0.1:6379/N")
    return redis_url()
