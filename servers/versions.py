"""Order package versions the way the package manager that installed them does.

Fleet search ("which servers run openssl below 3.0.22-1~deb12u2") and the
snapshot diff need the package manager's own ordering, not string order:
Debian epochs, ``~`` sorting before everything, numeric runs compared as
numbers. Pure Python on purpose (no Django), like ``servers.parsers``.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

import rpm_vercmp
from debian.debian_support import Version as _DebVersion
from debian.debian_support import version_compare as _deb_version_compare

from servers.parsers import Format

__all__ = ["Family", "compare_versions", "family_for_format", "version_key"]

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


# --- Sortable keys -----------------------------------------------------------
# version_key() turns a version into a string whose plain code-point order (PostgreSQL's
# "C" collation, Python's str order) is the package manager's order, so the database can
# answer "below 3.0.11-1" with an index range instead of Python comparing every row.
# Codes below the letters: 0x01 "~" (before everything, even the end), 0x02 the end of
# a part, 0x04/0x05 rpm segment kinds. A number is its digits without leading zeros
# after a length code, so longer is bigger. Every encoded part is prefix-free, so parts
# can simply be concatenated.
_TILDE, _END, _ALPHA, _NUMBER = "\x01", "\x02", "\x04", "\x05"
_DIGITS_RE = re.compile(r"[0-9]*")
_RPM_SEGMENT_RE = re.compile(r"[0-9]+|[A-Za-z]+|~|[^0-9A-Za-z~]+")


def _number_key(digits: str) -> str:
    digits = digits.lstrip("0")
    return chr(0x30 + len(digits)) + digits


def _deb_char(c: str) -> str:
    # dpkg's order(): "~" first, then the end of the part, letters, then everything else.
    if c == "~":
        return _TILDE
    if c.isascii() and c.isalpha():
        return c
    return chr(ord(c) + 0x80)


def _deb_part_key(text: str) -> str:
    """dpkg's verrevcmp as a key: alternating non-digit runs (each closed by _END) and
    numbers; an empty part is one empty run and the number 0, as dpkg compares it."""
    out, i, n = [], 0, len(text)
    while True:
        start = i
        while i < n and not text[i].isdigit():
            i += 1
        out.append("".join(_deb_char(c) for c in text[start:i]) + _END)
        digits = _DIGITS_RE.match(text, i).group()
        i += len(digits)
        out.append(_number_key(digits))
        if i >= n:
            break
    return "".join(out) + _END


def _rpm_part_key(text: str) -> str:
    """rpmvercmp (as the rpm_vercmp package implements it, which has no "^" rule) as a
    key: separators ignored, "~" before the end, an alphabetic segment before a numeric
    one."""
    out = []
    for segment in _RPM_SEGMENT_RE.findall(text):
        if segment == "~":
            out.append(_TILDE)
        elif segment.isdigit():
            out.append(_NUMBER + _number_key(segment))
        elif segment.isascii() and segment.isalpha():
            out.append(_ALPHA + segment + _TILDE)
    return "".join(out) + _END


# Pure, and called once per package row: a fleet holds the same versions many times over
# (the demo inventory: 25,000 rows, a few hundred distinct versions).
@functools.lru_cache(maxsize=65536)
def version_key(version: str, *, family: str = "deb") -> str:
    """A string that sorts like compare_versions(family=family) orders versions; "" for
    a version the family's rules reject (such rows are left out of range searches)."""
    try:
        if family == "deb":
            parsed = _DebVersion(version)
            return (
                _number_key(str(parsed.epoch or "0"))
                + _deb_part_key(parsed.upstream_version or "")
                + _deb_part_key(parsed.debian_revision or "")
            )
        if family == "rpm":
            epoch, upstream, release = _split_rpm_evr(version)
            return _number_key(str(epoch)) + _rpm_part_key(upstream) + _rpm_part_key(release)
    except ValueError:
        return ""
    raise ValueError(f"unknown version family {family!r}; expected 'deb' or 'rpm'")
