"""Feed tokens move from clear text to hashes (issue 15): URLs already
subscribed in calendar apps keep working after the migration."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from patchplan.core.tokens import hash_token
from patchplan.notifications.models import NotificationPreference, TeamCalendarFeed

BEFORE = [("notifications", "0001_outbox_preferences_feeds")]
AFTER = [("notifications", "0002_hash_calendar_feed_tokens")]


@pytest.mark.django_db(transaction=True)
def test_existing_feed_urls_keep_working_after_the_tokens_are_hashed(client, team, engineer):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    old_pref = old.get_model("notifications", "NotificationPreference")
    old_feed = old.get_model("notifications", "TeamCalendarFeed")
    old_pref.objects.create(user_id=engineer.pk, lead_times_minutes=[60], calendar_token="tok-1")
    old_feed.objects.create(team_id=team.pk, token="team-tok-1")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    pref = NotificationPreference.objects.get(user=engineer)
    assert pref.calendar_token_hash == hash_token("tok-1")
    assert TeamCalendarFeed.objects.get(team=team).token_hash == hash_token("team-tok-1")
    assert client.get("/notifications/feed/tok-1.ics").status_code == 200
    assert client.get("/notifications/team-feed/team-tok-1.ics").status_code == 200
    # The stored value no longer opens a feed: it is not the token.
    assert client.get(f"/notifications/feed/{pref.calendar_token_hash}.ics").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_going_back_issues_new_clear_tokens(team, engineer, admin):
    from patchplan.notifications.services import calendar_token_reset, team_feed_reset

    calendar_token_reset(user=engineer)
    calendar_token_reset(user=admin)
    team_feed_reset(team=team)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    tokens = list(
        old.get_model("notifications", "NotificationPreference").objects.values_list(
            "calendar_token", flat=True
        )
    )
    assert len(tokens) == len(set(tokens)) == 2 and all(len(t) >= 32 for t in tokens)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    assert NotificationPreference.objects.filter(calendar_token_hash__isnull=False).count() == 2
