"""manage.py import_inventory --team SLUG --server HOSTNAME [--create] [--format F] FILE|-"""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from patchplan.teams.models import Team
from servers import services
from servers.choices import SnapshotSource
from servers.models import Server
from servers.parsers import DEFAULT_MAX_BYTES, SUPPORTED_FORMATS


class Command(BaseCommand):
    help = (
        "Import a package listing (dpkg --get-selections, dpkg-query -W, dpkg -l, "
        "apt list --upgradable, rpm -qa) as a snapshot of a server. FILE '-' reads stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--server", required=True, help="server hostname")
        parser.add_argument(
            "--create", action="store_true", help="add the server if the team has none by that name"
        )
        parser.add_argument(
            "--format", choices=list(SUPPORTED_FORMATS), help="listing format (default: detect)"
        )
        parser.add_argument("file", help="listing file, or - for standard input")

    def _read(self, path: str) -> bytes:
        # One byte over the limit is enough to know it is too large.
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read(DEFAULT_MAX_BYTES + 1) if stream else sys.stdin.read().encode()
            return data
        try:
            with open(path, "rb") as handle:
                return handle.read(DEFAULT_MAX_BYTES + 1)
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None

    def handle(self, *args, **options):
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"no team with slug {options['team']!r}")
        try:
            hostname = services.normalize_hostname(options["server"])
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        data = self._read(options["file"])
        server = Server.objects.filter(team=team, hostname=hostname).first()
        try:
            if server is None:
                if not options["create"]:
                    raise CommandError(
                        f"no server {hostname!r} in team {team.slug!r} (use --create to add it)"
                    )
                result = services.inventory_import_new_server(
                    team=team,
                    hostname=hostname,
                    data=data,
                    format=options["format"],
                    source=SnapshotSource.COMMAND,
                )
            else:
                result = services.inventory_import(
                    server=server,
                    data=data,
                    format=options["format"],
                    source=SnapshotSource.COMMAND,
                )
        except services.InventoryRejected as error:
            raise CommandError(f"{options['file']}: {error.messages[0]}") from None
        if not result.created:
            self.stderr.write("Same listing as the latest snapshot; nothing new stored.")
        self.stdout.write(result.summary())
