"""Load the demo team: people in every role, servers, two plans, all dated
relative to today. Running it again changes nothing."""

from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from patchplan.accounts.models import User
from patchplan.teams.models import FreezePeriod, Membership, OffPeakPeriod, Team
from patchplan.teams.roles import Role
from plans.choices import PlanKind, PlanStatus, Risk, TaskStatus
from plans.models import MaintenanceWindow, Milestone, Plan, Task
from servers.choices import Criticality, Environment
from servers.models import Server

DEMO_PASSWORD = "patchplan-demo"  # noqa: S105 - published demo login, local data only
DEMO_PEOPLE = [
    ("admin", "Ada", "Admin", Role.ADMIN),
    ("planner", "Priya", "Planner", Role.PLANNER),
    ("engineer", "Erik", "Engineer", Role.ENGINEER),
    ("approver", "Amara", "Approver", Role.APPROVER),
    ("viewer", "Victor", "Viewer", Role.VIEWER),
]


class Command(BaseCommand):
    help = "Load demo data (team 'demo', five people, 30 servers, two plans). Idempotent."

    def handle(self, *args, **options):
        if Team.objects.filter(slug="demo").exists():
            self.stdout.write("Demo data already loaded.")
        else:
            self._seed()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for username, _first, _last, role in DEMO_PEOPLE:
            self.stdout.write(f"  {username:<9} {role.label}")

    @transaction.atomic
    def _seed(self):
        team = Team.objects.create(name="Demo Ops", slug="demo", time_zone="Europe/Berlin")
        people = {}
        for username, first, last, role in DEMO_PEOPLE:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(
                    username=username,
                    email=f"{username}@demo.patchplan.invalid",
                    password=DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                )
            Membership.objects.create(team=team, user=user, role=role)
            people[username] = user

        # Nights on weekdays, and the early weekend hours.
        OffPeakPeriod.objects.bulk_create(
            [
                OffPeakPeriod(team=team, weekday=d, starts_at=time(22), ends_at=time(5))
                for d in range(5)
            ]
            + [
                OffPeakPeriod(team=team, weekday=d, starts_at=time(0), ends_at=time(8))
                for d in (5, 6)
            ]
        )
        today = timezone.localdate()
        FreezePeriod.objects.create(
            team=team,
            starts_on=today + timedelta(days=40),
            ends_on=today + timedelta(days=47),
            reason="Year-end sales freeze",
        )

        servers = []
        roles = ["web", "db", "cache", "app", "mq"]
        for i in range(30):
            env = Environment.STAGING if i % 5 == 4 else Environment.PRODUCTION
            kind = roles[i % len(roles)]
            servers.append(
                Server(
                    team=team,
                    hostname=f"{kind}-{'stg' if env == Environment.STAGING else 'prd'}-{i + 1:02d}",
                    fqdn=f"{kind}-{i + 1:02d}.demo.internal",
                    ip_address=f"10.20.{i // 10}.{10 + i}",
                    environment=env,
                    criticality=[Criticality.CRITICAL, Criticality.HIGH, Criticality.MEDIUM][i % 3],
                    os_name="Debian",
                    os_version="12",
                    owner=people["engineer"] if i % 2 else people["planner"],
                )
            )
        Server.objects.bulk_create(servers)
        servers = list(Server.objects.filter(team=team).order_by("hostname"))
        web = [s for s in servers if s.hostname.startswith("web")]
        db = [s for s in servers if s.hostname.startswith("db")]

        tz = team.tzinfo

        def at(days: int, hour: int) -> datetime:
            return datetime.combine(today + timedelta(days=days), time(hour), tzinfo=tz)

        openssl = Plan.objects.create(
            team=team,
            title="OpenSSL security patch (web tier)",
            kind=PlanKind.SECURITY_PATCH,
            status=PlanStatus.APPROVED,
            risk=Risk.CRITICAL,
            objective="Patch the critical OpenSSL vulnerability on every web server.",
            owner=people["planner"],
        )
        openssl.servers.set(web)
        self._timeline(openssl, today, [(-3, -1), (0, 2), (3, 6), (7, 9)])
        deploy = openssl.milestones.get(name="deployment")
        testing = openssl.milestones.get(name="testing")
        staging_window = MaintenanceWindow.objects.create(
            plan=openssl, milestone=testing, starts_at=at(1, 23), ends_at=at(2, 0)
        )
        staging_window.servers.set([s for s in web if s.environment == Environment.STAGING])
        prod_window = MaintenanceWindow.objects.create(
            plan=openssl, milestone=deploy, starts_at=at(4, 1), ends_at=at(4, 3)
        )
        prod_window.servers.set([s for s in web if s.environment == Environment.PRODUCTION])
        self._tasks(openssl, people, today)

        pg = Plan.objects.create(
            team=team,
            title="PostgreSQL 15 to 16 upgrade",
            kind=PlanKind.SOFTWARE_UPGRADE,
            status=PlanStatus.DRAFT,
            risk=Risk.HIGH,
            objective="Upgrade the database servers to PostgreSQL 16 with a tested rollback.",
            owner=people["planner"],
        )
        pg.servers.set(db)
        self._timeline(pg, today, [(5, 8), (9, 14), (15, 20), (21, 24)])
        window = MaintenanceWindow.objects.create(
            plan=pg,
            milestone=pg.milestones.get(name="deployment"),
            starts_at=at(16, 1),
            ends_at=at(16, 4),
        )
        window.servers.set(db)
        self._tasks(pg, people, today + timedelta(days=6))

    def _timeline(self, plan, today, offsets):
        for position, (name, (start, due)) in enumerate(
            zip(("assessment", "testing", "deployment", "review"), offsets, strict=True)
        ):
            Milestone.objects.create(
                plan=plan,
                name=name,
                position=position,
                starts_on=today + timedelta(days=start),
                due_on=today + timedelta(days=due),
            )

    def _tasks(self, plan, people, start):
        milestones = {m.name: m for m in plan.milestones.all()}
        rows = [
            ("List affected packages and servers", "assessment", "planner", -1, TaskStatus.DONE),
            ("Back up configuration and data", "testing", "engineer", 1, TaskStatus.IN_PROGRESS),
            ("Run the test procedure on staging", "testing", "engineer", 2, TaskStatus.TODO),
            ("Approve the deployment", "deployment", "approver", 3, TaskStatus.TODO),
            ("Patch production servers", "deployment", "engineer", 4, TaskStatus.TODO),
            ("Write the post-implementation review", "review", "planner", 8, TaskStatus.TODO),
        ]
        Task.objects.bulk_create(
            Task(
                plan=plan,
                milestone=milestones[milestone],
                title=title,
                assignee=people[who],
                due_on=start + timedelta(days=days),
                status=status,
            )
            for title, milestone, who, days, status in rows
        )
