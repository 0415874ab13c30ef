"""factory_boy factories. Prefer services for state that has rules; these
make the plain rows the services start from."""

import factory
from django.utils import timezone

from patchplan.accounts.models import User
from patchplan.teams.models import FreezePeriod, Invitation, Membership, OffPeakPeriod, Team
from patchplan.teams.roles import Role
from plans.models import MaintenanceWindow, Milestone, Plan, Task
from servers.models import Server


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("a-long-test-password")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    time_zone = "Europe/Berlin"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ENGINEER


class OffPeakFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OffPeakPeriod


class FreezeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FreezePeriod

    reason = "Quarter end"


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Role.ENGINEER


class ServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Server

    hostname = factory.Sequence(lambda n: f"host-{n:04d}")
    os_name = "Debian"
    os_version = "12"


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    title = factory.Sequence(lambda n: f"Plan {n}")


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    name = "assessment"


class WindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenanceWindow

    starts_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda w: w.starts_at + timezone.timedelta(hours=2))


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Task {n}")
