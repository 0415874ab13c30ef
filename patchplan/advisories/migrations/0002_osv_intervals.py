from django.db import migrations, models


def forget_osv_hashes(apps, schema_editor):
    # OSV records imported before this read only their last "fixed" event: an empty
    # hash makes the next import rewrite each one as its intervals.
    apps.get_model("advisories", "AdvisoryRecord").objects.filter(source="osv").update(
        content_hash=""
    )


class Migration(migrations.Migration):
    dependencies = [
        ("advisories", "0001_advisories_matches_sources"),
    ]

    operations = [
        migrations.AddField(
            model_name="affectedpackage",
            name="introduced",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.AddField(
            model_name="affectedpackage",
            name="last_affected",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.RunPython(forget_osv_hashes, migrations.RunPython.noop),
    ]
