"""No SQL built from strings: every `.raw(`, `.extra(`, `RawSQL(` and
`cursor.execute(` in the code is read with the ast module, and one whose SQL is
built by string formatting (an f-string, `%`, `+` or `.format`, inline or through
a local variable) must be in ALLOWED with the reason it is safe."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("patchplan", "plans", "servers")

# (path, function) -> why the formatting there cannot carry user input.
ALLOWED = {
    ("servers/inventory.py", "_insert_packages"): (
        "the table name comes from model meta through quote_name and the VALUES list is a "
        "repeat of %s placeholders; every value is a parameter"
    ),
    ("patchplan/advisories/matching.py", "_fill"): (
        "a temporary table name and column list are constants of matching.py; the VALUES "
        "list is a repeat of %s placeholders; every value is a parameter"
    ),
    ("patchplan/advisories/matching.py", "match_servers"): (
        "table names come from model meta and the temporary tables are constants; the "
        "source/version expressions are constants; every value is a parameter"
    ),
    ("patchplan/advisories/services.py", "_insert"): (
        "table and column names come from model meta in the callers; the VALUES list is a "
        "repeat of %s placeholders; every value is a parameter"
    ),
    ("patchplan/advisories/services.py", "_refresh_vulnerabilities"): (
        "table names come from model meta, the severity CASE from the Severity choices; "
        "the ids and the source are parameters"
    ),
    ("plans/history_guard.py", "remove_triggers"): (
        "trigger DDL for the fixed table names of APPEND_ONLY_TABLES; no input reaches it"
    ),
    ("patchplan/reports/selectors.py", "_compute_security_trend"): (
        "table names and a date expression come from model meta and a constant; every "
        "value (team, dates, zone) is a named parameter"
    ),
}

SQL_CALLS = {"raw", "extra", "execute", "executemany"}


def _is_formatted(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"format", "join", "replace"}
    )


def _sql_argument(call: ast.Call) -> ast.AST | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in SQL_CALLS and name != "RawSQL":
        return None
    if name == "extra":
        # .extra(where=[...], select={...}): every string in it is SQL.
        return call
    if call.args:
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg in {"sql", "raw_query"}:
            return keyword.value
    return None


def _assigned(function: ast.AST, name: str) -> list[ast.AST]:
    values = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                values.append(node.value)
        elif (
            isinstance(node, ast.AugAssign | ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value
        ):
            values.append(node.value if isinstance(node, ast.AnnAssign) else node)
    return values


def _formatted_sql(arg: ast.AST, function: ast.AST | None) -> bool:
    if isinstance(arg, ast.Call) and _sql_argument(arg) is arg:  # .extra(...)
        return any(_is_formatted(n) for n in ast.walk(arg))
    if _is_formatted(arg):
        return True
    if isinstance(arg, ast.Name) and function is not None:
        for value in _assigned(function, arg.id):
            if isinstance(value, ast.AugAssign) or _is_formatted(value):
                return True
    return False


def find_formatted_sql(source: str, path: str) -> list[tuple[str, str, int]]:
    """(path, enclosing function, line) of each SQL call whose SQL is formatted."""
    tree = ast.parse(source)
    found = []

    def visit(node: ast.AST, function: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                arg = _sql_argument(child)
                if arg is not None and _formatted_sql(arg, function):
                    name = getattr(function, "name", "<module>")
                    found.append((path, name, child.lineno))
            visit(child, inner)

    visit(tree, None)
    return found


def _code_files():
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            relative = file.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative:
                continue
            yield relative, file.read_text(encoding="utf-8")


def test_no_sql_is_built_from_strings_outside_the_allow_list():
    offenders = [
        f"{path}:{line} in {function}()"
        for relative, source in _code_files()
        for path, function, line in find_formatted_sql(source, relative)
        if (path, function) not in ALLOWED
    ]
    assert not offenders, "SQL built with string formatting:\n" + "\n".join(offenders)


def test_every_allow_list_entry_still_exists():
    """An entry whose code went away must go too, so the list stays the truth."""
    found = {
        (path, function)
        for relative, source in _code_files()
        for path, function, _line in find_formatted_sql(source, relative)
    }
    assert set(ALLOWED) <= found


def test_the_scanner_catches_each_kind_of_formatting():
    source = """
def f(cursor, Model, name, qs):
    cursor.execute(f"SELECT * FROM t WHERE name = '{name}'")
    cursor.execute("SELECT * FROM t WHERE name = '%s'" % name)
    cursor.execute("SELECT * FROM t WHERE name = '" + name + "'")
    Model.objects.raw("SELECT * FROM t WHERE name = '{}'".format(name))
    qs.extra(where=[f"name = '{name}'"])
    sql = "SELECT * FROM t WHERE name = '%s'" % name
    cursor.execute(sql)
    RawSQL(f"x = {name}", [])
    cursor.execute("SELECT * FROM t WHERE name = %s", [name])
    Model.objects.raw("SELECT * FROM t WHERE id = %s", [1])
"""
    lines = [line for _p, _f, line in find_formatted_sql(source, "x.py")]
    assert lines == [3, 4, 5, 6, 7, 9, 10]
