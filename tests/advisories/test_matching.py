"""Matching on the format-faithful feeds: each status and version edge case."""

import pytest

from patchplan.advisories.choices import MatchStatus
from patchplan.advisories.matching import match_servers
from patchplan.advisories.models import Match, Vulnerability
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from tests.factories import ServerFactory

pytestmark = pytest.mark.django_db


def _listing(rows):
    """dpkg-query lines: (binary, version) or (binary, version, source, source version)."""
    out = []
    for row in rows:
        if len(row) == 2:
            out.append(f"{row[0]}\t{row[1]}\tamd64")
        else:
            out.append(f"{row[0]}\t{row[1]}\tamd64\t{row[2]}\t{row[3]}")
    return "\n".join(out) + "\n"


def _server(team, rows, **fields):
    server = ServerFactory(team=team, **fields)
    inventory_import(server=server, data=_listing(rows), source=SnapshotSource.UPLOAD)
    return server


def _open(server):
    return {
        (m.vulnerability.ident, m.package): (m.installed_version, m.fixed_version, m.status)
        for m in Match.objects.filter(server=server, resolved_at=None).select_related(
            "vulnerability"
        )
    }


def test_below_at_and_above_the_fix(team, feeds):
    below = _server(team, [("libssl3", "3.0.19-1~deb12u2", "openssl", "3.0.19-1~deb12u2")])
    at = _server(team, [("libssl3", "3.0.22-1~deb12u2", "openssl", "3.0.22-1~deb12u2")])
    above = _server(team, [("openssl", "3.0.23-1~deb12u1")])
    assert _open(below)[("CVE-2026-21001", "openssl")] == (
        "3.0.19-1~deb12u2",
        "3.0.22-1~deb12u2",
        MatchStatus.FIX_AVAILABLE,
    )
    assert ("CVE-2026-21001", "openssl") not in _open(at)
    assert ("CVE-2026-21001", "openssl") not in _open(above)
    # CVE-2025-9230 is fixed in 3.0.17-1~deb12u3: all three are past it.
    assert ("CVE-2025-9230", "openssl") not in _open(below)


def test_backport_tilde_orders_before_the_release_it_backports(team, feeds):
    # 3.0.22-1~deb12u1 < 3.0.22-1~deb12u2 (fixed) < 3.0.22-1
    older_backport = _server(team, [("openssl", "3.0.22-1~deb12u1")])
    newer_upstream = _server(team, [("openssl", "3.0.22-1")])
    assert ("CVE-2026-21001", "openssl") in _open(older_backport)
    assert ("CVE-2026-21001", "openssl") not in _open(newer_upstream)


def test_epochs_are_compared_first(team, feeds):
    # zlib1g 1:1.2.13.dfsg-1 is below 1:1.2.13.dfsg-1+deb12u1 but above
    # 1:1.2.11.dfsg-4.1; without its epoch "1.2.14" is below them all.
    with_epoch = _server(team, [("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1")])
    no_epoch = _server(team, [("zlib1g", "1.2.14-1", "zlib", "1.2.14-1")])
    assert set(_open(with_epoch)) == {("CVE-2023-45853", "zlib")}
    assert set(_open(no_epoch)) == {("CVE-2023-45853", "zlib"), ("CVE-2022-37434", "zlib")}


def test_binary_name_only_matches_the_source_of_the_same_name(team, feeds):
    # bash without source columns is matched as source "bash"; libssl3 without
    # them cannot be (its source is openssl): only the source columns tell.
    server = _server(team, [("bash", "5.2.15-2+b8"), ("libssl3", "3.0.19-1~deb12u2")])
    found = _open(server)
    assert found[("CVE-2026-30100", "bash")][2] == MatchStatus.NO_FIX
    assert ("CVE-2022-3715", "bash") not in found  # 5.2.15-2+b8 > 5.2.15-1
    assert not any(package == "openssl" for _ident, package in found)


