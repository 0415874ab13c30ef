"""`manage.py export_plan PLAN_ID`: the plan as YAML on standard output."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from plans import yaml_io
from plans.models import Plan


class Command(BaseCommand):
    help = "Write a plan as YAML to standard output (imports back with import_plan)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("plan_id", type=int)

    def handle(self, *args, **options) -> None:
        plan = Plan.objects.select_related("owner").filter(pk=options["plan_id"]).first()
        if plan is None:
            raise CommandError(f"No plan with the id {options['plan_id']}.")
        self.stdout.write(yaml_io.export_plan(plan), ending="")
