"""Parse package listings taken on a server into packages and pending updates.

A user uploads, pastes or pushes the output of one of the commands in
``SUPPORTED_FORMATS``; ``parse_inventory`` turns it into plain data the
services store as an inventory snapshot. Anything that is not such a listing
raises ``InventoryParseError`` with a message fit to show next to the form
field, so nothing half-parsed is ever saved.

This module is pure Python on purpose (no Django): the management command,
the upload view, the HTTP push endpoint and the tests all use it as is.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DPKG_QUERY_COMMAND",
    "MAX_LINE_LENGTH",
    "SUPPORTED_FORMATS",
    "Format",
    "InventoryParseError",
    "Package",
    "ParseResult",
    "Update",
    "detect_format",
    "parse_inventory",
]


class Format(StrEnum):
    """The listing formats PatchPlan reads, named by the command that prints them."""

    DPKG_SELECTIONS = "dpkg-selections"
    DPKG_QUERY = "dpkg-query"
    DPKG_L = "dpkg-l"
    APT_UPGRADABLE = "apt-upgradable"
    RPM_QA = "rpm-qa"


SUPPORTED_FORMATS: dict[str, str] = {
    Format.DPKG_SELECTIONS.value: "dpkg --get-selections",
    Format.DPKG_QUERY.value: "dpkg-query -W",
    Format.DPKG_L.value: "dpkg -l",
    Format.APT_UPGRADABLE.value: "apt list --upgradable",
    Format.RPM_QA.value: "rpm -qa",
}

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_LINE_LENGTH = 1000
# How much of an offending line an error message quotes.
_QUOTE_LIMIT = 80
# How many non-blank lines detect_format looks at before giving up.
_DETECT_LINES = 20


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package.

    ``state`` is dpkg's selection state (install, hold, deinstall, purge) when
    the listing carries it, otherwise "install". ``version`` is empty only for
    ``dpkg --get-selections``, which does not print versions.
    """

    name: str
    version: str
    architecture: str = ""
    state: str = "install"
    # The source package it was built from, when the listing says so
    # (dpkg-query with ${source:Package} and ${source:Version}); advisories
    # are per source package. Empty otherwise.
    source_name: str = ""
    source_version: str = ""


@dataclass(frozen=True, slots=True)
class Update:
    """One pending update from ``apt list --upgradable``.

    ``suite`` is the suite list as apt prints it (``oldstable,oldstable-security``).
    """

    name: str
    current: str
    candidate: str
    suite: str
    architecture: str
    is_security: bool


@dataclass
class ParseResult:
    """What a listing held: installed packages, or pending updates for apt-upgradable."""

    format: str
    packages: list[Package] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)


