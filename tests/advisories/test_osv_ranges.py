"""OSV ranges matched as the schema's evaluation pseudocode decides (schema 1.6,
"Evaluation"): introduced above 0, several ranges with a gap, unsorted events,
last_affected inclusive, limit, the versions list, epochs; dpkg and rpm ordering."""

import json

import pytest

from patchplan.advisories.choices import FixStatus, MatchStatus
from patchplan.advisories.feeds import Affected, osv_intervals, osv_record
from patchplan.advisories.models import AffectedPackage, Match
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from tests.factories import ServerFactory

from .conftest import DATA


def _record(name):
    return json.loads((DATA / "osv" / name).read_text())


# --- the reader: intervals ---------------------------------------------------------


def test_two_ranges_with_a_gap_unsorted_events_and_a_git_range():
    rows = osv_record(_record("DEBIAN-CVE-2026-40001.json")).packages
    # The versions list adds nothing: every listed version is inside a range.
    # The GIT range cannot be evaluated on installed packages: no row.
    assert rows == [
        Affected("bookworm", "curl", FixStatus.FIXED, "7.88.1-10+deb12u8", "", "7.88.1-10+deb12u5"),
        Affected("bookworm", "curl", FixStatus.FIXED, "8.5.0-2", "", "8.5.0-1"),
    ]


def test_last_affected_with_an_epoch():
    (row,) = osv_record(_record("UBUNTU-CVE-2026-40002.json")).packages
    assert row == Affected(
        "jammy", "vim", FixStatus.OPEN, "", "", "2:8.2.3995-1ubuntu2.10", "2:8.2.3995-1ubuntu2.16"
    )


def test_listed_versions_outside_the_ranges_become_one_version_intervals():
    rows = osv_record(_record("ALSA-2026-5001.json")).packages
    assert rows == [
        Affected("almalinux:9", "sudo", FixStatus.FIXED, "1.9.5p2-10.el9_3", "", "1.9.5p2-9.el9"),
        # 1.9.5p2-7.el9 is listed but below "introduced"; -9.el9 and -9.el9_2 are in range.
        Affected("almalinux:9", "sudo", FixStatus.OPEN, "", "", "1.9.5p2-7.el9", "1.9.5p2-7.el9"),
    ]


def test_the_highest_limit_caps_the_range():
    (row,) = osv_record(_record("RLSA-2026-5002.json")).packages
    # Two limits: a version is in the range if it is below either, so below the highest.
    assert row == Affected("rocky:9", "expat", FixStatus.FIXED, "2.5.0-3.el9", "", "2.5.0-1.el9")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([{"introduced": "0"}], [("", "", "")]),
        ([{"introduced": "0"}, {"fixed": "1.2-1"}], [("", "1.2-1", "")]),
        # A second "introduced" while a range is open changes nothing.
        (
            [{"introduced": "1.0-1"}, {"introduced": "1.1-1"}, {"fixed": "1.2-1"}],
            [("1.0-1", "1.2-1", "")],
        ),
        # A "fixed" before any "introduced" closes nothing.
        ([{"fixed": "0.9-1"}, {"introduced": "1.0-1"}], [("1.0-1", "", "")]),
        # Reopened after a fix, never fixed again.
        (
            [{"introduced": "0"}, {"fixed": "1.2-1"}, {"introduced": "2.0-1"}],
            [("", "1.2-1", ""), ("2.0-1", "", "")],
        ),
        # A limit below last_affected cuts it; "*" is no limit at all.
        (
            [{"introduced": "0"}, {"last_affected": "3.0-1"}, {"limit": "2.0-1"}],
            [("", "2.0-1", "")],
        ),
        (
            [{"introduced": "0"}, {"last_affected": "1.0-1"}, {"limit": "2.0-1"}],
            [("", "", "1.0-1")],
        ),
        ([{"introduced": "0"}, {"limit": "*"}], [("", "", "")]),
        # An interval wholly at or above the limit is dropped.
        ([{"introduced": "3.0-1"}, {"limit": "2.0-1"}], []),
        # dpkg ordering, not string ordering: 1.10 > 1.9, ~ before the release.
        ([{"fixed": "1.10-1"}, {"introduced": "1.9-1"}], [("1.9-1", "1.10-1", "")]),
        ([{"fixed": "2.0-1"}, {"introduced": "2.0~rc1-1"}], [("2.0~rc1-1", "2.0-1", "")]),
    ],
)
def test_events_to_intervals(events, expected):
    rows = osv_intervals(
        {"ranges": [{"type": "ECOSYSTEM", "events": events}]}, "deb", "bookworm", "p"
    )
    assert [(r.introduced, r.fixed, r.last_affected) for r in rows] == expected


def test_rpm_ordering_sorts_the_events():
    # rpm: 1.9.5p2-10 > 1.9.5p2-9 (numeric release segments).
    rows = osv_intervals(
        {
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"fixed": "1.9.5p2-10.el9"}, {"introduced": "1.9.5p2-9.el9"}],
                }
            ]
        },
        "rpm",
        "almalinux:9",
        "sudo",
    )
    assert [(r.introduced, r.fixed) for r in rows] == [("1.9.5p2-9.el9", "1.9.5p2-10.el9")]


