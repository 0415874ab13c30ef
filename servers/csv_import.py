"""CSV import of servers: a preview with a per-row error report, then all or the good rows.

Columns (a header row is required, order free): hostname, environment, tags,
os, criticality, owner (an email of a team member). Only hostname is required.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from patchplan.core.text import CONTROL_CHARACTERS
from patchplan.teams.models import Team

from .choices import Criticality, Environment
from .models import Server
from .services import normalize_hostname, parse_tag_names, server_create

MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_CSV_ROWS = 10_000
COLUMNS = ("hostname", "environment", "tags", "os", "criticality", "owner")


@dataclass
class CsvRow:
    """One data row of the file, checked: ``errors`` empty means it can be imported."""

    line: int
    hostname: str
    values: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        text = data
    else:
        if len(data) > MAX_CSV_BYTES:
            raise ValidationError(_("The file is larger than 2 MB."))
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(_("The file is not UTF-8 text.")) from None
    if "\x00" in text:
        raise ValidationError(_("The file is not a CSV text file."))
    return text


def _split_os(value: str) -> tuple[str, str]:
    # "Debian 12" -> ("Debian", "12"); "Rocky Linux 9.3" -> ("Rocky Linux", "9.3")
    parts = value.strip().rsplit(" ", 1)
    if len(parts) == 2 and parts[1][:1].isdigit():
        return parts[0][:100], parts[1][:50]
    return value.strip()[:100], ""


def servers_csv_check(*, team: Team, data: bytes | str) -> list[CsvRow]:
    """Read and check every row; raise ValidationError only when the file as a whole is bad."""
    text = _decode(data)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "hostname" not in header:
        raise ValidationError(
            _("The first row must name the columns, including 'hostname' (columns: %(cols)s).")
            % {"cols": ", ".join(COLUMNS)}
        )
    reader.fieldnames = header
    members = {
        m.user.email.lower(): m.user
        for m in team.memberships.select_related("user")
        if m.user.email
    }
    existing = set(Server.objects.filter(team=team).values_list("hostname", flat=True))
    seen: dict[str, int] = {}
    rows: list[CsvRow] = []
    envs = {c.value: c.value for c in Environment} | {
        str(c.label).lower(): c.value for c in Environment
    }
    crits = {c.value: c.value for c in Criticality} | {
        str(c.label).lower(): c.value for c in Criticality
    }
    for record in reader:
        if len(rows) >= MAX_CSV_ROWS:
            raise ValidationError(_("At most 10,000 rows per file."))
        raw = {k: (v or "").strip() for k, v in record.items() if k}
        if not any(raw.values()):
            continue
        row = CsvRow(line=reader.line_num, hostname=raw.get("hostname", ""), raw=raw)
        try:
            row.hostname = normalize_hostname(raw.get("hostname", ""))
        except ValidationError as error:
            row.errors.extend(error.messages)
        else:
            if row.hostname in existing:
                row.errors.append(_("a server with this hostname already exists"))
            elif row.hostname in seen:
                row.errors.append(
                    _("hostname repeats line %(line)s") % {"line": seen[row.hostname]}
                )
            seen.setdefault(row.hostname, row.line)
        env = raw.get("environment", "").lower()
        if env:
            if env in envs:
                row.values["environment"] = envs[env]
            else:
                row.errors.append(
                    _("unknown environment '%(v)s' (one of: %(all)s)")
                    % {"v": env[:40], "all": ", ".join(Environment.values)}
                )
        crit = raw.get("criticality", "").lower()
        if crit:
            if crit in crits:
                row.values["criticality"] = crits[crit]
            else:
                row.errors.append(
                    _("unknown criticality '%(v)s' (one of: %(all)s)")
                    % {"v": crit[:40], "all": ", ".join(Criticality.values)}
                )
        if raw.get("os"):
            if CONTROL_CHARACTERS.search(raw["os"]):
                # A quoted CSV cell may hold a line break; the OS is one line.
                row.errors.append(_("the OS must be one line of text"))
            else:
                row.values["os_name"], row.values["os_version"] = _split_os(raw["os"])
        owner = raw.get("owner", "").lower()
        if owner:
            if owner in members:
                row.values["owner"] = members[owner]
            else:
                row.errors.append(_("owner '%(v)s' is not a team member") % {"v": owner[:80]})
        try:
            row.tags = parse_tag_names(raw.get("tags", ""))
        except ValidationError as error:
            row.errors.extend(error.messages)
        rows.append(row)
    if not rows:
        raise ValidationError(_("The file has no data rows."))
    return rows


@transaction.atomic
def servers_csv_import(
    *, team: Team, data: bytes | str, only_valid: bool = False, by=None
) -> tuple[int, list[CsvRow]]:
    """Create the servers of a CSV file: all, or with ``only_valid`` just the good rows.

    Without ``only_valid`` a file with any bad row raises ValidationError and
    writes nothing. Returns (servers created, rows checked).
    """
    rows = servers_csv_check(team=team, data=data)
    bad = [r for r in rows if not r.ok]
    if bad and not only_valid:
        raise ValidationError(
            _("%(n)s of %(total)s rows have errors; nothing was imported.")
            % {"n": len(bad), "total": len(rows)}
        )
    created = 0
    for row in rows:
        if row.ok:
            server_create(team=team, hostname=row.hostname, tags=row.tags, by=by, **row.values)
            created += 1
    return created, rows