class InventoryParseError(ValueError):
    """A listing that cannot be read; ``str()`` is the message to show the user.

    ``line`` is the 1-based number of the first offending line, or None when
    the problem is the listing as a whole (size, encoding, format).
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        # Both in args, so the error survives pickling (Celery results).
        super().__init__(message, line)

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}: {self.message}"


# --- Field shapes ---------------------------------------------------------
# Debian Policy 5.6.1/5.6.12; dpkg refuses anything else, so a mismatch means
# the text is not what it claims to be.
_DEB_NAME = r"[a-z0-9][a-z0-9+.-]+"
_DEB_ARCH = r"[a-z0-9][a-z0-9-]*"
_DEB_NAME_RE = re.compile(_DEB_NAME)
_DEB_NAME_ARCH_RE = re.compile(rf"({_DEB_NAME})(?::({_DEB_ARCH}))?")
_DEB_ARCH_RE = re.compile(_DEB_ARCH)
# A colon is only allowed after a numeric epoch; the same rule python-debian
# applies, so every version stored here can later be compared.
_DEB_VERSION = r"[0-9]+:[A-Za-z0-9.+~:-]+|[A-Za-z0-9.+~-]+"
_DEB_VERSION_RE = re.compile(_DEB_VERSION)
# For detection only: real versions start with a digit (dpkg warns otherwise),
# which tells "name version" apart from "name install".
_DEB_VERSION_LIKE_RE = re.compile(r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~:-]*")
# rpm is laxer than dpkg: PackageKit, perl-Text-CSV_XS, libstdc++.
_RPM_NAME_RE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+.-]*")
_RPM_VR_RE = re.compile(r"[A-Za-z0-9._+~^]+")
_EPOCH_RE = re.compile(r"[0-9]+")
_LEADING_EPOCH_RE = re.compile(r"([0-9]+):")
_RPM_ARCHES = frozenset(
    {
        "x86_64",
        "x86_64_v2",
        "x86_64_v3",
        "x86_64_v4",
        "i386",
        "i486",
        "i586",
        "i686",
        "athlon",
        "noarch",
        "aarch64",
        "armv6hl",
        "armv7hl",
        "armv7l",
        "ppc",
        "ppc64",
        "ppc64le",
        "ppc64p7",
        "s390",
        "s390x",
        "riscv64",
        "loongarch64",
        "mips64el",
        "sparc64",
        "ia64",
        "src",
        "nosrc",
    }
)

_SELECTION_STATES = frozenset({"install", "hold", "deinstall", "purge"})
_REMOVED_STATES = frozenset({"deinstall", "purge"})

# Whole-line patterns for the formats whose lines are shortest, so most
# numerous in a 5 MB upload: one regex call per good line. A line they miss
# goes through the field-by-field checks, which say what is wrong with it.
_SELECTION_LINE_RE = re.compile(
    rf"({_DEB_NAME})(?::({_DEB_ARCH}))?[ \t]+(install|hold|deinstall|purge)"
)
_QUERY_LINE_RE = re.compile(
    rf"({_DEB_NAME})(?::({_DEB_ARCH}))?[ \t]+({_DEB_VERSION})(?:[ \t]+({_DEB_ARCH})"
    rf"(?:[ \t]+({_DEB_NAME})[ \t]+({_DEB_VERSION}))?)?"
)
# The one-liner the server page and README show: the source columns let
# advisories (which are per source package) match binaries such as libssl3.
DPKG_QUERY_COMMAND = (
    "dpkg-query -W -f='${binary:Package}\\t${Version}\\t${Architecture}"
    "\\t${source:Package}\\t${source:Version}\\n'"
)

# dpkg -l status column: desired action, package status, optional error flag.
_DPKG_L_STATUS_RE = re.compile(r"[uirhp][ncHUFWti]R?")
_DPKG_L_DESIRED = {"u": "install", "i": "install", "h": "hold", "r": "deinstall", "p": "purge"}
# Files of the package are on disk: installed, or installed with triggers
# pending, or mid-upgrade (unpacked / half-configured). Not-installed,
# config-files (rc) and half-installed are not counted.
_DPKG_L_PRESENT = frozenset("iWtUF")
_DPKG_L_HEADERS = ("Desired=", "|", "+++")

_APT_LINE_RE = re.compile(
    r"([^/ \t]+)/([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+"
    r"\[upgradable from:[ \t]*([^ \t\]]+)\]"
)
# Lines apt prints around the list: the header ("Listing..." or, in older
# releases, "Listing... Done"), its stderr warning when piped, and notices.
_APT_NOISE = ("Listing...", "WARNING:", "N: ")

# C0 controls other than tab, LF and CR, and DEL: a text listing never has them.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Colour codes, which apt and grep --color add when output was captured from a
# terminal (ssh -t, script): text, not binary, so they are dropped.
_ANSI_SGR_RE = re.compile(r"\x1b\[[0-9;]*m")


# --- Helpers --------------------------------------------------------------


def _quote(line: str) -> str:
    if len(line) > _QUOTE_LIMIT:
        line = line[: _QUOTE_LIMIT - 3] + "..."
    return f"'{line}'"


def _size_label(max_bytes: int) -> str:
    mib = 1024 * 1024
    if max_bytes >= mib and max_bytes % mib == 0:
        return f"{max_bytes // mib} MB"
    return f"{max_bytes:,} bytes"


def _supported_list() -> str:
    return ", ".join(SUPPORTED_FORMATS.values())


def _to_text(data: bytes | bytearray | memoryview | str, max_bytes: int) -> str:
    """Check size and encoding; return the listing as str without a BOM."""
    too_large = InventoryParseError(
        f"the listing is larger than the {_size_label(max_bytes)} limit"
    )
    if isinstance(data, str):
        # A character is at least one byte, so this refuses a huge string
        # before paying for encoding it.
        if len(data) > max_bytes:
            raise too_large
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError:
            # Lone surrogates: the text did not come from a real UTF-8 file.
            raise InventoryParseError(
                "not a text listing: it contains characters that are not valid text"
            ) from None
        if size > max_bytes:
            raise too_large
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        if len(data) > max_bytes:
            raise too_large
        raw = bytes(data)
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            # What PowerShell's ">" writes; say so rather than "not UTF-8".
            raise InventoryParseError(
                "not a text listing: it is UTF-16 encoded; save it as UTF-8 and try again"
            )
        if b"\x00" in raw:
            raise InventoryParseError("not a text listing: it contains NUL bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InventoryParseError("not a text listing: it is not valid UTF-8") from None
    else:
        raise TypeError(f"expected bytes or str, got {type(data).__name__}")

    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise InventoryParseError("not a text listing: it contains NUL bytes")
    if "\x1b" in text:
        text = _ANSI_SGR_RE.sub("", text)
    if _CONTROL_RE.search(text):
        raise InventoryParseError("not a text listing: it contains binary control characters")
    return text


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a listing is parsed.

    A 5 MB listing makes up to a million small objects with no reference
    cycles; the collector would walk them again and again (a third of the
    time measured). Reference counting still frees everything. Re-enabled
    only if it was on, so a caller that turned it off keeps it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _split_lines(text: str) -> list[str]:
    # Only LF/CRLF/CR count as line breaks, so line numbers match what
    # grep -n and editors show (str.splitlines also breaks on \x1c, \u2028...).
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _numbered(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, stripped line) for every distinct non-blank line."""
    seen: set[str] = set()
    for number, raw in enumerate(lines, 1):
        if len(raw) > MAX_LINE_LENGTH:
            raise InventoryParseError(
                f"line is longer than {MAX_LINE_LENGTH} characters: {_quote(raw.strip())}",
                number,
            )
        line = raw.strip()
        # A line repeated verbatim (a listing pasted twice, a -f '${Package}'
        # format on a multiarch host) says nothing new; skipping it also keeps
        # 5 MB of one short line repeated from costing a million objects.
        if line and line not in seen:
            seen.add(line)
            yield number, line


