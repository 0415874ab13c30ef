import zipfile
from pathlib import Path

import pytest

from patchplan.advisories.services import advisories_import

DATA = Path(__file__).resolve().parent / "data"


def osv_zip(path: Path, members: list[str] | None = None) -> Path:
    """An OSV all.zip as the dump publishes it: one JSON record per member."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in sorted((DATA / "osv").glob("*.json")):
            if members is None or member.name in members:
                archive.write(member, member.name)
    return path


@pytest.fixture
def feeds(db, tmp_path):
    """Import the three feeds from the format-faithful files, without a fleet rematch task."""
    advisories_import(source="debian", location=str(DATA / "debian-tracker.json"), rematch=False)
    advisories_import(source="osv", location=str(osv_zip(tmp_path / "all.zip")), rematch=False)
    advisories_import(source="kev", location=str(DATA / "kev.json"), rematch=False)
