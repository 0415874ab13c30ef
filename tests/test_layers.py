"""The layers contract (pyproject.toml, [tool.importlinter]): settings, accounts,
teams and the notifications outbox at the bottom, servers above them, plans above
servers, advisories, reports and the dashboard on top; nothing imports upward
(issue 18). `make lint` and CI run `lint-imports` on the real tree; here the
contract is run on it too, and on a copy with one upward import added, which
must break it. The copy lives under tmp_path, so the source tree that other
tests (other xdist workers) import is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("patchplan", "plans", "servers")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    # The copy first on the path, so its packages (not the real ones) are analysed.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the Python packages and the contract, to add imports to."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "demo_data"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_real_tree_keeps_the_layers_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Layers only point down KEPT" in result.stdout


def test_the_unchanged_copy_keeps_the_contract(tree):
    # The copy is analysed, not the real tree: otherwise the breaking cases
    # below would prove nothing.
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Analyzed {sum(1 for _ in tree.rglob('*.py'))} files" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import", "message"),
    [
        # The acceptance's cases: notifications imports no plan model, servers
        # nothing from plans, teams and accounts nothing above them.
        (
            "patchplan/notifications/services.py",
            "from plans.models import Plan",
            "patchplan.notifications is not allowed to import plans",
        ),
        (
            "servers/views.py",
            "from plans.services.plans import plan_scope_add",
            "servers is not allowed to import plans",
        ),
        (
            "patchplan/teams/services.py",
            "from servers.models import Server",
            "patchplan.teams is not allowed to import servers",
        ),
        (
            "patchplan/accounts/models.py",
            "from patchplan.teams.models import Team",
            "patchplan.accounts is not allowed to import patchplan.teams",
        ),
        # A late import inside a function counts as much as one at the top.
        (
            "plans/services/plans.py",
            "def _late():\n    from patchplan.reports import selectors  # noqa: F401",
            "plans is not allowed to import patchplan.reports",
        ),
    ],
)
def test_an_upward_import_breaks_the_contract(tree, module, upward_import, message):
    path = tree / module
    path.write_text(path.read_text() + f"\n\n{upward_import}\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "Layers only point down BROKEN" in result.stdout
    assert message in " ".join(result.stdout.split())
