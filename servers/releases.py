"""Which distribution release a server runs, as advisory feeds name it.

Advisories are per release (Debian's tracker says "bookworm", OSV says
"Debian:12", "Ubuntu:22.04:LTS", "AlmaLinux:9"); a server says "Debian 12" or
"Ubuntu 22.04.4 LTS". Both are brought to one key here: the codename for
Debian and Ubuntu, ``almalinux:9`` / ``rocky:9`` / ``rhel:9`` for the RPM
family. Pure Python (no Django), like ``servers.parsers``.
"""

from __future__ import annotations

import re

__all__ = ["release_for_os", "release_for_osv_ecosystem", "release_from_suite"]

DEBIAN_CODENAMES = {
    "9": "stretch",
    "10": "buster",
    "11": "bullseye",
    "12": "bookworm",
    "13": "trixie",
    "14": "forky",
}
UBUNTU_CODENAMES = {
    "18.04": "bionic",
    "20.04": "focal",
    "22.04": "jammy",
    "23.10": "mantic",
    "24.04": "noble",
    "24.10": "oracular",
    "25.04": "plucky",
    "25.10": "questing",
}
KNOWN_CODENAMES = frozenset(DEBIAN_CODENAMES.values()) | frozenset(UBUNTU_CODENAMES.values())
_RPM_DISTROS = {"almalinux": "almalinux", "alma": "almalinux", "rocky": "rocky", "rhel": "rhel"}
_NUMBER_RE = re.compile(r"(\d+)(?:\.(\d+))?")


def release_for_os(os_name: str, os_version: str = "") -> str:
    """The release key for a server's OS fields ("Debian", "12" -> "bookworm"), or ""."""
    text = f"{os_name} {os_version}".lower().replace("gnu/linux", " ")
    for codename in KNOWN_CODENAMES:
        if re.search(rf"\b{codename}\b", text):
            return codename
    number = _NUMBER_RE.search(text)
    if number is None:
        return ""
    major, minor = number[1], number[2]
    if "debian" in text:
        return DEBIAN_CODENAMES.get(major, "")
    if "ubuntu" in text:
        return UBUNTU_CODENAMES.get(f"{major}.{minor or '04'}", "")
    for word, key in _RPM_DISTROS.items():
        if word in text or (key == "rhel" and "red hat" in text):
            return f"{key}:{major}"
    return ""


def release_for_osv_ecosystem(ecosystem: str) -> tuple[str, str] | None:
    """(family, release key) for an OSV ecosystem ("Debian:12" -> ("deb", "bookworm")).

    None for ecosystems PatchPlan does not match (PyPI, npm, Debian without a release...).
    """
    name, _sep, rest = ecosystem.partition(":")
    version = rest.split(":")[0]
    if name == "Debian":
        release = DEBIAN_CODENAMES.get(version.split(".")[0], "")
        return ("deb", release) if release else None
    if name == "Ubuntu":
        # "Ubuntu:22.04:LTS", "Ubuntu:Pro:18.04:LTS"
        parts = [p for p in rest.split(":") if _NUMBER_RE.fullmatch(p)]
        release = UBUNTU_CODENAMES.get(parts[0], "") if parts else ""
        return ("deb", release) if release else None
    key = {"AlmaLinux": "almalinux", "Rocky Linux": "rocky", "Red Hat": "rhel"}.get(name)
    if key and version:
        return ("rpm", f"{key}:{version.split('.')[0]}")
    return None


def release_from_suite(suite: str) -> str:
    """The codename an apt suite list names ("bookworm-security,bookworm" -> "bookworm")."""
    for part in suite.split(","):
        codename = part.split("-")[0].split("/")[0]
        if codename in KNOWN_CODENAMES:
            return codename
    return ""