def _bad_line(expected: str, line: str, number: int) -> InventoryParseError:
    return InventoryParseError(f"expected {expected}, got {_quote(line)}", number)


def _bad_field(what: str, value: str, line: str, number: int) -> InventoryParseError:
    return InventoryParseError(f"invalid {what} {_quote(value)} in {_quote(line)}", number)


def _split_nevra(token: str) -> tuple[str, str, str] | None:
    """Split an rpm NEVRA into (name, [epoch:]version-release, arch), or None.

    Accepts name-version-release.arch, epoch:name-version-release.arch (yum)
    and name-epoch:version-release.arch (dnf); arch may be missing
    (gpg-pubkey-fd431d51-4ae0493b).
    """
    epoch = ""
    leading = _LEADING_EPOCH_RE.match(token)
    if leading:
        epoch = leading[1]
        token = token[leading.end() :]
    base, dot, arch = token.rpartition(".")
    if not dot or arch not in _RPM_ARCHES:
        base, arch = token, ""
    name_version, dash, release = base.rpartition("-")
    name, dash2, version = name_version.rpartition("-")
    if not (dash and dash2 and name):
        return None
    if ":" in version:
        if epoch:
            return None
        epoch, _, version = version.partition(":")
        if not _EPOCH_RE.fullmatch(epoch):
            return None
    if not (
        _RPM_NAME_RE.fullmatch(name)
        and _RPM_VR_RE.fullmatch(version)
        and _RPM_VR_RE.fullmatch(release)
    ):
        return None
    evr = f"{epoch}:{version}-{release}" if epoch else f"{version}-{release}"
    return name, evr, arch


# --- Detection ------------------------------------------------------------


def _classify(line: str) -> Format | None:
    """Guess the format from one stripped, non-blank line, or None."""
    if line.startswith(("Listing...", "WARNING: apt")) or "[upgradable from:" in line:
        return Format.APT_UPGRADABLE
    if line.startswith(("Desired=", "||/", "| Status=", "|/ Err?", "+++-")):
        return Format.DPKG_L
    tokens = line.split()
    count = len(tokens)
    if (
        count >= 4
        and _DPKG_L_STATUS_RE.fullmatch(tokens[0])
        and _DEB_NAME_ARCH_RE.fullmatch(tokens[1])
    ):
        return Format.DPKG_L
    if count == 2 and tokens[1] in _SELECTION_STATES and _DEB_NAME_ARCH_RE.fullmatch(tokens[0]):
        return Format.DPKG_SELECTIONS
    if (
        count in (2, 3, 5)
        and _DEB_NAME_ARCH_RE.fullmatch(tokens[0])
        and _DEB_VERSION_LIKE_RE.fullmatch(tokens[1])
        and (count == 2 or _DEB_ARCH_RE.fullmatch(tokens[2]))
    ):
        return Format.DPKG_QUERY
    if count == 1:
        nevra = _split_nevra(tokens[0])
        # Without a known arch a lone token could be anything.
        if nevra is not None and nevra[2]:
            return Format.RPM_QA
    return None


