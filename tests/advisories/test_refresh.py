"""The scheduled refresh: each source in its own transaction; one failing keeps
its previous data, says why on the feeds page, and does not stop the others."""

import json

import pytest

from patchplan.advisories.models import AffectedPackage, SourceState, Vulnerability
from patchplan.advisories.tasks import refresh_advisories

from .conftest import DATA

pytestmark = pytest.mark.django_db


def test_a_refresh_failing_halfway_keeps_previous_data(
    settings, tmp_path, feeds, client_for, viewer
):
    before = AffectedPackage.objects.count()
    data = json.loads((DATA / "debian-tracker.json").read_text())
    data["zlib"]["CVE-2023-45853"]["releases"]["bookworm"]["status"] = "fixed-ish"
    broken = tmp_path / "tracker.json"
    broken.write_text(json.dumps(data))  # openssl, tar... come first and are read
    settings.ADVISORY_SOURCES = {
        "debian": {"enabled": True, "urls": [str(broken)]},
        "osv": {"enabled": False, "urls": ["http://127.0.0.1:9/never"]},
        "kev": {"enabled": True, "urls": [str(DATA / "kev.json")]},
    }
    results = refresh_advisories()
    assert results[f"debian {broken}"].startswith("failed: zlib/CVE-2023-45853/bookworm")
    assert results[f"kev {DATA / 'kev.json'}"].startswith("kev: 2 records, 0 changed")
    assert AffectedPackage.objects.count() == before
    assert (
        Vulnerability.objects.get(ident="CVE-2023-45853")
        .affected.filter(release="bookworm", status="fixed")
        .exists()
    )
    state = SourceState.objects.get(source="debian")
    assert "unknown status 'fixed-ish'" in state.last_error
    page = client_for(viewer).get("/vulnerabilities/sources/").content.decode()
    assert "unknown status &#x27;fixed-ish&#x27;" in page
    assert "previous data is still in use" in page


def test_the_daily_refresh_is_scheduled_only_when_turned_on():
    from patchplan.celery import beat_schedule

    assert "advisories-refresh" not in beat_schedule(advisory_refresh=False)
    entry = beat_schedule(advisory_refresh=True)["advisories-refresh"]
    assert (entry["task"], entry["schedule"]) == ("advisories.refresh", 24 * 3600.0)


@pytest.mark.parametrize(
    ("settings_module", "env", "scheduled"),
    [
        ("patchplan.settings.local", {}, False),
        ("patchplan.settings.local", {"ADVISORY_REFRESH": "true"}, True),
        ("patchplan.settings.production", {"SECRET_KEY": "x" * 50}, True),
    ],
)
def test_embedded_default_is_off_and_production_on(settings_module, env, scheduled):
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k not in ("ADVISORY_REFRESH", "DEBUG")}
    environ.update(env, DJANGO_SETTINGS_MODULE=settings_module)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from patchplan.celery import app; print(sorted(app.conf.beat_schedule))",
        ],
        capture_output=True,
        text=True,
        env=environ,
        check=True,
        timeout=60,
    ).stdout
    assert ("advisories-refresh" in out) is scheduled