def test_no_fix_undetermined_and_not_affected(team, feeds):
    server = _server(
        team,
        [
            ("libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14"),
            ("libxml2", "2.9.14+dfsg-1.3~deb12u5"),
            ("bash", "5.2.15-2+b8", "bash", "5.2.15-2"),
        ],
    )
    found = _open(server)
    assert found[("CVE-2026-30200", "glibc")] == ("2.36-9+deb12u14", "", MatchStatus.NO_FIX)
    assert found[("CVE-2026-30100", "bash")][2] == MatchStatus.NO_FIX
    # fixed_version "0": bookworm was never affected by CVE-2024-25062.
    assert ("CVE-2024-25062", "libxml2") not in found


def test_a_release_the_advisory_does_not_list_is_not_matched(team, feeds):
    bookworm = _server(team, [("tar", "1.34+dfsg-1.2")])
    bullseye = _server(
        team,
        [("tar", "1.34+dfsg-1"), ("libssl1.1", "1.1.1w-0+deb11u1", "openssl", "1.1.1w-0+deb11u1")],
        os_version="11",
    )
    assert ("CVE-2026-30300", "tar") not in _open(bookworm)
    found = _open(bullseye)
    assert found[("CVE-2026-30300", "tar")][1] == "1.34+dfsg-1+deb11u2"
    # bullseye: CVE-2026-21001 not affected ("0"), CVE-2025-9230 fixed later.
    assert ("CVE-2026-21001", "openssl") not in found
    assert found[("CVE-2025-9230", "openssl")][1] == "1.1.1w-0+deb11u4"


def test_osv_releases_ubuntu_and_almalinux(team, feeds):
    jammy = _server(
        team,
        [("libssl3", "3.0.2-0ubuntu1.19", "openssl", "3.0.2-0ubuntu1.19")],
        os_name="Ubuntu",
        os_version="22.04",
    )
    assert _open(jammy)[("CVE-2026-21001", "openssl")][1] == "3.0.2-0ubuntu1.20"
    alma = ServerFactory(team=team, os_name="AlmaLinux", os_version="9.4")
    inventory_import(
        server=alma,
        data="openssl-libs-3.2.2-6.el9_5.1.x86_64\nbash-5.1.8-9.el9.x86_64\n",
        source=SnapshotSource.UPLOAD,
    )
    assert _open(alma)[("CVE-2026-21001", "openssl-libs")][1] == "1:3.2.2-6.el9_5.2"


def test_vulnerability_merges_sources(feeds):
    vuln = Vulnerability.objects.get(ident="CVE-2026-21001")
    assert vuln.known_exploited
    assert str(vuln.kev_date_added) == "2026-11-28"
    assert vuln.severity == "critical"  # CVSS 9.8 from OSV beats Debian's "high"
    assert float(vuln.cvss_score) == 9.8
    assert vuln.description.startswith("OpenSSL: remote code execution")  # Debian's
    assert vuln.advisories == ["ALSA-2026:1234", "DSA-6100-1"]
    assert not Vulnerability.objects.filter(ident="CVE-2026-99999").exists()  # PyPI


def test_upgrading_resolves_and_keeps_the_match(team, feeds):
    server = _server(team, [("openssl", "3.0.19-1~deb12u2")])
    inventory_import(
        server=server,
        data=_listing([("openssl", "3.0.22-1~deb12u2")]),
        source=SnapshotSource.UPLOAD,
    )
    match = Match.objects.get(server=server, vulnerability__ident="CVE-2026-21001")
    assert match.resolved_at is not None


def test_fleet_rematch_equals_per_server(team, feeds):
    servers = [
        _server(team, [("openssl", "3.0.19-1~deb12u2"), ("bash", "5.2.15-2")]),
        _server(team, [("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1")]),
    ]
    before = {s.pk: _open(s) for s in servers}
    Match.objects.all().delete()
    assert match_servers(None) == sum(len(v) for v in before.values())
    assert {s.pk: _open(s) for s in servers} == before


def test_fleet_rematch_reports_each_step(team, feeds):
    from patchplan.advisories.matching import FLEET_STEPS

    _server(team, [("openssl", "3.0.19-1~deb12u2")])
    steps = []
    match_servers(None, progress=lambda done, total: steps.append((done, total)))
    assert steps == [(i, FLEET_STEPS) for i in range(1, FLEET_STEPS + 1)]