def _detect(lines: list[str]) -> Format:
    seen = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        seen += 1
        found = _classify(line) if len(raw) <= MAX_LINE_LENGTH else None
        if found is not None:
            return found
        if seen >= _DETECT_LINES:
            break
    if not seen:
        # Blank text is "nothing pasted", not "an unknown format".
        raise _no_packages()
    raise InventoryParseError(
        "unrecognised listing format; paste the output of one of: " + _supported_list()
    )


def detect_format(text: str) -> str:
    """Tell which supported command printed ``text``, judging by its first lines.

    Returns a ``Format`` value; raises InventoryParseError naming the
    supported formats when none fits.
    """
    # Detection needs only the first lines: don't split a 5 MB paste for it.
    head = text.lstrip()[: (MAX_LINE_LENGTH + 1) * _DETECT_LINES]
    return _detect(_split_lines(head)).value


# --- Parsers, one per format ----------------------------------------------

_Parsed = tuple[list[Package], list[Update]]


def _no_packages() -> InventoryParseError:
    return InventoryParseError("no packages found in the listing")


def _selection_line(line: str, number: int) -> Package:
    """Check one dpkg --get-selections line field by field; raise saying what is wrong."""
    parts = line.split()
    if len(parts) != 2:
        raise _bad_line("'name<TAB>state' as printed by dpkg --get-selections", line, number)
    name_arch, state = parts
    if state not in _SELECTION_STATES:
        raise InventoryParseError(
            f"unknown selection state {_quote(state)} (expected install, hold, "
            f"deinstall or purge) in {_quote(line)}",
            number,
        )
    match = _DEB_NAME_ARCH_RE.fullmatch(name_arch)
    if match is None:
        raise _bad_field("package name", name_arch, line, number)
    return Package(match[1], "", match[2] or "", state)


def _parse_selections(lines: list[str]) -> _Parsed:
    packages: list[Package] = []
    seen = 0
    for number, line in _numbered(lines):
        seen += 1
        match = _SELECTION_LINE_RE.fullmatch(line)
        if match is None:
            package = _selection_line(line, number)
        else:
            name, arch, state = match.groups()
            package = Package(name, "", arch or "", state)
        # deinstall/purge are selected for removal: dpkg has removed them or
        # will, so they are not part of what the server runs.
        if package.state not in _REMOVED_STATES:
            packages.append(package)
    if not seen:
        raise _no_packages()
    return packages, []


def _query_line(line: str, number: int) -> Package:
    """Check one dpkg-query -W line field by field; raise saying what is wrong."""
    # Split on any whitespace, not just tabs: terminals turn tabs into
    # spaces when output is copied, and no field can contain a space.
    parts = line.split()
    if len(parts) not in (2, 3, 5):
        raise _bad_line(
            "'name<TAB>version' (then <TAB>arch, then <TAB>source<TAB>source version)", line, number
        )
    # Default -W output uses ${binary:Package}, so names may carry ":arch".
    match = _DEB_NAME_ARCH_RE.fullmatch(parts[0])
    if match is None:
        raise _bad_field("package name", parts[0], line, number)
    version = parts[1]
    if not _DEB_VERSION_RE.fullmatch(version):
        raise _bad_field("version", version, line, number)
    if len(parts) >= 3:
        arch = parts[2]
        if not _DEB_ARCH_RE.fullmatch(arch):
            raise _bad_field("architecture", arch, line, number)
    else:
        arch = match[2] or ""
    source = source_version = ""
    if len(parts) == 5:
        source, source_version = parts[3], parts[4]
        if not _DEB_NAME_RE.fullmatch(source):
            raise _bad_field("source package name", source, line, number)
        if not _DEB_VERSION_RE.fullmatch(source_version):
            raise _bad_field("source version", source_version, line, number)
    return Package(match[1], version, arch, "install", source, source_version)


def _parse_dpkg_query(lines: list[str]) -> _Parsed:
    packages: list[Package] = []
    append = packages.append
    for number, line in _numbered(lines):
        match = _QUERY_LINE_RE.fullmatch(line)
        if match is None:
            append(_query_line(line, number))
        else:
            name, name_arch, version, arch, source, source_version = match.groups()
            # An architecture column wins over a ":arch" on the name.
            append(
                Package(
                    name,
                    version,
                    arch or name_arch or "",
                    "install",
                    source or "",
                    source_version or "",
                )
            )
    if not packages:
        raise _no_packages()
    return packages, []


