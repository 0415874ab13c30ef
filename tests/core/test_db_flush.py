"""The cheaper flush after committing tests empties what they wrote and keeps
what post_migrate would only write back."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

from patchplan.teams.models import Membership, Team
from tests import factories
from tests.db_flush import empty_tables


def test_it_empties_written_tables_in_any_foreign_key_order(require_postgres, transactional_db):
    team = factories.TeamFactory()
    factories.MembershipFactory(team=team, user=factories.UserFactory())
    kinds, perms = ContentType.objects.count(), Permission.objects.count()

    dirty = empty_tables("default")

    # Teams are referenced by memberships: deleted first or not, nothing breaks.
    written = {m._meta.db_table for m in (Team, Membership, get_user_model())}
    assert written <= set(dirty)
    assert not Team.objects.exists() and not Membership.objects.exists()
    assert (ContentType.objects.count(), Permission.objects.count()) == (kinds, perms)
    assert kinds > 0 and perms > 0
    assert empty_tables("default") == []
