"""Importing feeds: incremental, all-or-nothing, errors recorded for the admin page."""

import io
import json
import tracemalloc

import pytest
from django.core.management import CommandError, call_command

from patchplan.advisories.feeds import FeedError, read_debian
from patchplan.advisories.models import AdvisoryRecord, AffectedPackage, SourceState
from patchplan.advisories.services import advisories_import

from .conftest import DATA, osv_zip

pytestmark = pytest.mark.django_db


def _debian(path=DATA / "debian-tracker.json"):
    return advisories_import(source="debian", location=str(path), rematch=False)


def test_statuses_are_read_as_the_tracker_means_them(db):
    _debian()
    rows = {
        (a.vulnerability.ident, a.release): (a.status, a.fixed_version)
        for a in AffectedPackage.objects.select_related("vulnerability")
    }
    assert rows[("CVE-2026-21001", "bookworm")] == ("fixed", "3.0.22-1~deb12u2")
    assert rows[("CVE-2026-21001", "bullseye")] == ("not_affected", "")
    assert rows[("CVE-2026-21001", "trixie")] == ("open", "")
    assert rows[("CVE-2026-30200", "bookworm")] == ("undetermined", "")
    assert rows[("CVE-2023-45853", "bookworm")] == ("fixed", "1:1.2.13.dfsg-1+deb12u1")


def test_reimport_is_incremental(db, tmp_path, django_assert_max_num_queries):
    first = _debian()
    assert first.changed == first.records == 10
    ids = set(AdvisoryRecord.objects.values_list("pk", flat=True))
    # Unchanged: one read of the existing hashes, nothing written.
    with django_assert_max_num_queries(8):
        second = _debian()
    assert second.changed == 0
    assert set(AdvisoryRecord.objects.values_list("pk", flat=True)) == ids

    data = json.loads((DATA / "debian-tracker.json").read_text())
    data["curl"]["CVE-2025-10148"]["releases"]["bookworm"]["urgency"] = "high"
    del data["tar"]
    changed = tmp_path / "tracker.json"
    changed.write_text(json.dumps(data))
    third = _debian(changed)
    assert (third.changed, third.removed) == (1, 1)
    assert not AffectedPackage.objects.filter(package="tar").exists()


def test_a_malformed_file_leaves_previous_data_and_records_the_error(db, tmp_path):
    _debian()
    before = AffectedPackage.objects.count()
    # Valid for its first packages, broken halfway: nothing of it may stay.
    text = (DATA / "debian-tracker.json").read_text()
    broken = tmp_path / "broken.json"
    broken.write_text(text.replace('"status": "open"', '"status": "opne"', 1)[:-200])
    with pytest.raises(FeedError):
        _debian(broken)
    assert AffectedPackage.objects.count() == before
    state = SourceState.objects.get(source="debian")
    assert "unknown status 'opne'" in state.last_error
    assert state.last_success_at < state.last_error_at


def test_a_truncated_file_is_refused(db, tmp_path):
    broken = tmp_path / "cut.json"
    broken.write_bytes((DATA / "debian-tracker.json").read_bytes()[:3000])
    with pytest.raises(FeedError, match="not valid JSON"):
        _debian(broken)
    assert not AffectedPackage.objects.exists()


def test_a_failed_download_keeps_data(db):
    _debian()
    with pytest.raises(FeedError, match="download failed"):
        advisories_import(
            source="debian", location="http://127.0.0.1:9/tracker/data/json", rematch=False
        )
    assert AffectedPackage.objects.exists()
    assert "download failed" in SourceState.objects.get(source="debian").last_error


def test_osv_zip_and_kev_through_the_command(db, tmp_path):
    out = io.StringIO()
    call_command(
        "import_advisories", "--source", "osv", str(osv_zip(tmp_path / "a.zip")), stdout=out
    )
    call_command("import_advisories", "--source", "kev", str(DATA / "kev.json"), stdout=out)
    assert "osv: 8 records" in out.getvalue()  # PYSEC-2026-1 is PyPI: skipped
    assert "kev: 2 records" in out.getvalue()
    with pytest.raises(CommandError, match="not a KEV catalogue"):
        call_command("import_advisories", "--source", "kev", str(DATA / "debian-tracker.json"))


def test_a_broken_osv_member_names_the_file(db, tmp_path):
    import zipfile

    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("DSA-1-1.json", "{not json")
    with pytest.raises(FeedError, match="DSA-1-1.json"):
        advisories_import(source="osv", location=str(path), rematch=False)


def test_debian_reader_streams(tmp_path):
    """A 40,000-package feed is read in bounded memory (one package at a time)."""
    entry = {
        "description": "x" * 200,
        "releases": {
            "bookworm": {"status": "resolved", "fixed_version": "1.0-1", "urgency": "low"}
        },
    }
    path = tmp_path / "big.json"
    with path.open("w") as handle:
        handle.write("{")
        for i in range(40000):
            handle.write(("," if i else "") + json.dumps(f"pkg{i}") + ":")
            handle.write(json.dumps({f"CVE-2026-{i:05d}": entry}))
        handle.write("}")
    assert path.stat().st_size > 10_000_000
    tracemalloc.start()
    with path.open("rb") as stream:
        count = sum(1 for _ in read_debian(stream))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 40000
    assert peak < 5_000_000
