"""Inventory listings from real hosts, and the bad input users will paste."""

import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.parsers import (
    MAX_LINE_LENGTH,
    SUPPORTED_FORMATS,
    Format,
    InventoryParseError,
    Package,
    ParseResult,
    Update,
    detect_format,
    parse_inventory,
)

# The copy beside the tests is what CI reads; /work/shared/samples is where the
# listings were first collected (a Debian 12 host), checked against when present.
SAMPLES = Path(__file__).resolve().parent / "samples"
SELECTIONS = "debian12-dpkg-get-selections.txt"
QUERY = "debian12-dpkg-query.tsv"
UPGRADABLE = "debian12-apt-list-upgradable.txt"

# Hypothesis must not write a .hypothesis/ folder into the checkout.
fuzz = settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def by_name(packages: list[Package]) -> dict[str, Package]:
    return {p.name: p for p in packages}


DPKG_L = """\
Desired=Unknown/Install/Remove/Purge/Hold
| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend
|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)
||/ Name                      Version              Architecture Description
+++-=========================-====================-============-=============================
ii  adduser                   3.134                all          add and remove users and groups
ii  binutils-common:amd64     2.40-2               amd64        Common files for the GNU assembler
ii  bsdutils                  1:2.38.1-5+deb12u3   amd64        basic utilities from 4.4BSD-Lite
hi  openssl                   3.0.19-1~deb12u2     amd64        Secure Sockets Layer toolkit
iU  tzdata                    2025b-0+deb12u2      all          time zone and daylight-saving data
rc  linux-image-6.1.0-9-amd64 6.1.27-1             amd64        Linux 6.1 for 64-bit PCs (signed)
un  foo                       <none>               <none>       (no description available)
"""

RPM_QA = """\
openssl-libs-3.0.7-27.el9.x86_64
1:openssl-3.0.7-27.el9.x86_64
openssl-devel-1:3.0.7-27.el9.x86_64
gpg-pubkey-fd431d51-4ae0493b
kernel-5.14.0-362.8.1.el9_3.x86_64
kernel-5.14.0-427.13.1.el9_4.x86_64
perl-Text-CSV_XS-1.46-3.el9.x86_64
tzdata-2024a-1.el9.noarch
glibc-2.34-100.el9.i686
"""


# --- The Debian 12 samples --------------------------------------------------


def test_it_reads_every_package_from_get_selections():
    result = parse_inventory(sample(SELECTIONS))

    assert result.format == "dpkg-selections"
    assert result.updates == []
    # 832 lines, all "install"; 449 carry ":amd64" (Multi-Arch: same packages).
    assert len(result.packages) == 832
    assert {p.state for p in result.packages} == {"install"}
    assert {p.version for p in result.packages} == {""}
    assert sum(p.architecture == "amd64" for p in result.packages) == 449
    assert sum(p.architecture == "" for p in result.packages) == 383


def test_it_splits_the_arch_suffix_off_selection_names():
    packages = by_name(parse_inventory(sample(SELECTIONS)).packages)

    assert packages["binutils-common"] == Package("binutils-common", "", "amd64", "install")
    assert packages["adduser"] == Package("adduser", "", "", "install")
    assert not any(":" in name for name in packages)


def test_it_reads_every_package_from_dpkg_query():
    result = parse_inventory(sample(QUERY))

    assert result.format == "dpkg-query"
    assert len(result.packages) == 832
    assert sum(p.architecture == "amd64" for p in result.packages) == 641
    assert sum(p.architecture == "all" for p in result.packages) == 191
    assert sum(":" in p.version for p in result.packages) == 110  # epochs
    assert sum("~" in p.version for p in result.packages) == 56


def test_it_keeps_epochs_and_tildes_in_dpkg_query_versions():
    packages = by_name(parse_inventory(sample(QUERY)).packages)

    assert packages["bsdutils"] == Package("bsdutils", "1:2.38.1-5+deb12u3", "amd64")
    assert packages["zlib1g"].version == "1:1.2.13.dfsg-1"
    assert packages["ca-certificates-java"].version == "20230710~deb12u1"
    assert packages["libldb2"].version == "2:2.6.2+samba4.17.12+dfsg-0+deb12u4"


def test_selections_and_query_samples_list_the_same_host():
    selections = {p.name for p in parse_inventory(sample(SELECTIONS)).packages}
    query = {p.name for p in parse_inventory(sample(QUERY)).packages}

    assert selections == query


