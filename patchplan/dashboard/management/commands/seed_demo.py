"""Load the demo team: people in every role, servers, two plans, all dated
relative to today. Running it again changes nothing."""

from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from patchplan.accounts.models import User
from patchplan.advisories.demo import demo_advisories_load
from patchplan.reports.demo import demo_history_load
from patchplan.teams.models import FreezePeriod, Membership, OffPeakPeriod, Team
from patchplan.teams.roles import Role
from plans.choices import PlanKind, PlanStatus, Raci, ReferenceKind, Risk, TaskStatus
from plans.models import (
    ChecklistItem,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanReference,
    PlanRole,
    Task,
)
from servers.choices import Criticality, Environment
from servers.demo import demo_inventory_load
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
        # The team's day, not the server's (UTC): at 23:30 UTC it is already tomorrow in
        # Berlin, and the windows below are placed at local hours of these days.
        today = timezone.localdate(timezone=team.tzinfo)
        FreezePeriod.objects.create(
            team=team,
            starts_on=today + timedelta(days=40),
            ends_on=today + timedelta(days=47),
            reason="Year-end sales freeze",
        )

        servers = self._servers(team, people)
        # The security patch went to its staging twin first, in last night's window
        # (yesterday 01:00, always past): its listing shows the fixed OpenSSL.
        staging_run = datetime.combine(today - timedelta(days=1), time(1), tzinfo=team.tzinfo)
        demo_inventory_load(
            servers=servers, patched_at={"web-stg-26": staging_run + timedelta(minutes=30)}
        )
        self._tags(team, servers)
        web = [s for s in servers if s.hostname.startswith("web")]
        db = [s for s in servers if s.hostname.startswith("db")]
        self._plans(team, people, today, web, db, staging_run)
        demo_history_load(team=team)
        demo_advisories_load()

    def _servers(self, team, people) -> list:
        """Six hosts of each kind: five in production and one on staging (web-stg-26,
        db-stg-27, ...), so each of the guide's examples has a staging twin to test on."""
        servers = []
        roles = ["web", "db", "cache", "app", "mq"]
        for i in range(30):
            env = Environment.STAGING if i >= 25 else Environment.PRODUCTION
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
        return list(Server.objects.filter(team=team).order_by("hostname"))

    def _tags(self, team, servers):
        """Tags the scope picker can filter by: the web servers' HTTP server, and which
        database host is a primary and which its replica (the guide's upgrade example)."""
        from servers.demo import APACHE_HOSTS
        from servers.models import Tag

        tags = {
            name: Tag.objects.create(team=team, name=name)
            for name in ("frontend", "nginx", "apache", "primary", "replica")
        }
        db = [s for s in servers if s.hostname.startswith("db-prd")]
        for s in servers:
            if s.hostname == "db-stg-27":
                # The guide's upgrade is tried on a replica first: the staging one.
                s.tags.add(tags["replica"])
            if s.hostname.startswith("web"):
                s.tags.add(tags["frontend"])
                s.tags.add(tags["apache" if s.hostname in APACHE_HOSTS else "nginx"])
        for i, s in enumerate(db):
            s.tags.add(tags["primary" if i % 2 == 0 else "replica"])

    def _plans(self, team, people, today, web, db, staging_run):
        """The guide's two examples: a security patch of the web tier, a database upgrade."""
        tz = team.tzinfo

        def at(days: int, hour: int) -> datetime:
            return datetime.combine(today + timedelta(days=days), time(hour), tzinfo=tz)

        openssl = Plan.objects.create(
            team=team,
            title="OpenSSL security patch (web tier)",
            kind=PlanKind.SECURITY_PATCH,
            # Under way: staging is done and tested, production is next.
            status=PlanStatus.IN_PROGRESS,
            risk=Risk.CRITICAL,
            objective="Patch the critical OpenSSL vulnerability on every web server.",
            success_criteria="- `openssl version` shows the fixed release on every web host\n"
            "- no TLS handshake errors in the load balancer log for 24 hours",
            packages=["openssl", "libssl3"],
            backup_plan="Snapshot each web VM before its window; keep `/etc/ssl` in the backup.",
            test_procedure="1. Patch the staging web servers\n2. Run the TLS smoke tests\n"
            "3. Check the error rate for an hour",
            rollback_plan="Restore the VM snapshot, or `apt-get install openssl=<old version>`.",
            communication_plan="Announce each window in #ops a day ahead; status page for prod.",
            owner=people["planner"],
        )
        openssl.servers.set(web)
        self._first_versions(openssl, people["planner"])
        PlanReference.objects.bulk_create(
            [
                PlanReference(
                    plan=openssl,
                    kind=ReferenceKind.CVE,
                    identifier="CVE-2024-0727",
                    url="https://www.cve.org/CVERecord?id=CVE-2024-0727",
                ),
                PlanReference(
                    plan=openssl,
                    kind=ReferenceKind.ADVISORY,
                    identifier="DSA-5678-1",
                    url="https://security-tracker.debian.org/tracker/DSA-5678-1",
                ),
            ]
        )
        self._timeline(openssl, today, [(-4, -2), (-1, 2), (3, 6), (7, 9)])
        deploy = openssl.milestones.get(name="deployment")
        testing = openssl.milestones.get(name="testing")
        staging_window = MaintenanceWindow.objects.create(
            plan=openssl,
            milestone=testing,
            title="Staging first: web-stg-26",
            starts_at=staging_run,
            ends_at=staging_run + timedelta(hours=1),
            actual_starts_at=staging_run + timedelta(minutes=2),
            actual_ends_at=staging_run + timedelta(minutes=40),
        )
        staging_window.servers.set(
            [s for s in web if s.environment == Environment.STAGING],
            through_defaults={"expected_downtime_minutes": 10},
        )
        prod_window = MaintenanceWindow.objects.create(
            plan=openssl,
            milestone=deploy,
            title="Production web servers",
            starts_at=at(4, 1),
            ends_at=at(4, 3),
        )
        prod_window.servers.set(
            [s for s in web if s.environment == Environment.PRODUCTION],
            through_defaults={"expected_downtime_minutes": 15},
        )
        self._tasks(openssl, people, today)
        openssl.tasks.filter(title="Run the test procedure on staging").update(
            status=TaskStatus.DONE
        )

        pg = Plan.objects.create(
            team=team,
            title="PostgreSQL 15 to 16 upgrade",
            kind=PlanKind.SOFTWARE_UPGRADE,
            status=PlanStatus.DRAFT,
            risk=Risk.HIGH,
            objective="Upgrade the database servers to PostgreSQL 16 with a tested rollback.",
            success_criteria="All databases on 16; replication lag back under 1 s.",
            packages=["postgresql-16", "postgresql-15"],
            backup_plan="`pg_basebackup` of each cluster, restore-tested on staging.",
            test_procedure="`pg_upgrade --check` on a staging copy, then the app test suite.",
            rollback_plan="Keep the 15 cluster stopped but intact; switch back within the window.",
            communication_plan="Email the application owners a week ahead and on completion.",
            owner=people["planner"],
        )
        pg.servers.set(db)
        self._first_versions(pg, people["planner"])
        self._timeline(pg, today, [(5, 8), (9, 14), (15, 20), (21, 24)])
        # The guide's test on a staging replica first, then production in one window.
        pg_staging = MaintenanceWindow.objects.create(
            plan=pg,
            milestone=pg.milestones.get(name="testing"),
            title="pg_upgrade on the staging replica",
            starts_at=at(10, 1),
            ends_at=at(10, 3),
        )
        pg_staging.servers.set(
            [s for s in db if s.environment == Environment.STAGING],
            through_defaults={"expected_downtime_minutes": 30},
        )
        window = MaintenanceWindow.objects.create(
            plan=pg,
            milestone=pg.milestones.get(name="deployment"),
            title="Production databases",
            starts_at=at(16, 1),
            ends_at=at(16, 4),
        )
        window.servers.set(
            [s for s in db if s.environment == Environment.PRODUCTION],
            through_defaults={"expected_downtime_minutes": 45},
        )
        self._tasks(pg, people, today + timedelta(days=6))
        for plan in (openssl, pg):
            self._roles(plan, people)
        self._evidence(openssl, people, web, staging_window)

    def _roles(self, plan, people):
        PlanRole.objects.bulk_create(
            PlanRole(plan=plan, user=people[who], raci=raci)
            for who, raci in (
                ("planner", Raci.ACCOUNTABLE),
                ("engineer", Raci.RESPONSIBLE),
                ("approver", Raci.CONSULTED),
                ("viewer", Raci.INFORMED),
            )
        )

    def _first_versions(self, plan, by) -> None:
        """The demo plans' texts as their first saved versions (plan_create does this
        for plans made through the app)."""
        from plans.models import DocumentText
        from plans.services.documents import document_versions_record

        texts = {n: getattr(plan, n) for n in DocumentText.values if getattr(plan, n)}
        document_versions_record(plan_id=plan.pk, texts=texts, by=by)

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
        tasks = Task.objects.bulk_create(
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
        checklists = {
            "Back up configuration and data": ["Snapshot the VMs", "Dump the databases"],
            "Patch production servers": ["Drain from the load balancer", "Upgrade", "Smoke test"],
        }
        ChecklistItem.objects.bulk_create(
            ChecklistItem(task=task, text=text, position=i)
            for task in tasks
            for i, text in enumerate(checklists.get(task.title, []))
        )

    def _evidence(self, plan, people, web, staging_window):
        """A few records of running a plan (issue 5), in the guide's order: the assessment
        signed off, the staging window run (its server patched and verified), then the
        staging test passed after it; backups of some production servers, a log entry."""
        from plans.choices import ExecutionStatus
        from plans.models import (
            BackupRecord,
            ExecutionEvent,
            LogEntry,
            ServerExecution,
            SignOff,
            TestRun,
        )

        now = timezone.now()
        ran = staging_window.actual_starts_at
        prod = [s for s in web if s.environment == Environment.PRODUCTION][:2]
        staging = [s for s in web if s.environment == Environment.STAGING]
        BackupRecord.objects.bulk_create(
            BackupRecord(
                plan=plan,
                server=s,
                what="VM snapshot and /etc/ssl",
                location=f"backup-nas:/snapshots/{s.hostname}/",
                command=f"tar -czvf {s.hostname}-etc-ssl.tar.gz /etc/ssl",
                restore_tested=i == 0,
                verified_by=people["engineer"],
                verified_at=now - timedelta(hours=2),
                created_by=people["engineer"],
            )
            for i, s in enumerate(prod)
        )
        run = TestRun.objects.create(
            plan=plan,
            procedure=plan.test_procedure,
            result="pass",
            notes="TLS smoke tests green; no handshake errors in an hour.",
            run_by=people["engineer"],
            # After the staging window: the test is of the patched server.
            run_at=staging_window.actual_ends_at + timedelta(minutes=15),
        )
        run.servers.set(staging)
        steps = [
            (ExecutionStatus.PENDING, ExecutionStatus.IN_PROGRESS, 3),
            (ExecutionStatus.IN_PROGRESS, ExecutionStatus.PATCHED, 20),
            (ExecutionStatus.PATCHED, ExecutionStatus.VERIFIED, 35),
        ]
        for server in staging:
            execution = ServerExecution.objects.create(
                plan=plan,
                window=staging_window,
                server=server,
                status=ExecutionStatus.VERIFIED,
                started_at=ran + timedelta(minutes=3),
                finished_at=ran + timedelta(minutes=35),
                downtime_minutes=6,
                updated_by=people["engineer"],
            )
            ExecutionEvent.objects.bulk_create(
                ExecutionEvent(
                    execution=execution,
                    from_status=before,
                    to_status=after,
                    by=people["engineer"],
                    at=ran + timedelta(minutes=minutes),
                )
                for before, after, minutes in steps
            )
            # auto_now would date the last change at seeding time, not at the verification.
            ServerExecution.objects.filter(pk=execution.pk).update(
                updated_at=ran + timedelta(minutes=35)
            )
        entry = LogEntry.objects.create(
            plan=plan,
            window=staging_window,
            server=staging[0] if staging else None,
            kind="issue",
            body="nginx needed a restart to load the new libssl3.",
            author=people["engineer"],
        )
        # Written during the window, not at seeding time (auto_now_add).
        LogEntry.objects.filter(pk=entry.pk).update(created_at=ran + timedelta(minutes=25))
        assessment = plan.milestones.get(name="assessment")
        # Before the testing work began (the staging window).
        signed = ran - timedelta(hours=9)
        SignOff.objects.create(
            milestone=assessment,
            user=people["approver"],
            decision="approve",
            comment="Every web server is in scope.",
            at=signed,
        )
        assessment.signed_off_at = signed
        assessment.save(update_fields=["signed_off_at"])
