"""Read advisory feeds in their published formats, streaming, into plain records.

- Debian Security Tracker JSON (https://security-tracker.debian.org/tracker/data/json):
  ``{source package: {CVE id: {"description", "releases": {codename: {"status",
  "fixed_version", "urgency", "repositories"}}}}}``; status is "resolved" (with
  ``fixed_version``, where "0" means the release was never affected), "open" or
  "undetermined". Tens of MB: read one source package at a time with ijson.
- OSV (schema 1.6), a per-ecosystem ``all.zip`` of one JSON record per file:
  ``affected[].package.ecosystem`` ("Debian:12", "Ubuntu:22.04:LTS",
  "AlmaLinux:9", "Rocky Linux:9"), ``ranges[].events`` (introduced / fixed /
  last_affected / limit) and ``versions``, ``severity[]`` (CVSS vectors, or
  Ubuntu's priority words). Read member by member; each affected entry becomes
  the intervals its events describe (``osv_intervals``).
- CISA KEV JSON: ``{"catalogVersion", "vulnerabilities": [{"cveID", "dateAdded",
  "knownRansomwareCampaignUse", ...}]}``, streamed item by item.

Pure Python (no Django). Anything that is not such a feed raises FeedError,
with a message fit for the admin page.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import IO, NamedTuple

import ijson
from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError

from servers.releases import release_for_osv_ecosystem
from servers.versions import version_key

from .choices import SEVERITY_RANK, FixStatus, Severity

__all__ = ["Affected", "FeedError", "FeedRecord", "read_debian", "read_kev", "read_osv"]


class FeedError(ValueError):
    """A feed that cannot be read; ``str()`` says what is wrong."""


class Affected(NamedTuple):
    """What a record says about one package in one release, as one version interval:
    FIXED: [introduced, fixed); OPEN: [introduced, last_affected], or from introduced
    on when last_affected is empty; UNDETERMINED: every version. An empty
    introduced means from the first version (OSV's "0")."""

    release: str
    package: str
    status: str
    fixed: str = ""
    urgency: str = ""
    introduced: str = ""
    last_affected: str = ""


@dataclass
class FeedRecord:
    key: str
    content_hash: str
    idents: list[str]
    summary: str = ""
    severity_rank: int = 0
    cvss_score: float | None = None
    packages: list[Affected] = field(default_factory=list)
    data: dict = field(default_factory=dict)


def _hash(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


# --- Debian -------------------------------------------------------------------

# Debian urgencies; "**" marks one the tracker derived, not a person.
_URGENCY_RANK = {
    "high": SEVERITY_RANK[Severity.HIGH],
    "medium": SEVERITY_RANK[Severity.MEDIUM],
    "low": SEVERITY_RANK[Severity.LOW],
    "unimportant": SEVERITY_RANK[Severity.LOW],
}


def debian_status(entry: dict) -> tuple[str, str]:
    """(FixStatus, fixed version) of one release entry of the tracker JSON."""
    status = entry.get("status", "")
    fixed = str(entry.get("fixed_version") or "")
    if status == "resolved":
        if fixed == "0":
            return FixStatus.NOT_AFFECTED, ""
        if fixed:
            return FixStatus.FIXED, fixed
        raise FeedError("a 'resolved' entry without fixed_version")
    if status == "open":
        return FixStatus.OPEN, ""
    if status == "undetermined":
        return FixStatus.UNDETERMINED, ""
    raise FeedError(f"unknown status {status[:40]!r}")


def read_debian(stream: IO[bytes]) -> Iterator[FeedRecord]:
    """One FeedRecord per (source package, CVE) of the tracker's JSON."""
    try:
        for package, cves in ijson.kvitems(stream, "", use_float=True):
            if not isinstance(cves, dict):
                raise FeedError(f"{package[:80]}: expected an object of CVEs")
            for ident, info in cves.items():
                if not isinstance(info, dict) or not isinstance(info.get("releases"), dict):
                    raise FeedError(f"{package[:80]}/{ident[:40]}: no 'releases' object")
                rows = []
                rank = 0
                for release, entry in info["releases"].items():
                    try:
                        status, fixed = debian_status(entry)
                    except FeedError as error:
                        raise FeedError(f"{package[:80]}/{ident[:40]}/{release}: {error}") from None
                    urgency = str(entry.get("urgency", "")).rstrip("*")
                    if status != FixStatus.NOT_AFFECTED:
                        rank = max(rank, _URGENCY_RANK.get(urgency, 0))
                    rows.append(Affected(release, package, status, fixed, urgency))
                yield FeedRecord(
                    key=f"{package}/{ident}",
                    content_hash=_hash(info),
                    idents=[ident],
                    summary=str(info.get("description", ""))[:2000],
                    severity_rank=rank,
                    packages=rows,
                )
    except ijson.JSONError as error:
        raise FeedError(f"not valid JSON: {error}") from None


# --- OSV ----------------------------------------------------------------------

_UBUNTU_PRIORITY = {
    "critical": SEVERITY_RANK[Severity.CRITICAL],
    "high": SEVERITY_RANK[Severity.HIGH],
    "medium": SEVERITY_RANK[Severity.MEDIUM],
    "low": SEVERITY_RANK[Severity.LOW],
    "negligible": SEVERITY_RANK[Severity.LOW],
}


def cvss_rank(score: float) -> int:
    """CVSS v3/v4 qualitative rating of a base score, as a severity rank."""
    if score >= 9.0:
        return SEVERITY_RANK[Severity.CRITICAL]
    if score >= 7.0:
        return SEVERITY_RANK[Severity.HIGH]
    if score >= 4.0:
        return SEVERITY_RANK[Severity.MEDIUM]
    return SEVERITY_RANK[Severity.LOW] if score > 0 else 0


def _osv_severity(entries: list) -> tuple[int, float | None]:
    rank, best = 0, None
    for entry in entries or []:
        kind, score = entry.get("type"), str(entry.get("score", ""))
        try:
            if kind == "CVSS_V3":
                value = float(CVSS3(score).base_score)
            elif kind == "CVSS_V4":
                value = float(CVSS4(score).base_score)
            elif kind == "Ubuntu":
                rank = max(rank, _UBUNTU_PRIORITY.get(score.lower(), 0))
                continue
            else:
                continue
        except (CVSSError, ValueError):
            continue  # a vector the library refuses says nothing about severity
        best = value if best is None else max(best, value)
        rank = max(rank, cvss_rank(value))
    return rank, best


@lru_cache(maxsize=65536)
def _key(version: str, family: str) -> str:
    # version_key orders like compare_versions at a quarter of its cost per
    # comparison, and an OSV dump repeats the same versions across its records.
    return version_key(version, family=family)


def _event_order(version: str, family: str) -> tuple[int, str]:
    # OSV's "0" sorts before every version; an unreadable version ("" key) just after.
    if version == "0":
        return (0, "")
    return (1, _key(version, family))


def _below(a: str, b: str, family: str) -> bool:
    """a < b in the family's ordering; False when either cannot be read."""
    key_a, key_b = _key(a, family), _key(b, family)
    return bool(key_a and key_b) and key_a < key_b


def osv_intervals(affected: dict, family: str, release: str, package: str) -> list[Affected]:
    """The affected versions of one ``affected[]`` entry as intervals, exactly as the
    schema's evaluation pseudocode decides (docs/schema.md, "Evaluation"):

    - per ECOSYSTEM range, events sorted in the ecosystem's order (dpkg or rpm):
      ``introduced`` opens an interval (if none is open), ``fixed`` closes it before
      the fixed version, ``last_affected`` closes it after that version; one still open
      at the end has no upper bound;
    - ``limit`` events: only versions below the highest limit are in the range ("*"
      is infinity), so intervals are cut there; the limit then acts as the fix;
    - ``versions``: each listed version is affected; those no range covers become
      one-version intervals.

    Other range types (GIT, SEMVER) cannot be evaluated on installed packages and
    add nothing, as in the pseudocode."""
    rows: list[Affected] = []
    for r in affected.get("ranges") or []:
        if r.get("type") != "ECOSYSTEM":
            continue
        events = [e for e in r.get("events") or [] if isinstance(e, dict) and len(e) == 1]
        limits = [str(e["limit"]) for e in events if "limit" in e]
        limit = ""
        if limits and not any("*" in v for v in limits):
            limit = max(limits, key=lambda v: _event_order(v, family))
        start: str | None = None  # the open interval's introduced, "" for "0"
        spans: list[tuple[str, str, str]] = []  # (introduced, fixed, last_affected)
        ordered = sorted(
            (e for e in events if "limit" not in e),
            key=lambda e: _event_order(str(next(iter(e.values()))), family),
        )
        for event in ordered:
            ((kind, value),) = event.items()
            value = str(value)
            if kind == "introduced" and start is None:
                start = "" if value == "0" else value
            elif kind == "fixed" and start is not None:
                spans.append((start, value, ""))
                start = None
            elif kind == "last_affected" and start is not None:
                spans.append((start, "", value))
                start = None
        if start is not None:
            spans.append((start, "", ""))
        for introduced, fixed, last in spans:
            if limit:
                if introduced and not _below(introduced, limit, family):
                    continue  # the whole interval is at or above the limit
                if (fixed and _below(limit, fixed, family)) or (
                    not fixed and (not last or not _below(last, limit, family))
                ):
                    fixed, last = limit, ""
            rows.append(
                Affected(
                    release,
                    package,
                    FixStatus.FIXED if fixed else FixStatus.OPEN,
                    fixed,
                    "",
                    introduced,
                    last,
                )
            )
    for version in dict.fromkeys(str(v) for v in affected.get("versions") or []):
        if not any(_covers(row, version, family) for row in rows):
            rows.append(Affected(release, package, FixStatus.OPEN, "", "", version, version))
    return rows


def _covers(row: Affected, version: str, family: str) -> bool:
    if row.introduced and _below(version, row.introduced, family):
        return False
    if row.fixed:
        return _below(version, row.fixed, family)
    return not row.last_affected or not _below(row.last_affected, version, family)


def osv_record(record: dict) -> FeedRecord | None:
    """A FeedRecord for one OSV record, or None if it concerns no release PatchPlan knows."""
    if not isinstance(record, dict) or "id" not in record:
        raise FeedError("an OSV record without an 'id'")
    osv_id = str(record["id"])
    names = [osv_id, *record.get("aliases", []), *record.get("upstream", [])]
    cves = list(dict.fromkeys(n for n in names if str(n).startswith("CVE-")))
    if record.get("withdrawn"):
        # Withdrawn: keep the id but no affected packages, so nothing matches it.
        return FeedRecord(key=osv_id, content_hash=_hash(record), idents=cves or [osv_id])
    rank, score = _osv_severity(record.get("severity", []))
    rows = []
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        found = release_for_osv_ecosystem(str(package.get("ecosystem", "")))
        if found is None or not package.get("name"):
            continue
        sub_rank, sub_score = _osv_severity(affected.get("severity", []))
        rank = max(rank, sub_rank)
        if sub_score is not None:
            score = sub_score if score is None else max(score, sub_score)
        rows.extend(osv_intervals(affected, found[0], found[1], str(package["name"])))
    if not rows:
        return None
    # DSA-/USN-/ALSA- ids are advisories; "DEBIAN-CVE-..." and "UBUNTU-CVE-..."
    # are a distribution's record of the CVE itself.
    advisory = [] if "CVE-" in osv_id else [osv_id]
    return FeedRecord(
        key=osv_id,
        content_hash=_hash(record),
        idents=cves or [osv_id],
        summary=str(record.get("summary") or record.get("details") or "")[:2000],
        severity_rank=rank,
        cvss_score=score,
        packages=rows,
        data={"advisories": advisory},
    )


def read_osv(stream: IO[bytes]) -> Iterator[FeedRecord]:
    """Records of an OSV dump: a zip of JSON files (all.zip), or one JSON record/list."""
    head = stream.read(4)
    stream.seek(0)
    try:
        if head.startswith(b"PK"):
            with zipfile.ZipFile(stream) as archive:
                for info in archive.infolist():
                    if info.is_dir() or not info.filename.endswith(".json"):
                        continue
                    with archive.open(info) as member:
                        try:
                            record = json.load(member)
                        except ValueError as error:
                            raise FeedError(f"{info.filename}: not valid JSON: {error}") from None
                    found = osv_record(record)
                    if found is not None:
                        yield found
            return
        try:
            data = json.load(stream)
        except ValueError as error:
            raise FeedError(f"not an OSV zip or JSON file: {error}") from None
        for record in data if isinstance(data, list) else [data]:
            found = osv_record(record)
            if found is not None:
                yield found
    except zipfile.BadZipFile as error:
        raise FeedError(f"a broken zip file: {error}") from None


# --- CISA KEV -----------------------------------------------------------------


def read_kev(stream: IO[bytes]) -> Iterator[FeedRecord]:
    """One FeedRecord per KEV entry: marks its CVE as known exploited."""
    seen = 0
    try:
        for item in ijson.items(stream, "vulnerabilities.item", use_float=True):
            cve = str(item.get("cveID", "")) if isinstance(item, dict) else ""
            if not cve.startswith("CVE-"):
                raise FeedError(f"a KEV entry without a cveID: {str(item)[:80]}")
            try:
                added = date.fromisoformat(str(item.get("dateAdded", "")))
            except ValueError:
                raise FeedError(f"{cve}: dateAdded is not a date") from None
            seen += 1
            yield FeedRecord(
                key=cve,
                content_hash=_hash(item),
                idents=[cve],
                summary=str(item.get("shortDescription", ""))[:2000],
                data={
                    "date_added": added.isoformat(),
                    "ransomware": item.get("knownRansomwareCampaignUse") == "Known",
                    "name": str(item.get("vulnerabilityName", ""))[:300],
                },
            )
    except ijson.JSONError as error:
        raise FeedError(f"not valid JSON: {error}") from None
    if not seen:
        raise FeedError("no 'vulnerabilities' in the file: not a KEV catalogue")


READERS = {"debian": read_debian, "osv": read_osv, "kev": read_kev}