def test_it_reads_every_update_from_apt_list_upgradable():
    result = parse_inventory(sample(UPGRADABLE))

    assert result.format == "apt-upgradable"
    assert result.packages == []
    assert len(result.updates) == 117
    assert sum(u.is_security for u in result.updates) == 70
    assert sum(not u.is_security for u in result.updates) == 47


def test_it_marks_security_suites():
    updates = {u.name: u for u in parse_inventory(sample(UPGRADABLE)).updates}

    assert updates["apt-transport-https"] == Update(
        name="apt-transport-https",
        current="2.6.1",
        candidate="2.6.2",
        suite="oldstable-security",
        architecture="all",
        is_security=True,
    )
    assert updates["appstream"].is_security is False
    assert updates["appstream"].suite == "oldstable"
    # Listed in two suites, one of them security.
    assert updates["krb5-locales"].suite == "oldstable,oldstable-security"
    assert updates["krb5-locales"].is_security is True


def test_it_keeps_tildes_and_epochs_in_apt_versions():
    updates = {u.name: u for u in parse_inventory(sample(UPGRADABLE)).updates}

    assert updates["ca-certificates"].candidate == "20250419~deb12u2"
    assert updates["ca-certificates"].current == "20230311+deb12u1"
    assert updates["libcap2"].current == "1:2.66-4+deb12u2+b2"
    assert updates["libcap2"].candidate == "1:2.66-4+deb12u3+b1"


def test_upgradable_current_versions_match_the_installed_ones():
    installed = {p.name: p.version for p in parse_inventory(sample(QUERY)).packages}
    updates = parse_inventory(sample(UPGRADABLE)).updates

    assert [u.name for u in updates if installed.get(u.name) != u.current] == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [(SELECTIONS, "dpkg-selections"), (QUERY, "dpkg-query"), (UPGRADABLE, "apt-upgradable")],
)
def test_it_detects_each_sample(name, expected):
    assert detect_format(sample(name).decode()) == expected


# --- Formats with no sample: inline listings --------------------------------


def test_it_detects_and_reads_dpkg_l():
    assert detect_format(DPKG_L) == Format.DPKG_L
    result = parse_inventory(DPKG_L)

    assert result.format == "dpkg-l"
    # rc (config files only) and un (not installed) rows are not installed packages.
    assert result.packages == [
        Package("adduser", "3.134", "all"),
        Package("binutils-common", "2.40-2", "amd64"),
        Package("bsdutils", "1:2.38.1-5+deb12u3", "amd64"),
        Package("openssl", "3.0.19-1~deb12u2", "amd64", "hold"),
        Package("tzdata", "2025b-0+deb12u2", "all"),
    ]


def test_it_detects_dpkg_l_rows_without_the_header():
    rows = "\n".join(DPKG_L.splitlines()[5:])

    assert detect_format(rows) == "dpkg-l"
    assert len(parse_inventory(rows).packages) == 5


def test_it_reads_a_pre_multiarch_dpkg_l():
    text = (
        "||/ Name           Version        Description\n"
        "+++-==============-==============-============================\n"
        "ii  adduser        3.112+nmu2     add and remove users and groups\n"
    )

    assert parse_inventory(text, "dpkg-l").packages == [Package("adduser", "3.112+nmu2", "")]


def test_it_detects_and_reads_rpm_qa():
    assert detect_format(RPM_QA) == Format.RPM_QA
    packages = parse_inventory(RPM_QA).packages

    assert packages[0] == Package("openssl-libs", "3.0.7-27.el9", "x86_64")
    # yum's epoch:name-... and dnf's name-epoch:... both keep the epoch.
    assert packages[1] == Package("openssl", "1:3.0.7-27.el9", "x86_64")
    assert packages[2] == Package("openssl-devel", "1:3.0.7-27.el9", "x86_64")
    assert packages[3] == Package("gpg-pubkey", "fd431d51-4ae0493b", "")
    # Two kernels side by side is normal for rpm.
    assert [p.version for p in packages if p.name == "kernel"] == [
        "5.14.0-362.8.1.el9_3",
        "5.14.0-427.13.1.el9_4",
    ]
    assert packages[6] == Package("perl-Text-CSV_XS", "1.46-3.el9", "x86_64")
    assert packages[7].architecture == "noarch"
    assert packages[8] == Package("glibc", "2.34-100.el9", "i686")


def test_rpm_detection_skips_a_leading_gpg_pubkey():
    text = "gpg-pubkey-fd431d51-4ae0493b\nbash-5.1.8-9.el9.x86_64\n"

    assert detect_format(text) == "rpm-qa"


