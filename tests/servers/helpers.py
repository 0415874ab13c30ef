"""Shared bits of the servers tests: the real sample listings and small listings made up."""

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"
SELECTIONS = "debian12-dpkg-get-selections.txt"
QUERY = "debian12-dpkg-query.tsv"
UPGRADABLE = "debian12-apt-list-upgradable.txt"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def query_listing(packages: dict[str, str], arch: str = "amd64") -> str:
    """A dpkg-query -W listing (name, version, architecture) of these packages."""
    return "".join(f"{name}\t{version}\t{arch}\n" for name, version in packages.items())


def upgradable_listing(updates: list[tuple[str, str, str, str]]) -> str:
    """apt list --upgradable lines from (name, suite, candidate, current)."""
    lines = ["Listing..."]
    lines += [f"{n}/{s} {c} amd64 [upgradable from: {cur}]" for n, s, c, cur in updates]
    return "\n".join(lines) + "\n"
