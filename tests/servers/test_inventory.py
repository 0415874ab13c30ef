"""The inventory import service: snapshots, the current-package table, diffs, bad input."""

import pytest

from servers.choices import SnapshotSource
from servers.inventory import InventoryRejected, inventory_import, snapshot_diff
from servers.models import InventorySnapshot, PendingUpdate, Server, ServerPackage
from tests import factories

from .helpers import QUERY, SELECTIONS, UPGRADABLE, query_listing, sample, upgradable_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(team):
    return factories.ServerFactory(team=team, hostname="web-01")


def _import(server, data, **kw):
    return inventory_import(server=server, data=data, source=SnapshotSource.PASTE, **kw)


def _nothing_written(server):
    server.refresh_from_db()
    return (
        not InventorySnapshot.objects.filter(server=server).exists()
        and not ServerPackage.objects.filter(server=server).exists()
        and not PendingUpdate.objects.filter(server=server).exists()
        and server.package_count == 0
        and server.last_inventory_at is None
    )


def test_it_imports_the_dpkg_query_sample_as_current_packages(server):
    result = _import(server, sample(QUERY))
    assert result.created and result.package_count == 832
    assert result.summary() == "832 packages, 0 pending updates (0 security)"
    server.refresh_from_db()
    assert server.package_count == 832 and server.last_inventory_at is not None
    assert ServerPackage.objects.filter(server=server).count() == 832
    libc = ServerPackage.objects.get(server=server, name="libc6")
    assert libc.architecture == "amd64" and libc.version.startswith("2.36")
    snap = result.snapshot
    assert snap.format == "dpkg-query" and snap.package_count == 832 and snap.added_count == 832


def test_selection_names_keep_their_arch_apart(server):
    _import(server, sample(SELECTIONS))
    # The sample writes "binutils-common:amd64" and plain "adduser".
    row = ServerPackage.objects.get(server=server, name="binutils-common")
    assert (row.architecture, row.version) == ("amd64", "")
    assert ServerPackage.objects.get(server=server, name="adduser").architecture == ""
    assert ServerPackage.objects.filter(server=server).count() == 832


def test_apt_upgradable_gives_pending_updates_with_security_marked(server):
    _import(server, sample(QUERY))
    result = _import(server, sample(UPGRADABLE))
    assert result.pending_updates == PendingUpdate.objects.filter(server=server).count() > 100
    assert (
        result.pending_security
        == PendingUpdate.objects.filter(server=server, is_security=True).count()
        > 0
    )
    apt = PendingUpdate.objects.get(server=server, name="apt")
    assert apt.is_security and apt.suite == "oldstable-security" and apt.candidate == "2.6.2"
    assert not PendingUpdate.objects.get(server=server, name="appstream").is_security
    # Importing updates does not touch the installed packages.
    assert result.package_count == 832
    server.refresh_from_db()
    assert server.pending_security == result.pending_security


def test_an_identical_repeat_is_recognised_not_stored_twice(server):
    first = _import(server, sample(QUERY))
    # Same packages in another order is the same content.
    lines = sample(QUERY).decode().splitlines()
    again = _import(server, "\n".join(reversed(lines)))
    assert not again.created and again.snapshot.pk == first.snapshot.pk
    assert again.package_count == 832
    assert InventorySnapshot.objects.filter(server=server).count() == 1


def test_a_reimport_touches_only_changed_rows(server, django_assert_max_num_queries):
    packages = {f"pkg{i}": f"1.{i}-1" for i in range(300)}
    _import(server, query_listing(packages))
    ids_before = dict(ServerPackage.objects.filter(server=server).values_list("name", "pk"))
    packages["pkg1"] = "1:0.1-1"  # epoch: newer
    packages["pkg2"] = "1.2-1~bpo1"  # tilde: older
    del packages["pkg3"]
    packages["newpkg"] = "2.0"
    # lock, latest snapshot, insert snapshot, current rows, delete, insert,
    # pending rows, pending count, snapshot update, server update, the
    # advisories rematch (its candidates, its open matches)
    # (+ savepoint/transaction statements)
    with django_assert_max_num_queries(16):
        result = _import(server, query_listing(packages))
    snap = result.snapshot
    assert (snap.added_count, snap.removed_count, snap.upgraded_count, snap.downgraded_count) == (
        1,
        1,
        1,
        1,
    )
    ids_after = dict(ServerPackage.objects.filter(server=server).values_list("name", "pk"))
    # Unchanged rows kept their ids: they were not rewritten.
    unchanged = [f"pkg{i}" for i in range(300) if i not in (1, 2, 3)]
    assert all(ids_after[name] == ids_before[name] for name in unchanged)
    assert "pkg3" not in ids_after and "newpkg" in ids_after
    assert ServerPackage.objects.get(server=server, name="pkg1").version == "1:0.1-1"


