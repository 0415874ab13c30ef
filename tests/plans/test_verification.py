"""Verification compares what the plan targets with what the host reports, with the
real Debian 12 listings (tests/servers/samples, copies of ../shared/samples)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache

from plans.selectors.execution import plan_package_targets, server_verifications
from plans.verification import (
    NOT_INSTALLED,
    OK,
    PACKAGES,
    PENDING,
    UPDATES,
    Listing,
    verify_packages,
)
from servers.inventory import inventory_import
from servers.parsers import parse_inventory

from .run_helpers import make_plan, make_servers, make_window

SAMPLES = Path(__file__).resolve().parent.parent / "servers" / "samples"
DPKG_QUERY = (SAMPLES / "debian12-dpkg-query.tsv").read_text()
UPGRADABLE = (SAMPLES / "debian12-apt-list-upgradable.txt").read_text()
SELECTIONS = (SAMPLES / "debian12-dpkg-get-selections.txt").read_text()


def upgraded(dpkg_query: str, upgradable: str, only: set[str] | None = None) -> str:
    """The host's dpkg-query listing after `apt upgrade` of the pending updates
    (of `only` those packages when given): each candidate installed."""
    candidates = {
        u.name: u.candidate
        for u in parse_inventory(upgradable, "apt-upgradable").updates
        if only is None or u.name in only
    }
    lines = []
    for line in dpkg_query.splitlines():
        name, version, *rest = line.split("\t")
        lines.append("\t".join([name, candidates.get(name, version), *rest]))
    return "\n".join(lines) + "\n"


def without(upgradable: str, names: set[str]) -> str:
    """The updates listing with nothing pending for `names` any more."""
    keep = [ln for ln in upgradable.splitlines() if ln.split("/", 1)[0] not in names]
    return "\n".join(keep) + "\n"


def listing(text: str, fmt: str) -> Listing:
    parsed = parse_inventory(text, fmt)
    if fmt == "apt-upgradable":
        return Listing(
            UPDATES, None, {}, {u.name: (u.current, u.candidate) for u in parsed.updates}
        )
    return Listing(PACKAGES, None, {p.name: p.version for p in parsed.packages}, {})


BEFORE = listing(DPKG_QUERY, "dpkg-query")


# --- the pure comparison, explicit targets ---------------------------------------


def test_an_upgraded_package_verifies():
    after = listing(upgraded(DPKG_QUERY, UPGRADABLE, {"openssl", "libssl3"}), "dpkg-query")
    result = verify_packages(targets={"openssl": None, "libssl3": None}, before=BEFORE, after=after)
    assert result.verified
    assert [(p.name, p.before, p.after, p.outcome) for p in result.packages] == [
        ("libssl3", "3.0.19-1~deb12u2", "3.0.22-1~deb12u2", OK),
        ("openssl", "3.0.19-1~deb12u2", "3.0.22-1~deb12u2", OK),
    ]


def test_a_package_not_upgraded_does_not_verify():
    after = listing(upgraded(DPKG_QUERY, UPGRADABLE, {"libssl3"}), "dpkg-query")
    result = verify_packages(targets={"openssl": None, "libssl3": None}, before=BEFORE, after=after)
    assert not result.verified
    assert {p.name: p.outcome for p in result.packages}["openssl"] == "not_changed"


def test_a_package_the_host_does_not_have_is_ignored():
    # The case: the plan names libssl1.1 and openssl; libssl1.1 is not installed.
    after = listing(upgraded(DPKG_QUERY, UPGRADABLE, {"openssl"}), "dpkg-query")
    result = verify_packages(
        targets={"libssl1.1": None, "openssl": None}, before=BEFORE, after=after
    )
    assert result.verified
    outcomes = {p.name: p.outcome for p in result.packages}
    assert outcomes == {"libssl1.1": NOT_INSTALLED, "openssl": OK}


def test_no_package_of_the_plan_on_the_host_is_not_a_verification():
    after = listing(DPKG_QUERY, "dpkg-query")
    assert not verify_packages(targets={"libssl1.1": None}, before=BEFORE, after=after).verified


def test_a_target_version_must_be_reached():
    after = listing(upgraded(DPKG_QUERY, UPGRADABLE, {"openssl"}), "dpkg-query")
    reached = verify_packages(targets={"openssl": "3.0.22-1~deb12u2"}, before=None, after=after)
    assert reached.verified
    # Debian ordering: ~deb12u3 is newer than ~deb12u2.
    below = verify_packages(targets={"openssl": "3.0.22-1~deb12u3"}, before=None, after=after)
    assert not below.verified and below.packages[0].outcome == "below_target"


def test_an_updates_listing_with_nothing_pending_verifies():
    after = listing(without(UPGRADABLE, {"openssl", "libssl3", "libssl-dev"}), "apt-upgradable")
    assert after.pending  # other packages are still pending: they don't matter
    result = verify_packages(targets={"openssl": None, "libssl3": None}, before=BEFORE, after=after)
    assert result.verified


def test_an_updates_listing_with_the_package_pending_does_not_verify():
    after = listing(UPGRADABLE, "apt-upgradable")
    result = verify_packages(targets={"openssl": None}, before=BEFORE, after=after)
    assert not result.verified and result.packages[0].outcome == PENDING
    # ...unless the installed version already reaches the plan's target.
    at_target = verify_packages(targets={"openssl": "3.0.19-1~deb12u2"}, before=BEFORE, after=after)
    assert at_target.verified


def test_an_updates_listing_ignores_packages_the_host_does_not_have():
    after = listing(without(UPGRADABLE, {"openssl"}), "apt-upgradable")
    result = verify_packages(
        targets={"libssl1.1": None, "openssl": None}, before=BEFORE, after=after
    )
    assert result.verified
    assert {p.name: p.outcome for p in result.packages}["libssl1.1"] == NOT_INSTALLED


def test_no_listing_since_the_window_started_is_not_verified():
    result = verify_packages(targets={"openssl": None}, before=BEFORE, after=None)
    assert not result.verified and result.packages[0].before == "3.0.19-1~deb12u2"


def test_an_updates_listing_before_the_window_names_the_installed_version():
    # apt list --upgradable before the window: "[upgradable from: 3.0.19-1~deb12u2]" is
    # what the host had; a package with nothing pending is not in that listing.
    before = listing(UPGRADABLE, "apt-upgradable")
    after = listing(upgraded(DPKG_QUERY, UPGRADABLE, {"openssl"}), "dpkg-query")
    result = verify_packages(targets={"openssl": None, "adduser": None}, before=before, after=after)
    found = {p.name: p for p in result.packages}
    assert (found["openssl"].before, found["openssl"].after, found["openssl"].outcome) == (
        "3.0.19-1~deb12u2",
        "3.0.22-1~deb12u2",
        OK,
    )
    assert found["openssl"].before_text == "3.0.19-1~deb12u2"
    assert found["adduser"].before is None
    assert found["adduser"].before_text == "not in that listing"
    # Still pending after the window at the version it had before: not changed.
    same = verify_packages(targets={"openssl": None}, before=before, after=BEFORE)
    assert same.packages[0].outcome == "not_changed" and not same.verified
    # No listing since the window started: the version before is still named.
    waiting = verify_packages(targets={"openssl": None}, before=before, after=None)
    assert waiting.packages[0].before == "3.0.19-1~deb12u2"


# --- through the database: listings as imported ------------------------------------


@pytest.mark.django_db
def test_run_mode_reads_the_listings_before_and_since_the_window(team, owner):
    cache.clear()
    plan = make_plan(team, owner, packages=["postgresql-15", "libssl1.1"])
    servers = make_servers(team, plan, owner, production=1, staging=0)
    window = make_window(plan, servers, owner)
    server = servers[0]
    inventory_import(
        server=server,
        data=DPKG_QUERY,
        source="upload",
        taken_at=window.starts_at - timedelta(days=1),
    )
    targets = plan_package_targets(plan)
    assert targets == {"postgresql-15": None, "libssl1.1": None}
    (check,) = server_verifications(window=window, server_ids=[server.pk], targets=targets).values()
    # The replica had 15.18 before: it is shown as such, not as "not installed".
    pg = {p.name: p for p in check.packages}["postgresql-15"]
    assert (pg.before, pg.after, check.verified) == ("15.18-0+deb12u1", None, False)

    inventory_import(
        server=server,
        data=upgraded(DPKG_QUERY, UPGRADABLE),
        source="upload",
        taken_at=window.starts_at + timedelta(minutes=30),
    )
    (check,) = server_verifications(window=window, server_ids=[server.pk], targets=targets).values()
    pg = {p.name: p for p in check.packages}["postgresql-15"]
    assert (pg.before, pg.after, pg.outcome) == ("15.18-0+deb12u1", "15.20-0+deb12u1", OK)
    assert check.verified  # libssl1.1 is not on this host: ignored


@pytest.mark.django_db
def test_an_updates_listing_uploaded_after_the_start_counts(team, owner):
    cache.clear()
    plan = make_plan(team, owner, packages=["openssl"])
    (server,) = make_servers(team, plan, owner, production=1, staging=0)
    window = make_window(plan, [server], owner)
    inventory_import(
        server=server, data=SELECTIONS, source="upload", taken_at=window.starts_at - timedelta(1)
    )
    inventory_import(
        server=server,
        data=without(UPGRADABLE, {"openssl"}),
        source="upload",
        taken_at=window.starts_at + timedelta(minutes=5),
    )
    targets = plan_package_targets(plan)
    (check,) = server_verifications(window=window, server_ids=[server.pk], targets=targets).values()
    assert check.verified


@pytest.mark.django_db
def test_run_mode_shows_the_version_before_from_an_updates_listing(client_for, team, owner):
    cache.clear()
    plan = make_plan(team, owner, packages=["openssl", "adduser"])
    (server,) = make_servers(team, plan, owner, production=1, staging=0)
    window = make_window(plan, [server], owner)
    inventory_import(
        server=server,
        data=UPGRADABLE,
        source="upload",
        taken_at=window.starts_at - timedelta(hours=2),
    )
    page = client_for(owner).get(f"/plans/{plan.pk}/windows/{window.pk}/run/").content.decode()
    openssl = page[page.index('data-testid="pkg-openssl"') :]
    openssl = openssl[: openssl.index("</div>")]
    assert "3.0.19-1~deb12u2 →" in openssl
    adduser = page[page.index('data-testid="pkg-adduser"') :]
    adduser = adduser[: adduser.index("</div>")]
    assert "not in that listing →" in adduser and "—" not in adduser