def test_it_keeps_hold_and_drops_removed_selections():
    text = "bash\t\t\tinstall\nopenssl:amd64\t\thold\nnano\t\t\tdeinstall\nvim-tiny\t\tpurge\n"

    result = parse_inventory(text)

    assert result.format == "dpkg-selections"
    assert result.packages == [
        Package("bash", "", "", "install"),
        Package("openssl", "", "amd64", "hold"),
    ]


def test_a_selection_list_of_removed_packages_is_empty_not_an_error():
    assert parse_inventory("nano deinstall\n").packages == []


def test_it_reads_two_column_and_binary_package_dpkg_query():
    # Plain `dpkg-query -W` prints ${binary:Package}\t${Version}.
    text = "adduser\t3.134\nlibc6:amd64\t2.36-9+deb12u10\nlibc6:i386\t2.36-9+deb12u10\n"

    result = parse_inventory(text)

    assert result.format == "dpkg-query"
    assert result.packages == [
        Package("adduser", "3.134", ""),
        Package("libc6", "2.36-9+deb12u10", "amd64"),
        Package("libc6", "2.36-9+deb12u10", "i386"),
    ]


def test_it_accepts_dpkg_query_with_tabs_turned_into_spaces():
    text = "adduser   3.134   all\nbsdutils  1:2.38.1-5+deb12u3  amd64\n"

    assert parse_inventory(text).packages[1] == Package("bsdutils", "1:2.38.1-5+deb12u3", "amd64")


def test_it_skips_apt_warnings_and_notices():
    text = (
        "\nWARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\n"
        "Listing... Done\n"
        "bash/oldstable 5.2.15-2+b13 amd64 [upgradable from: 5.2.15-2+b8]\n"
        "N: There is 1 additional version. Please use the '-a' switch to see it\n"
    )

    result = parse_inventory(text)

    assert result.format == "apt-upgradable"
    assert result.updates == [
        Update("bash", "5.2.15-2+b8", "5.2.15-2+b13", "oldstable", "amd64", False)
    ]


def test_an_up_to_date_host_has_no_updates():
    # What `apt list --upgradable` prints when there is nothing to do.
    result = parse_inventory("Listing...\n")

    assert result == ParseResult(format="apt-upgradable", packages=[], updates=[])


def test_a_line_repeated_verbatim_is_read_once():
    text = "bash\t5.2.15-2+b8\tamd64\nzsh\t5.9-4\tamd64\nbash\t5.2.15-2+b8\tamd64\n"

    assert [p.name for p in parse_inventory(text).packages] == ["bash", "zsh"]


def test_rpm_keeps_several_versions_of_one_package():
    text = "kernel-5.14.0-362.el9.x86_64\nkernel-5.14.0-427.el9.x86_64\n"

    assert len(parse_inventory(text).packages) == 2


def test_a_blank_format_means_detect():
    assert parse_inventory(sample(UPGRADABLE), "").format == "apt-upgradable"


def test_an_explicit_format_skips_detection():
    result = parse_inventory(sample(QUERY), Format.DPKG_QUERY)

    assert len(result.packages) == 832


def test_an_explicit_format_that_does_not_fit_reports_line_1():
    with pytest.raises(InventoryParseError) as caught:
        parse_inventory(sample(QUERY), "rpm-qa")

    assert caught.value.line == 1
    assert "adduser" in caught.value.message


def test_an_unknown_format_name_is_refused():
    with pytest.raises(InventoryParseError, match="unknown listing format 'yum'"):
        parse_inventory("bash 1.0\n", "yum")


def test_supported_formats_are_the_format_values():
    assert set(SUPPORTED_FORMATS) == {f.value for f in Format}
    assert SUPPORTED_FORMATS["dpkg-query"] == "dpkg-query -W"


# --- Bad input --------------------------------------------------------------


def test_an_unrecognised_listing_names_the_supported_formats():
    with pytest.raises(InventoryParseError) as caught:
        parse_inventory("Hello,\nplease patch the mail server.\n")

    assert caught.value.line is None
    for label in SUPPORTED_FORMATS.values():
        assert label in str(caught.value)


def test_detect_format_refuses_text_it_does_not_know():
    with pytest.raises(InventoryParseError, match="unrecognised listing format"):
        detect_format("<html><body>Not found</body></html>")


def test_a_malformed_line_is_reported_by_its_number():
    lines = sample(QUERY).decode().splitlines()
    lines[499] = "libsasl2-2 2.1.28+dfsg-10 amd64 extra-column"

    with pytest.raises(InventoryParseError) as caught:
        parse_inventory("\n".join(lines))

    assert caught.value.line == 500
    assert str(caught.value).startswith("line 500: expected 'name<TAB>version'")
    assert "'libsasl2-2 2.1.28+dfsg-10 amd64 extra-column'" in str(caught.value)


