"""manage.py import_inventory: files, stdin, --create, the counts line, bad input."""

import io
import sys

import pytest
from django.core.management import CommandError, call_command

from servers.models import InventorySnapshot, Server
from tests import factories

from .helpers import QUERY, SAMPLES, UPGRADABLE, sample

pytestmark = pytest.mark.django_db


def run(*args, stdin: bytes | None = None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    call_command("import_inventory", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_file_and_prints_the_counts_line(team):
    server = factories.ServerFactory(team=team, hostname="web-01")
    out, _ = run("--team", "blue", "--server", "web-01", str(SAMPLES / QUERY))
    assert out.strip() == "832 packages, 0 pending updates (0 security)"
    out, _ = run("--team", "blue", "--server", "web-01", str(SAMPLES / UPGRADABLE))
    server.refresh_from_db()
    assert out.strip() == (
        f"832 packages, {server.pending_updates} pending updates "
        f"({server.pending_security} security)"
    )
    assert server.pending_security > 0
    assert InventorySnapshot.objects.filter(server=server, source="command").count() == 2


def test_it_reads_stdin_for_dash(team, monkeypatch):
    factories.ServerFactory(team=team, hostname="web-01")
    out, _ = run(
        "--team", "blue", "--server", "web-01", "-", stdin=sample(QUERY), monkeypatch=monkeypatch
    )
    assert out.startswith("832 packages")


def test_create_adds_an_unknown_server(team):
    out, _ = run("--team", "blue", "--server", "new-01", "--create", str(SAMPLES / QUERY))
    assert Server.objects.get(team=team, hostname="new-01").package_count == 832
    assert out.startswith("832 packages")


def test_without_create_an_unknown_server_is_an_error(team):
    with pytest.raises(CommandError, match="--create"):
        run("--team", "blue", "--server", "new-01", str(SAMPLES / QUERY))
    assert not Server.objects.exists()


def test_a_forced_format_is_used(team):
    factories.ServerFactory(team=team, hostname="web-01")
    with pytest.raises(CommandError, match="line 1"):
        run("--team", "blue", "--server", "web-01", "--format", "rpm-qa", str(SAMPLES / QUERY))


def test_bad_input_exits_non_zero_and_writes_nothing(team, tmp_path):
    factories.ServerFactory(team=team, hostname="web-01")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"adduser\t3.134\tall\n%%% nonsense\n")
    with pytest.raises(CommandError, match="line 2"):
        run("--team", "blue", "--server", "web-01", str(bad))
    big = tmp_path / "big.txt"
    big.write_bytes(b"a\t1\n" * (5 * 1024 * 1024 // 4 + 1))
    with pytest.raises(CommandError, match="5 MB"):
        run("--team", "blue", "--server", "web-01", str(big))
    assert not InventorySnapshot.objects.exists()


def test_a_bad_listing_with_create_leaves_no_server(team, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01binary")
    with pytest.raises(CommandError, match="not a text listing"):
        run("--team", "blue", "--server", "new-01", "--create", str(bad))
    assert not Server.objects.exists()


def test_unknown_team_and_missing_file_are_errors(team, tmp_path):
    with pytest.raises(CommandError, match="no team"):
        run("--team", "nope", "--server", "web-01", str(SAMPLES / QUERY))
    with pytest.raises(CommandError, match="cannot read"):
        run("--team", "blue", "--server", "web-01", "--create", str(tmp_path / "missing"))


def test_the_command_exits_non_zero_from_the_shell(team, tmp_path):
    """Through manage.py as a user runs it: exit status 1 and the error on stderr."""
    from django.core.management import execute_from_command_line

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"nonsense here\n")
    with pytest.raises(SystemExit) as caught:
        execute_from_command_line(
            [
                "manage.py",
                "import_inventory",
                "--team",
                "blue",
                "--server",
                "x",
                "--create",
                str(bad),
            ]
        )
    assert caught.value.code == 1
