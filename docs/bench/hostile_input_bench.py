"""Hostile input figures for docs/reliability.md (issue 8): run as a script.

    .venv/bin/python docs/bench/hostile_input_bench.py

Prints, for the inventory parser: the time to parse a 5 MB listing of each
format (best of 3, limit 2 s) and to refuse hostile ones (over the cap, NUL,
bad UTF-8, a 10,000-character line, CRLF); for the YAML plan import: the time
and tracemalloc peak to reject an alias bomb, deep flow/block nesting and a
file of too many values (limit 1 s). Needs no database.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.test")

import django  # noqa: E402

django.setup()

from plans import yaml_io  # noqa: E402
from servers.parsers import DEFAULT_MAX_BYTES, InventoryParseError, parse_inventory  # noqa: E402


def fill(line_of, limit: int = DEFAULT_MAX_BYTES) -> str:
    out, size, i = [], 0, 0
    while True:
        line = line_of(i)
        if size + len(line) > limit:
            return "".join(out)
        out.append(line)
        size += len(line)
        i += 1


LISTINGS = {
    "dpkg-query": lambda i: f"pkg{i}\t1.{i}-1+deb12u1\tamd64\n",
    "dpkg-selections": lambda i: f"pkg{i}:amd64\t\t\t\t\tinstall\n",
    "apt-upgradable": lambda i: (
        f"pkg{i}/stable-security 1.{i}-2 amd64 [upgradable from: 1.{i}-1]\n"
    ),
    "rpm-qa": lambda i: f"pkg{i}-1.{i}-1.el9.x86_64\n",
}


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, outcome = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            outcome = fn()
        except (InventoryParseError, yaml_io.PlanImportError) as error:
            outcome = error
        best = min(best, time.perf_counter() - start)
    return best, outcome


def describe(outcome) -> str:
    if isinstance(outcome, Exception):
        return f"refused: {str(outcome)[:60]}"
    if hasattr(outcome, "packages"):
        return f"{len(outcome.packages)} packages, {len(outcome.updates)} updates"
    return "loaded"


def main() -> None:
    print("## inventory parser (limit 2 s for 5 MB)")
    for fmt, line_of in LISTINGS.items():
        text = fill(line_of)
        data = text.encode()
        seconds, outcome = timed(lambda data=data: parse_inventory(data))
        print(f"{fmt:16} {len(data) / 1e6:5.2f} MB  {seconds:6.3f} s  {describe(outcome)}")
    base = fill(LISTINGS["dpkg-query"], DEFAULT_MAX_BYTES - 20_000).encode()
    hostile = {
        "over the cap": base + b"x" * 30_000,
        "NUL at the end": base + b"a\t1\x00\tall\n",
        "bad UTF-8 at end": base + b"caf\xe9\t1\tall\n",
        "10,000-char line": base + b"a" * 10_000 + b"\n",
        "CRLF throughout": base.replace(b"\n", b"\r\n")[:DEFAULT_MAX_BYTES],
        "one line repeated": b"ab\t1\tall\n" * (DEFAULT_MAX_BYTES // 9),
    }
    for name, data in hostile.items():
        seconds, outcome = timed(lambda data=data: parse_inventory(data))
        print(f"{name:16} {len(data) / 1e6:5.2f} MB  {seconds:6.3f} s  {describe(outcome)}")

    print("\n## YAML import (limit 1 s; tracemalloc peak)")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    depth = 400_000
    cases = {
        "alias bomb": bomb,
        "flow nesting 400k": "[" * depth + "x" + "]" * depth,
        "mapping nesting": "{a: " * 150_000 + "x" + "}" * 150_000,
        "block nesting": "".join(f"{' ' * i}k:\n" for i in range(1200)),
        "20k values": "[" + ", ".join(["1"] * 20_000) + "]",
        "200k+1 values": "[" + ", ".join(["1"] * (yaml_io.MAX_NODES + 1)) + "]",
    }
    for name, text in cases.items():
        # Timed without tracemalloc (it slows allocation-heavy code several-fold),
        # then run again under tracemalloc for the peak.
        start = time.perf_counter()
        try:
            yaml_io.load_yaml(text)
            outcome = "LOADED"
        except yaml_io.PlanImportError as error:
            outcome = f"refused: {error.args[0] if error.args else ''}"[:70]
        seconds = time.perf_counter() - start
        tracemalloc.start()
        with contextlib.suppress(yaml_io.PlanImportError):
            yaml_io.load_yaml(text)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"{name:18} {len(text) / 1e6:5.2f} MB  {seconds:6.3f} s  "
            f"peak {peak / 1e6:6.1f} MB  {outcome}"
        )


if __name__ == "__main__":
    main()