def test_only_the_first_bad_line_is_reported():
    text = "bash\t5.2.15-2+b8\tamd64\n\nBAD LINE ONE x y\nBAD LINE TWO x y\n"

    with pytest.raises(InventoryParseError) as caught:
        parse_inventory(text)

    assert caught.value.line == 3
    assert "BAD LINE ONE" in caught.value.message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("bash install\nzsh maybe\n", 2, "unknown selection state 'maybe'"),
        ("bash install\nZsh install\n", 2, "invalid package name 'Zsh'"),
        ("bash\t5.2\tamd64\nzsh\t5 .9\tamd64\n", 2, "expected 'name<TAB>version'"),
        ("bash\t5.2\tamd64\nzsh\t5.9!\tamd64\n", 2, "invalid version '5.9!'"),
        ("bash\t5.2\tamd64\nzsh\t5.9\tAMD64\n", 2, "invalid architecture 'AMD64'"),
        ("bash\t5.2\tamd64\nzsh\ta:5.9\tamd64\n", 2, "invalid version 'a:5.9'"),
        ("ii  bash 5.2 amd64 shell\nxx  zsh 5.9 amd64 shell\n", 2, "expected a dpkg -l row"),
        ("Listing...\nbash/stable 5.2 amd64 [installed]\n", 2, "upgradable from: current"),
        ("Listing...\nlibc6:i386/stable 2.36 i386 [upgradable from: 2.35]\n", 2, "name 'libc6:i"),
        ("bash-5.1.8-9.el9.x86_64\nbash 5.1.8\n", 2, "expected 'name-version-release.arch'"),
        ("bash-5.1.8-9.el9.x86_64\nbash.x86_64\n", 2, "expected 'name-version-release.arch'"),
    ],
)
def test_malformed_lines_say_what_was_expected(text, line, fragment):
    with pytest.raises(InventoryParseError) as caught:
        parse_inventory(text)

    assert caught.value.line == line
    assert fragment in caught.value.message


def test_a_long_bad_line_is_quoted_shortened():
    text = "bash\t5.2\tamd64\n" + "x " * 200 + "\n"

    with pytest.raises(InventoryParseError) as caught:
        parse_inventory(text)

    assert caught.value.line == 2
    assert "..." in caught.value.message
    assert len(caught.value.message) < 200


def test_an_oversized_listing_is_refused_before_parsing():
    big = b"x" * (5 * 1024 * 1024 + 1)  # not a listing at all: size is checked first

    with pytest.raises(InventoryParseError, match="larger than the 5 MB limit"):
        parse_inventory(big)
    with pytest.raises(InventoryParseError, match="larger than the 5 MB limit"):
        parse_inventory(big.decode())


def test_the_size_limit_counts_bytes_not_characters():
    text = "é" * 10  # 10 characters, 20 bytes in UTF-8

    with pytest.raises(InventoryParseError, match="larger than the 15 bytes limit"):
        parse_inventory(text, max_bytes=15)


def test_a_listing_at_the_limit_is_accepted():
    data = sample(QUERY)

    assert len(parse_inventory(data, max_bytes=len(data)).packages) == 832
    with pytest.raises(InventoryParseError, match="larger than"):
        parse_inventory(data, max_bytes=len(data) - 1)


def test_invalid_utf8_is_not_a_text_listing():
    with pytest.raises(InventoryParseError, match="not a text listing") as caught:
        parse_inventory(b"bash\t5.2\tamd64\ncaf\xe9\t1.0\tall\n")

    assert caught.value.line is None


def test_nul_bytes_are_not_a_text_listing():
    with pytest.raises(InventoryParseError, match="not a text listing: it contains NUL"):
        parse_inventory(b"bash\t5.2\tamd64\n\x00\x00\x00")
    with pytest.raises(InventoryParseError, match="not a text listing: it contains NUL"):
        parse_inventory("bash\t5.2\tamd64\n\x00")


def test_binary_files_are_not_a_text_listing():
    zip_start = b"PK\x03\x04\x14\x06"  # valid UTF-8 and NUL-free, still binary

    with pytest.raises(InventoryParseError, match="not a text listing: it contains binary"):
        parse_inventory(zip_start + b"bash\t5.2\tamd64\n")


