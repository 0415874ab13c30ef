"""manage.py import_advisories --source debian|osv|kev FILE_OR_URL [--no-rematch]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from patchplan.advisories.feeds import READERS, FeedError
from patchplan.advisories.matching import match_servers
from patchplan.advisories.services import advisories_import, exposure_alerts


class Command(BaseCommand):
    help = (
        "Import an advisory feed from a file (air-gapped networks: downloaded elsewhere) "
        "or a URL: the Debian Security Tracker JSON, an OSV dump (all.zip), or CISA's KEV "
        "JSON. All or nothing: a malformed file leaves the previous data in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, choices=sorted(READERS))
        parser.add_argument("location", help="file path or http(s) URL")
        parser.add_argument(
            "--no-rematch", action="store_true", help="do not rematch the fleet afterwards"
        )

    def handle(self, *args, **options):
        try:
            stats = advisories_import(
                source=options["source"], location=options["location"], rematch=False
            )
        except FeedError as error:
            raise CommandError(f"{options['source']}: {error}") from None
        self.stdout.write(stats.summary())
        if not options["no_rematch"] and (stats.changed or stats.removed):
            # In the foreground: a command run by hand shows the result when done.
            count = match_servers(None)
            exposure_alerts()
            self.stdout.write(f"fleet rematched: {count} open matches")
