"""Does a server show the plan's packages patched? A pure comparison of what the
plan targets with what the host reported (no database: see
plans.selectors.execution for where the listings come from).

- Only the plan's packages installed on the host count; a package the host
  does not have is ignored.
- With a target version, the installed version must be at or above it; without
  one, it must be newer than in the listing taken before the window (or newly
  installed).
- An `apt list --upgradable` listing counts: a package with nothing pending is
  up to date; one still pending is not (unless already at its target).
- "Before" is the package's version in the listing taken before the window: the
  installed one, or for an `apt list --upgradable` listing the version a pending
  update is "upgradable from" (a package with nothing pending is not in it).
- Nothing to compare (no listing since the window started, no package of the plan
  on the host, versions unknown) is not verified: the engineer may verify with a
  written reason instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _

from servers.versions import compare_versions

PACKAGES = "packages"
UPDATES = "updates"


@dataclass(frozen=True)
class Listing:
    """One package listing of a host, reduced to what verification needs."""

    kind: str  # PACKAGES or UPDATES
    taken_at: datetime | None = None
    # name -> version ("" when the format has none, e.g. dpkg --get-selections)
    installed: Mapping[str, str] = field(default_factory=dict)
    # name -> (installed version, candidate) of pending updates
    pending: Mapping[str, tuple[str, str]] = field(default_factory=dict)


# A package's outcome.
OK = "ok"
NOT_INSTALLED = "not_installed"
BELOW_TARGET = "below_target"
NOT_CHANGED = "not_changed"
PENDING = "pending"
UNKNOWN = "unknown"
NO_LISTING = "no_listing"


@dataclass(frozen=True)
class PackageResult:
    name: str
    target: str | None
    before: str | None  # None: not in the listing before (or no listing)
    after: str | None  # None: not installed / no listing after
    outcome: str
    # The kind of the listing before the window (PACKAGES, UPDATES), None without one.
    before_kind: str | None = None

    @property
    def before_text(self) -> str:
        """The version before as run mode shows it: an updates listing names only the
        packages with an update pending, so a package missing from it is not "—"."""
        if self.before:
            return self.before
        if self.before_kind == UPDATES:
            return _("not in that listing")
        return "—"

    @property
    def counts(self) -> bool:
        return self.outcome != NOT_INSTALLED

    @property
    def updated(self) -> bool:
        return self.outcome == OK

    @property
    def label(self) -> str:
        return {
            OK: _("patched"),
            NOT_INSTALLED: _("not installed here (ignored)"),
            BELOW_TARGET: _("below the target %(t)s") % {"t": self.target},
            NOT_CHANGED: _("not newer than before"),
            PENDING: _("update still pending"),
            UNKNOWN: _("version unknown"),
            NO_LISTING: _("no listing since the window started"),
        }[self.outcome]


@dataclass(frozen=True)
class Verification:
    verified: bool
    packages: list[PackageResult]

    @property
    def counted(self) -> list[PackageResult]:
        return [p for p in self.packages if p.counts]


def _cmp(a: str, b: str, family: str) -> int | None:
    try:
        return compare_versions(a, b, family=family)
    except ValueError:
        return None


def _version_before(name: str, before: Listing | None) -> str | None:
    """The package's version in the listing before the window: installed (a package
    listing), or "upgradable from" of a pending update (an updates listing, which
    names no other package)."""
    if before is None:
        return None
    if before.kind == UPDATES:
        pending = before.pending.get(name)
        return pending[0] if pending and pending[0] else None
    return before.installed.get(name)


def _result(name, target, before, *rest) -> PackageResult:
    return PackageResult(name, target, *rest, before_kind=before.kind if before else None)


def _installed_result(name, target, before, after, family) -> PackageResult:
    old = _version_before(name, before)
    new = after.installed.get(name)
    if new is None:
        return _result(name, target, before, old, None, NOT_INSTALLED)
    if not new:
        return _result(name, target, before, old, new, UNKNOWN)
    if target:
        c = _cmp(new, target, family)
        outcome = UNKNOWN if c is None else (OK if c >= 0 else BELOW_TARGET)
        return _result(name, target, before, old, new, outcome)
    if old is None:
        # No listing before, the package new on the host, or no update was pending for
        # it (an updates listing): it is there now.
        return _result(name, target, before, old, new, OK)
    if not old:
        return _result(name, target, before, old, new, UNKNOWN)
    c = _cmp(new, old, family)
    outcome = UNKNOWN if c is None else (OK if c > 0 else NOT_CHANGED)
    return _result(name, target, before, old, new, outcome)


def _updates_result(name, target, before, after, family) -> PackageResult:
    old = _version_before(name, before)
    if before is not None and before.kind == PACKAGES and old is None:
        # The listing before says the host doesn't have it.
        return _result(name, target, before, None, None, NOT_INSTALLED)
    if name not in after.pending:
        return _result(name, target, before, old, _("up to date"), OK)
    current, candidate = after.pending[name]
    reached = _cmp(current, target, family) if target and current else None
    if reached is not None and reached >= 0:
        return _result(name, target, before, old, current, OK)
    return _result(name, target, before, old, current, PENDING)


def verify_packages(
    *,
    targets: Mapping[str, str | None],
    before: Listing | None,
    after: Listing | None,
    family: str = "deb",
) -> Verification:
    """Compare the plan's `targets` (package -> minimum version or None) with the
    host's listings before and after the window (see the module doc)."""
    if not targets:
        return Verification(True, [])
    results = []
    for name in sorted(targets):
        target = targets[name]
        if after is None:
            results.append(
                _result(name, target, before, _version_before(name, before), None, NO_LISTING)
            )
        elif after.kind == UPDATES:
            results.append(_updates_result(name, target, before, after, family))
        else:
            results.append(_installed_result(name, target, before, after, family))
    counted = [r for r in results if r.counts]
    return Verification(bool(counted) and all(r.updated for r in counted), results)


def listing_from_blob(kind: str, data: str, taken_at: datetime | None = None) -> Listing:
    """A Listing from a snapshot's stored blob (servers.inventory's canonical rows)."""
    from servers.inventory import packages_from_blob, updates_from_blob

    if kind == UPDATES:
        pending = {}
        for name, _arch, current, candidate, *_rest in updates_from_blob(data):
            pending.setdefault(_bare(name), (current, candidate))
        return Listing(UPDATES, taken_at, {}, pending)
    installed = {}
    for name, _arch, version, *_rest in packages_from_blob(data):
        installed.setdefault(_bare(name), version)
    return Listing(PACKAGES, taken_at, installed, {})


def _bare(name: str) -> str:
    # dpkg --get-selections writes "libssl3:amd64" for multi-arch packages.
    return name.split(":", 1)[0]