def test_terminal_colours_are_stripped():
    # apt colours package names when it thinks it writes to a terminal (ssh -t).
    text = "Listing...\n\x1b[32mbash\x1b[0m/oldstable 5.2.15-2+b13 amd64 [upgradable from: 5.2]\n"

    assert parse_inventory(text).updates[0].name == "bash"


def test_utf16_is_named_as_such():
    data = "bash\t5.2\tamd64\n".encode("utf-16")

    with pytest.raises(InventoryParseError, match="UTF-16"):
        parse_inventory(data)


@pytest.mark.parametrize("data", [b"", "", "\n\n  \n", b"\xef\xbb\xbf", "\r\n\t\r\n"])
def test_an_empty_listing_has_no_packages(data):
    with pytest.raises(InventoryParseError, match="no packages found"):
        parse_inventory(data)


def test_a_header_only_dpkg_l_has_no_packages():
    header = "\n".join(DPKG_L.splitlines()[:5])

    with pytest.raises(InventoryParseError, match="no packages found"):
        parse_inventory(header)


def test_an_overlong_line_is_refused_with_its_number():
    text = "bash\t5.2\tamd64\nzsh\t5.9\tamd64\t" + "x" * MAX_LINE_LENGTH + "\n"

    with pytest.raises(InventoryParseError) as caught:
        parse_inventory(text)

    assert caught.value.line == 2
    assert f"longer than {MAX_LINE_LENGTH} characters" in caught.value.message


def test_crlf_and_a_bom_are_accepted():
    original = sample(QUERY)
    windows = b"\xef\xbb\xbf" + original.replace(b"\n", b"\r\n")

    assert parse_inventory(windows) == parse_inventory(original)


def test_surrounding_whitespace_and_blank_lines_are_ignored():
    text = "\n\n   adduser\t3.134\tall   \n\n\t bash\t5.2.15-2+b8\tamd64\n\n"

    assert [p.name for p in parse_inventory(text).packages] == ["adduser", "bash"]


def test_line_numbers_count_blank_lines_and_crlf():
    text = "\r\n\r\nbash\t5.2\tamd64\r\n\r\nzsh 5.9 amd64 oops\r\n"

    with pytest.raises(InventoryParseError) as caught:
        parse_inventory(text)

    assert caught.value.line == 5


def test_the_error_string_leads_with_the_line_number():
    error = InventoryParseError("expected 'name<TAB>version', got 'x'", 12)

    assert str(error) == "line 12: expected 'name<TAB>version', got 'x'"
    assert isinstance(error, ValueError)
    assert str(InventoryParseError("no packages found")) == "no packages found"


def test_the_error_survives_pickling():
    error = pickle.loads(pickle.dumps(InventoryParseError("bad", 3)))  # noqa: S301 - our own bytes

    assert (error.message, error.line, str(error)) == ("bad", 3, "line 3: bad")


# --- Anything at all goes in, only InventoryParseError comes out ------------

_REAL_LINES = (
    [
        line
        for name in (SELECTIONS, QUERY, UPGRADABLE)
        for line in sample(name).decode().splitlines()[:40]
    ]
    + DPKG_L.splitlines()
    + RPM_QA.splitlines()
)

_line = st.one_of(
    st.sampled_from(_REAL_LINES),
    st.text(max_size=40),
    st.sampled_from(_REAL_LINES).map(lambda s: s.replace("\t", " ")),
    st.sampled_from(_REAL_LINES).flatmap(
        lambda s: st.integers(0, len(s)).map(lambda i: s[:i] + s[i + 1 :])
    ),
)


def _parse_or_refuse(data, fmt=None) -> None:
    try:
        result = parse_inventory(data, fmt)
    except InventoryParseError as error:
        assert str(error)
        return
    assert isinstance(result, ParseResult)
    assert result.format in SUPPORTED_FORMATS
    for package in result.packages:
        assert package.name
        assert package.version or result.format == "dpkg-selections"


@fuzz
@given(st.text())
def test_any_text_parses_or_raises_inventory_parse_error(text):
    _parse_or_refuse(text)


@fuzz
@given(st.binary())
def test_any_bytes_parse_or_raise_inventory_parse_error(data):
    _parse_or_refuse(data)


@fuzz
@given(
    st.lists(_line, max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from([None, *SUPPORTED_FORMATS]),
)
def test_near_miss_listings_parse_or_raise_inventory_parse_error(lines, newline, fmt):
    _parse_or_refuse(newline.join(lines), fmt)
    _parse_or_refuse(newline.join(lines).encode("utf-8", "surrogatepass"), fmt)
