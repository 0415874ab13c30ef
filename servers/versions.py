"""Order package versions the way the package manager that installed them does.

Fleet search ("which servers run openssl below 3.0.22-1~deb12u2") and the
snapshot diff need the package manager's own ordering, not string order:
Debian epochs, ``~`` sorting before everything, numeric runs compared as
numbers. Pure Python on purpose (no Django), like ``servers.parsers``.
"""

from __future__ import annotations

import re
from typing import Literal

import rpm_vercmp
from debian.debian_support import version_compare as _deb_version_compare

from servers.parsers import Format

__all__ = ["Family", "compare_versions", "family_for_format"]

Family = Literal["deb", "rpm"]

_EPOCH_RE = re.compile(r"[0-9]+")

_FORMAT_FAMILIES: dict[str, Family] = {
    Format.DPKG_SELECTIONS.value: "deb",
    Format.DPKG_QUERY.value: "deb",
    Format.DPKG_L.value: "deb",
    Format.APT_UPGRADABLE.value: "deb",
    Format.RPM_QA.value: "rpm",
}


def family_for_format(format: str) -> Family:
    """Return which version ordering ("deb" or "rpm") applies to a listing format."""
    try:
        return _FORMAT_FAMILIES[format]
    except KeyError:
        raise ValueError(f"unknown listing format {format!r}") from None


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _split_rpm_evr(evr: str) -> tuple[int, str, str]:
    """Split ``[epoch:]version[-release]`` into (epoch, version, release)."""
    epoch_text, colon, rest = evr.partition(":")
    if colon:
        if not _EPOCH_RE.fullmatch(epoch_text):
            raise ValueError(f"invalid rpm version {evr!r}: the epoch must be a number")
        epoch = int(epoch_text)
    else:
        epoch, rest = 0, evr
    # rpm forbids '-' inside version and release, so the last one splits them.
    version, dash, release = rest.rpartition("-")
    if not dash:
        version, release = rest, ""
    if not version:
        raise ValueError(f"invalid rpm version {evr!r}: the version is empty")
    return epoch, version, release


def _compare_rpm(a: str, b: str) -> int:
    epoch_a, version_a, release_a = _split_rpm_evr(a)
    epoch_b, version_b, release_b = _split_rpm_evr(b)
    if epoch_a != epoch_b:
        return -1 if epoch_a < epoch_b else 1
    result = rpm_vercmp.vercmp(version_a, version_b)
    if result:
        return _sign(result)
    # A missing release sorts before any release (rpm itself would call them
    # equal when matching dependencies, but that is not a total order).
    return _sign(rpm_vercmp.vercmp(release_a, release_b))


def compare_versions(a: str, b: str, *, family: str = "deb") -> int:
    """Compare two versions: -1 if a is older than b, 0 if equal, 1 if newer.

    ``family`` is "deb" (dpkg rules, epochs and ``~``) or "rpm" (rpmvercmp on
    epoch, then version, then release); see ``family_for_format``. Raises
    ValueError for a version the family's rules reject, or an unknown family.
    """
    if family == "deb":
        try:
            return _sign(_deb_version_compare(a, b))
        except ValueError:
            raise ValueError(f"invalid Debian version in {a!r} / {b!r}") from None
    if family == "rpm":
        return _compare_rpm(a, b)
    raise ValueError(f"unknown version family {family!r}; expected 'deb' or 'rpm'")