def _parse_dpkg_l(lines: list[str]) -> _Parsed:
    """Read dpkg -l rows whose package files are on disk (see _DPKG_L_PRESENT).

    The first status letter is the selection, so "hi" gives state "hold".
    """
    packages: list[Package] = []
    seen = 0
    # dpkg before multiarch (Debian 6) printed no Architecture column; the
    # "||/ Name Version Architecture Description" header says which we have.
    has_arch = True
    for number, line in _numbered(lines):
        if line.startswith(_DPKG_L_HEADERS):
            if line.startswith("||/"):
                has_arch = "Architecture" in line
            continue
        min_fields = 4 if has_arch else 3
        parts = line.split(None, min_fields)
        if len(parts) < min_fields or not _DPKG_L_STATUS_RE.fullmatch(parts[0]):
            raise _bad_line(
                "a dpkg -l row like 'ii  name  version  architecture  description'", line, number
            )
        seen += 1
        status = parts[0]
        if status[1] not in _DPKG_L_PRESENT:
            continue
        match = _DEB_NAME_ARCH_RE.fullmatch(parts[1])
        if match is None:
            raise _bad_field("package name", parts[1], line, number)
        version = parts[2]
        if not _DEB_VERSION_RE.fullmatch(version):
            raise _bad_field("version", version, line, number)
        if has_arch:
            arch = parts[3]
            if not _DEB_ARCH_RE.fullmatch(arch):
                raise _bad_field("architecture", arch, line, number)
        else:
            arch = match[2] or ""
        packages.append(Package(match[1], version, arch, _DPKG_L_DESIRED[status[0]]))
    if not seen:
        raise _no_packages()
    return packages, []


def _parse_apt_upgradable(lines: list[str]) -> _Parsed:
    updates: list[Update] = []
    saw_header = False
    for number, line in _numbered(lines):
        if line.startswith(_APT_NOISE):
            saw_header = saw_header or line.startswith("Listing")
            continue
        match = _APT_LINE_RE.fullmatch(line)
        if match is None:
            raise _bad_line(
                "'name/suite candidate architecture [upgradable from: current]'"
                " as printed by apt list --upgradable (run it with LANG=C)",
                line,
                number,
            )
        name, suite, candidate, arch, current = match.groups()
        if not _DEB_NAME_RE.fullmatch(name):
            raise _bad_field("package name", name, line, number)
        suites = suite.split(",")
        if not all(suites):
            raise _bad_field("suite", suite, line, number)
        if not _DEB_VERSION_RE.fullmatch(candidate):
            raise _bad_field("version", candidate, line, number)
        if not _DEB_VERSION_RE.fullmatch(current):
            raise _bad_field("version", current, line, number)
        if not _DEB_ARCH_RE.fullmatch(arch):
            raise _bad_field("architecture", arch, line, number)
        is_security = any("security" in s for s in suites)
        updates.append(Update(name, current, candidate, suite, arch, is_security))
    # "Listing..." and nothing else is what apt prints on an up-to-date server:
    # a valid answer, unlike an empty paste.
    if not updates and not saw_header:
        raise _no_packages()
    return [], updates


def _parse_rpm_qa(lines: list[str]) -> _Parsed:
    packages: list[Package] = []
    for number, line in _numbered(lines):
        nevra = _split_nevra(line) if " " not in line and "\t" not in line else None
        if nevra is None:
            raise _bad_line("'name-version-release.arch' as printed by rpm -qa", line, number)
        packages.append(Package(*nevra))
    if not packages:
        raise _no_packages()
    return packages, []


_PARSERS: dict[Format, Callable[[list[str]], _Parsed]] = {
    Format.DPKG_SELECTIONS: _parse_selections,
    Format.DPKG_QUERY: _parse_dpkg_query,
    Format.DPKG_L: _parse_dpkg_l,
    Format.APT_UPGRADABLE: _parse_apt_upgradable,
    Format.RPM_QA: _parse_rpm_qa,
}


def parse_inventory(
    data: bytes | str,
    format: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ParseResult:
    """Read a package listing into a ParseResult.

    ``format`` is a ``SUPPORTED_FORMATS`` key, or None (or "") to detect it.
    Raises InventoryParseError for anything that is not a complete, well-formed
    listing: too large, not UTF-8 text, empty, unrecognised, or with a
    malformed line (reported by its 1-based number). Packages come out in
    listing order; a line repeated verbatim is read once.
    """
    text = _to_text(data, max_bytes)
    lines = _split_lines(text)
    if not format:
        fmt = _detect(lines)
    else:
        try:
            fmt = Format(format)
        except ValueError:
            raise InventoryParseError(
                f"unknown listing format {_quote(str(format))}; supported: {_supported_list()}"
            ) from None
    with _gc_paused():
        packages, updates = _PARSERS[fmt](lines)
    return ParseResult(format=fmt.value, packages=packages, updates=updates)
