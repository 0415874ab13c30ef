"""`manage.py import_plan --team SLUG [--title TITLE] [--owner USERNAME] FILE`:
create a plan from YAML and print the new plan's URL path."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from patchplan.teams.models import Membership, Team
from patchplan.teams.roles import Role
from plans import yaml_io


class Command(BaseCommand):
    help = "Import a plan from a YAML file (the guide's milestones shape or a full export)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="YAML file, or - for standard input")
        parser.add_argument("--team", required=True, help="the team's slug")
        parser.add_argument("--title", help="the plan's title (overrides the file's)")
        parser.add_argument(
            "--owner", help="owner's username when the file names none (default: a team admin)"
        )

    def handle(self, *args, **options) -> None:
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"No team with the slug {options['team']!r}.")
        if options["file"] == "-":
            text = sys.stdin.buffer.read()
        else:
            path = Path(options["file"])
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            if path.stat().st_size > yaml_io.MAX_BYTES:
                raise CommandError(f"{path} is larger than {yaml_io.MAX_BYTES // 1000} kB.")
            text = path.read_bytes()
        owner = None
        data_has_owner = False
        try:
            data = yaml_io.load_yaml(text)
            data_has_owner = isinstance(data, dict) and data.get("owner") is not None
            if options["owner"]:
                m = Membership.objects.filter(team=team, user__username=options["owner"]).first()
                if m is None:
                    raise CommandError(f"{options['owner']!r} is not a member of {team.slug}.")
                owner = m.user
            elif not data_has_owner:
                m = (
                    Membership.objects.filter(team=team, role__in=[Role.ADMIN, Role.PLANNER])
                    .select_related("user")
                    .order_by("role", "pk")
                    .first()
                )
                owner = m.user if m else None
            plan = yaml_io.plan_from_data(data, team=team, title=options["title"], owner=owner)
        except yaml_io.PlanImportError as exc:
            raise CommandError("Nothing imported:\n  " + "\n  ".join(exc.problems)) from exc
        self.stdout.write(reverse("plan_detail", args=[plan.pk]))