def test_an_entry_without_ecosystem_ranges_or_versions_affects_nothing():
    assert (
        osv_intervals(
            {"ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]},
            "deb",
            "bookworm",
            "p",
        )
        == []
    )


# --- matching against servers ------------------------------------------------------


def _deb_server(team, package, version, **fields):
    server = ServerFactory(team=team, **fields)
    inventory_import(
        server=server, data=f"{package}\t{version}\tamd64\n", source=SnapshotSource.UPLOAD
    )
    return server


def _rpm_server(team, os_name, nevra):
    server = ServerFactory(team=team, os_name=os_name, os_version="9.4")
    inventory_import(server=server, data=f"{nevra}\n", source=SnapshotSource.UPLOAD)
    return server


def _open(server, ident):
    return {
        m.package: (m.installed_version, m.fixed_version, m.status)
        for m in Match.objects.filter(server=server, resolved_at=None, vulnerability__ident=ident)
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        ("7.88.1-10+deb12u4", None),  # below introduced
        ("7.88.1-10+deb12u5", ("7.88.1-10+deb12u8", MatchStatus.FIX_AVAILABLE)),  # at introduced
        ("7.88.1-10+deb12u6", ("7.88.1-10+deb12u8", MatchStatus.FIX_AVAILABLE)),  # between
        ("7.88.1-10+deb12u8", None),  # at fixed
        ("8.0.0-1", None),  # in the gap between the two ranges
        ("8.5.0-1", ("8.5.0-2", MatchStatus.FIX_AVAILABLE)),  # in the second range
        ("8.5.0-2", None),
    ],
)
def test_debian_two_ranges(team, feeds, installed, expected):
    server = _deb_server(team, "curl", installed)
    found = _open(server, "CVE-2026-40001")
    assert found.get("curl") == (None if expected is None else (installed, *expected))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("installed", "affected"),
    [
        ("2:8.2.3995-1ubuntu2.9", False),  # below introduced
        ("2:8.2.3995-1ubuntu2.10", True),
        ("2:8.2.3995-1ubuntu2.16", True),  # last_affected is inclusive
        ("2:8.2.3995-1ubuntu2.17", False),
        # Without its epoch (0) the same upstream version is below introduced.
        ("8.2.3995-1ubuntu2.12", False),
        ("3:8.2.0-1", False),  # a higher epoch is above last_affected
    ],
)
def test_ubuntu_last_affected_and_epochs(team, feeds, installed, affected):
    server = _deb_server(team, "vim", installed, os_name="Ubuntu", os_version="22.04")
    found = _open(server, "CVE-2026-40002")
    assert found == ({"vim": (installed, "", MatchStatus.NO_FIX)} if affected else {})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("nevra", "expected"),
    [
        ("sudo-1.9.5p2-7.el9.x86_64", ("", MatchStatus.NO_FIX)),  # listed in versions
        ("sudo-1.9.5p2-8.el9.x86_64", None),  # below introduced, not listed
        ("sudo-1.9.5p2-9.el9_2.x86_64", ("1.9.5p2-10.el9_3", MatchStatus.FIX_AVAILABLE)),
        ("sudo-1.9.5p2-10.el9_3.x86_64", None),
    ],
)
def test_almalinux_range_and_versions(team, feeds, nevra, expected):
    server = _rpm_server(team, "AlmaLinux", nevra)
    found = _open(server, "CVE-2026-40003")
    assert (found["sudo"][1:] if found else None) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("nevra", "affected"),
    [
        ("expat-2.4.9-1.el9.x86_64", False),
        ("expat-2.5.0-1.el9.x86_64", True),
        ("expat-2.5.0-2.el9.x86_64", True),  # below the higher of the two limits
        ("expat-2.5.0-3.el9.x86_64", False),
    ],
)
def test_rocky_limit(team, feeds, nevra, affected):
    server = _rpm_server(team, "Rocky Linux", nevra)
    assert bool(_open(server, "CVE-2026-40004")) is affected


@pytest.mark.django_db
def test_fleet_rematch_agrees_with_the_per_server_match(team, feeds):
    from patchplan.advisories.matching import match_servers

    servers = [
        _deb_server(team, "curl", "7.88.1-10+deb12u6"),
        _deb_server(team, "curl", "8.0.0-1"),
        _deb_server(team, "vim", "2:8.2.3995-1ubuntu2.16", os_name="Ubuntu", os_version="22.04"),
        _rpm_server(team, "AlmaLinux", "sudo-1.9.5p2-7.el9.x86_64"),
        _rpm_server(team, "Rocky Linux", "expat-2.5.0-2.el9.x86_64"),
    ]
    before = {
        s.pk: sorted(
            Match.objects.filter(server=s).values_list(
                "vulnerability__ident", "package", "installed_version", "fixed_version", "status"
            )
        )
        for s in servers
    }
    Match.objects.all().delete()
    match_servers(None)
    after = {
        s.pk: sorted(
            Match.objects.filter(server=s).values_list(
                "vulnerability__ident", "package", "installed_version", "fixed_version", "status"
            )
        )
        for s in servers
    }
    assert after == before
    idents = [
        {row[0] for row in rows}
        & {"CVE-2026-40001", "CVE-2026-40002", "CVE-2026-40003", "CVE-2026-40004"}
        for rows in before.values()
    ]
    assert idents == [
        {"CVE-2026-40001"},
        set(),
        {"CVE-2026-40002"},
        {"CVE-2026-40003"},
        {"CVE-2026-40004"},
    ]
    assert AffectedPackage.objects.filter(package="curl", introduced="8.5.0-1").exists()
