"""Calendar feed tokens are kept as sha256 hashes, as inventory tokens are.

Existing tokens are hashed in place, so every feed URL already subscribed in
a calendar app keeps working (the URL carries the raw token; the lookup
hashes it). Going back cannot bring the raw values back: every row gets a
new token, so feed URLs must then be made again.
"""

from django.db import migrations, models


def hash_existing_tokens(apps, schema_editor):
    from patchplan.core.tokens import hash_token

    Preference = apps.get_model("notifications", "NotificationPreference")
    Feed = apps.get_model("notifications", "TeamCalendarFeed")
    for pref in (
        Preference.objects.exclude(calendar_token__isnull=True)
        .exclude(calendar_token="")
        .only("pk", "calendar_token")
    ):
        pref.calendar_token_hash = hash_token(pref.calendar_token)
        pref.save(update_fields=["calendar_token_hash"])
    for feed in Feed.objects.exclude(token__isnull=True).only("pk", "token"):
        feed.token_hash = hash_token(feed.token)
        feed.save(update_fields=["token_hash"])


def issue_new_tokens(apps, schema_editor):
    import secrets

    Preference = apps.get_model("notifications", "NotificationPreference")
    Feed = apps.get_model("notifications", "TeamCalendarFeed")
    for model, field in ((Preference, "calendar_token"), (Feed, "token")):
        for row in model.objects.only("pk"):
            setattr(row, field, secrets.token_urlsafe(24))
            row.save(update_fields=[field])


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_outbox_preferences_feeds"),
    ]

    operations = [
        migrations.AddField(
            model_name="notificationpreference",
            name="calendar_token_hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="teamcalendarfeed",
            name="token_hash",
            field=models.CharField(max_length=64, null=True, unique=True),
        ),
        # Nullable and not unique for a moment, so that going back can re-add
        # the clear columns before filling them with new tokens.
        migrations.AlterField(
            model_name="notificationpreference",
            name="calendar_token",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="teamcalendarfeed",
            name="token",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(hash_existing_tokens, issue_new_tokens, elidable=False),
        migrations.RemoveField(model_name="notificationpreference", name="calendar_token"),
        migrations.RemoveField(model_name="teamcalendarfeed", name="token"),
        migrations.AlterField(
            model_name="teamcalendarfeed",
            name="token_hash",
            field=models.CharField(max_length=64, unique=True),
        ),
    ]
