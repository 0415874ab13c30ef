"""Demo advisories: small feeds in the real formats (demo_data/), imported and
matched against the demo fleet, so Vulnerabilities has something to rank."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .matching import match_servers
from .services import advisories_import

DATA = Path(__file__).resolve().parent / "demo_data"


def _osv_zip() -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in sorted((DATA / "osv").glob("*.json")):
            archive.write(member, member.name)
    buffer.seek(0)
    return buffer


def demo_advisories_load() -> int:
    """Import the demo feeds and match the fleet; returns the open matches."""
    advisories_import(source="debian", location=str(DATA / "debian-tracker.json"), rematch=False)
    advisories_import(source="osv", location="demo:osv.zip", stream=_osv_zip(), rematch=False)
    advisories_import(source="kev", location=str(DATA / "kev.json"), rematch=False)
    return match_servers(None)
