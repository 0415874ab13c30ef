"""version_key() sorts versions exactly as compare_versions() orders them, for Debian
and RPM rules: checked on hand-picked pairs and on pairs hypothesis makes up."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.versions import compare_versions, version_key


def _order(a: str, b: str, family: str) -> int:
    ka, kb = version_key(a, family=family), version_key(b, family=family)
    return (ka > kb) - (ka < kb)


DEB = [
    "0",
    "1",
    "1.",
    "1.0",
    "1.00",
    "1.0.0",
    "1.0a",
    "1.0+b1",
    "1.0~rc1",
    "1.0~~",
    "1.0~",
    "1.0-1",
    "1.0-0",
    "1.0-1~deb12u1",
    "1.0-1+deb12u1",
    "1.0-1.1",
    "1:0.1",
    "2:1.0",
    "10",
    "2",
    "3.0.11-1~deb12u2",
    "3.0.11-1",
    "3.0.2-0ubuntu1.15",
    "3.0.2-0ubuntu1.9",
    "a",
    "1a",
    "1.0-a",
    "9999999999999999999999.1",
    "1.0+dfsg-1",
    "1.0.dfsg-1",
    "0:1.0",
]
RPM = [
    "1.0",
    "1.0~rc1",
    "1.0.1",
    "1_0",
    "1.0a",
    "1:0.1",
    "1.0-1.el9",
    "1.0-2.el9",
    "1.0-1.el9~x",
    "2.a",
    "2.1",
    "el9",
    "1.0-10.el9",
    "1.0-9.el9_3",
    "3.0.7-27.el9",
    "0:3.0.7",
    "1.0^post1",
    "1..0",
    "a1",
    "1a",
    "1.0-",
]


@pytest.mark.parametrize(("family", "versions"), [("deb", DEB), ("rpm", RPM)])
def test_key_order_matches_the_comparison_on_known_pairs(family, versions):
    wrong = [
        (a, b)
        for a, b in itertools.product(versions, versions)
        if _order(a, b, family) != compare_versions(a, b, family=family)
    ]
    assert wrong == []


_deb_upstream = st.from_regex(r"[0-9][0-9A-Za-z.+~]{0,12}", fullmatch=True)
_deb_revision = st.from_regex(r"[0-9A-Za-z.+~]{1,8}", fullmatch=True)
_deb = st.builds(
    lambda epoch, up, rev: (
        (f"{epoch}:" if epoch is not None else "") + up + (f"-{rev}" if rev else "")
    ),
    st.one_of(st.none(), st.integers(0, 30)),
    _deb_upstream,
    st.one_of(st.none(), _deb_revision),
)
_rpm = st.builds(
    lambda epoch, ver, rel: (
        (f"{epoch}:" if epoch is not None else "") + ver + (f"-{rel}" if rel else "")
    ),
    st.one_of(st.none(), st.integers(0, 30)),
    st.from_regex(r"[0-9A-Za-z._+~^]{1,12}", fullmatch=True),
    st.one_of(st.none(), st.from_regex(r"[0-9A-Za-z._+~^]{1,8}", fullmatch=True)),
)


@settings(max_examples=1500, deadline=None)
@given(_deb, _deb)
def test_key_order_matches_dpkg_order(a, b):
    assert _order(a, b, "deb") == compare_versions(a, b, family="deb")


@settings(max_examples=1500, deadline=None)
@given(_rpm, _rpm)
def test_key_order_matches_rpm_order(a, b):
    assert _order(a, b, "rpm") == compare_versions(a, b, family="rpm")


@settings(max_examples=500, deadline=None)
@given(_deb)
def test_a_version_and_a_close_variant_order_like_the_comparison(a):
    # Random pairs are rarely close; these are: a tilde, a suffix, a bumped revision.
    for b in (a + "~", a + "a", a + ".0", a + "+1", a.replace("1", "2", 1)):
        try:
            expected = compare_versions(a, b, family="deb")
        except ValueError:
            continue
        assert _order(a, b, "deb") == expected, (a, b)


def test_rejected_versions_have_no_key():
    assert version_key("a b", family="deb") == ""
    assert version_key("x:1", family="rpm") == ""
    with pytest.raises(ValueError):
        version_key("1.0", family="apk")
