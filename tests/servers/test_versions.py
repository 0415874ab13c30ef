"""Version ordering on real version pairs from the Debian 12 samples, and rpm's rules."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.parsers import SUPPORTED_FORMATS, InventoryParseError, parse_inventory
from servers.versions import compare_versions, family_for_format

SAMPLES = Path(__file__).resolve().parent / "samples"


def _parsed(name: str):
    return parse_inventory((SAMPLES / name).read_bytes())


UPDATES = _parsed("debian12-apt-list-upgradable.txt").updates
INSTALLED_VERSIONS = sorted({p.version for p in _parsed("debian12-dpkg-query.tsv").packages})

fuzz = settings(database=None, deadline=None, max_examples=300)


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # ca-certificates: the candidate is a backport with "~", still newer.
        ("20230311+deb12u1", "20250419~deb12u2"),
        # bash binNMU: +b13 is numerically after +b8, though "1" < "8" as text.
        ("5.2.15-2+b8", "5.2.15-2+b13"),
        # libbrotli: a binNMU of -2 is older than its stable update.
        ("1.0.9-2+b6", "1.0.9-2+deb12u1"),
        # openssl: tilde backports of different upstreams.
        ("3.0.19-1~deb12u2", "3.0.22-1~deb12u2"),
        # appstream: a binNMU is newer than the plain revision.
        ("0.16.1-2", "0.16.1-2+b1"),
        # libcap2: an epoch on both sides, then the revision decides.
        ("1:2.66-4+deb12u2+b2", "1:2.66-4+deb12u3+b1"),
        # tzdata: letters in the upstream version.
        ("2025b-0+deb12u2", "2026f-0+deb12u1"),
        # openjdk: "+" inside the upstream version.
        ("17.0.15+6-1~deb12u1", "17.0.21.1+2-1~deb12u1"),
        # "~" sorts before the release it precedes.
        ("1.0~rc1", "1.0"),
        # bsdutils: any epoch beats a bigger version without one.
        ("2.99", "1:2.38.1-5+deb12u3"),
        ("1:14.0.6-12", "2:1.02.185-2"),
    ],
)
def test_deb_pairs_order_like_dpkg(older, newer):
    assert compare_versions(older, newer) == -1
    assert compare_versions(newer, older) == 1
    assert compare_versions(older, newer, family="deb") == -1


def test_every_sample_update_is_newer_than_what_is_installed():
    assert len(UPDATES) == 117
    assert [u.name for u in UPDATES if compare_versions(u.current, u.candidate) != -1] == []


def test_equal_deb_versions_compare_equal():
    assert compare_versions("1:2.38.1-5+deb12u3", "1:2.38.1-5+deb12u3") == 0
    # An absent epoch is epoch 0; dpkg treats the two spellings as one version.
    assert compare_versions("0:3.134", "3.134") == 0


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("2.0-1", "1:1.0-1"),  # the epoch wins
        ("1.0-1.el9", "1.0-2.el9"),  # then the release
        ("1.9", "1.10"),  # numbers compare as numbers
        ("3.0.7-27.el9", "3.0.7-27.el9_5"),
        ("5.14.0-362.8.1.el9_3", "5.14.0-427.13.1.el9_4"),
        ("1.0~rc1-1", "1.0-1"),  # rpm >= 4.10 also sorts "~" first
        ("1.0a-1", "1.0.1-1"),  # a numeric segment beats a letter one
        ("1.0", "1.0-1"),  # a missing release sorts first
        ("0:1.0-1", "1:0.1-1"),
    ],
)
def test_rpm_pairs_order_like_rpm(older, newer):
    assert compare_versions(older, newer, family="rpm") == -1
    assert compare_versions(newer, older, family="rpm") == 1


def test_equal_rpm_versions_compare_equal():
    assert compare_versions("1:3.0.7-27.el9", "1:3.0.7-27.el9", family="rpm") == 0
    assert compare_versions("0:1.0-1", "1.0-1", family="rpm") == 0
    assert compare_versions("1.01-1", "1.1-1", family="rpm") == 0


@pytest.mark.parametrize(
    ("a", "b", "family"),
    [
        ("", "1.0", "deb"),
        ("1.0", "a:1.0", "deb"),
        ("1 .0", "1.0", "deb"),
        ("x:1.0-1", "1.0-1", "rpm"),
        ("1:-1", "1.0-1", "rpm"),
        ("", "1.0-1", "rpm"),
    ],
)
def test_invalid_versions_raise_value_error(a, b, family):
    with pytest.raises(ValueError, match="invalid"):
        compare_versions(a, b, family=family)


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown version family 'pkg'"):
        compare_versions("1.0", "2.0", family="pkg")


def test_each_format_has_a_family():
    assert {f: family_for_format(f) for f in SUPPORTED_FORMATS} == {
        "dpkg-selections": "deb",
        "dpkg-query": "deb",
        "dpkg-l": "deb",
        "apt-upgradable": "deb",
        "rpm-qa": "rpm",
    }
    with pytest.raises(ValueError, match="unknown listing format 'yum'"):
        family_for_format("yum")


@fuzz
@given(
    st.sampled_from(INSTALLED_VERSIONS),
    st.sampled_from(INSTALLED_VERSIONS),
    st.sampled_from(INSTALLED_VERSIONS),
)
def test_sample_versions_are_totally_ordered(a, b, c):
    assert compare_versions(a, a) == 0
    assert compare_versions(a, b) == -compare_versions(b, a)
    if compare_versions(a, b) <= 0 and compare_versions(b, c) <= 0:
        assert compare_versions(a, c) <= 0


@fuzz
@given(st.text(alphabet="0123456789abz.+~:-", min_size=1, max_size=12))
def test_every_version_the_parser_accepts_can_be_compared(version):
    # The parser stores versions that fleet search compares later: whatever it
    # lets through must never make compare_versions raise.
    try:
        parsed = parse_inventory(f"pkg\t{version}\tamd64\n", "dpkg-query").packages[0].version
    except InventoryParseError:
        return
    assert compare_versions(parsed, parsed) == 0
    assert compare_versions(parsed, "1.0") in (-1, 0, 1)


@fuzz
@given(st.text(alphabet="0123456789abz._+~^", min_size=1, max_size=8), st.sampled_from(["", "1:"]))
def test_every_rpm_version_the_parser_accepts_can_be_compared(version, epoch):
    try:
        parsed = parse_inventory(f"pkg-{epoch}{version}-1.el9.x86_64\n", "rpm-qa").packages[0]
    except InventoryParseError:
        return
    assert compare_versions(parsed.version, parsed.version, family="rpm") == 0
    assert compare_versions(parsed.version, "1.0-1", family="rpm") in (-1, 0, 1)