def test_diff_of_two_snapshots_lists_each_kind_of_change(server):
    old = _import(
        server,
        query_listing(
            {
                "openssl": "3.0.11-1~deb12u2",
                "curl": "7.88.1-10",
                "gone": "1.0",
                "vim": "2:9.0.1378-2",
            }
        ),
    ).snapshot
    new = _import(
        server,
        query_listing(
            {
                "openssl": "3.0.15-1~deb12u1",
                "curl": "7.88.1-9",
                "added": "0.1",
                "vim": "2:9.0.1378-2",
            }
        ),
    ).snapshot
    changes = {c.name: c for c in snapshot_diff(old, new)}
    assert changes["openssl"].kind == "upgraded"
    assert (changes["openssl"].old_version, changes["openssl"].new_version) == (
        "3.0.11-1~deb12u2",
        "3.0.15-1~deb12u1",
    )
    assert changes["curl"].kind == "downgraded"
    assert changes["gone"].kind == "removed" and changes["added"].kind == "added"
    assert "vim" not in changes


def test_rpm_uses_rpm_ordering_and_keeps_several_kernels(server):
    first = _import(server, "kernel-5.14.0-362.el9.x86_64\nbash-5.1.8-6.el9.x86_64\n")
    second = _import(
        server,
        "kernel-5.14.0-362.el9.x86_64\nkernel-5.14.0-427.el9.x86_64\nbash-5.1.8-9.el9.x86_64\n",
    )
    assert second.package_count == 3
    server.refresh_from_db()
    assert server.package_family == "rpm"
    kinds = {(c.name, c.kind) for c in snapshot_diff(first.snapshot, second.snapshot)}
    assert kinds == {("kernel", "added"), ("bash", "upgraded")}


def test_pending_updates_installed_by_a_later_listing_are_cleared(server):
    _import(server, query_listing({"openssl": "3.0.11-1", "curl": "7.88.1-10"}))
    _import(
        server,
        upgradable_listing(
            [
                ("openssl", "bookworm-security", "3.0.15-1", "3.0.11-1"),
                ("curl", "bookworm", "7.88.1-11", "7.88.1-10"),
            ]
        ),
    )
    server.refresh_from_db()
    assert (server.pending_updates, server.pending_security) == (2, 1)
    result = _import(server, query_listing({"openssl": "3.0.15-1", "curl": "7.88.1-10"}))
    assert (result.pending_updates, result.pending_security) == (1, 0)
    assert list(PendingUpdate.objects.filter(server=server).values_list("name", flat=True)) == [
        "curl"
    ]


@pytest.mark.parametrize(
    ("data", "fragment", "line"),
    [
        (b"hello world, this is not a listing\n", "dpkg --get-selections", None),
        (b"adduser\t3.134\tall\nbad line with too many fields here\n", "", 2),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a text listing", None),
        ("openssl\t3.0\n".encode("utf-16"), "UTF-16", None),
        (b"openssl\t3.0\xff\n", "not valid UTF-8", None),
    ],
    ids=["unrecognised", "malformed-line", "binary", "utf16", "bad-encoding"],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(server, data, fragment, line):
    with pytest.raises(InventoryRejected) as caught:
        _import(server, data)
    assert fragment in caught.value.messages[0]
    assert caught.value.line == line
    if line:
        assert caught.value.messages[0].startswith(f"line {line}:")
    assert _nothing_written(server)


def test_an_oversized_listing_is_refused_before_parsing(server):
    data = b"x" * (5 * 1024 * 1024 + 1)  # not even a listing: the size is checked first
    with pytest.raises(InventoryRejected) as caught:
        _import(server, data)
    assert caught.value.too_large and "5 MB" in caught.value.messages[0]
    assert _nothing_written(server)


def test_a_failed_reimport_leaves_the_previous_state_untouched(server):
    _import(server, query_listing({"openssl": "3.0.11-1"}))
    with pytest.raises(InventoryRejected):
        _import(server, "openssl\t3.0.15-1\tamd64\nopenssl 3.0.15 1 2 3\n")
    assert InventorySnapshot.objects.filter(server=server).count() == 1
    assert ServerPackage.objects.get(server=server).version == "3.0.11-1"


def test_servers_are_independent(team):
    a = factories.ServerFactory(team=team, hostname="a")
    b = factories.ServerFactory(team=team, hostname="b")
    _import(a, query_listing({"openssl": "1"}))
    _import(b, query_listing({"openssl": "1"}))
    assert InventorySnapshot.objects.count() == 2
    assert Server.objects.get(pk=b.pk).package_count == 1
