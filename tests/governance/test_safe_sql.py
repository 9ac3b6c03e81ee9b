"""Safe SQL everywhere: no query text built by string formatting reaches a driver call.

Identifiers must go through ``psycopg.sql.Identifier`` and values through bind parameters;
``sql.SQL("... {} ...").format(...)`` is the safe way to compose. This scans every project
module with ``ast`` for ``execute``/``executemany``/``copy`` calls (and ``sql.SQL(...)``,
which trusts its argument) whose first argument is an f-string, ``%``-formatted, ``.format()``-ed
or concatenated string, directly or through a variable assigned so in the same scope.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT_DIRS = ("data_lake", "dwh_pipelines", "pipeline_core", "dags")
SINKS = frozenset({"execute", "executemany", "copy"})


def _is_text(node: ast.AST) -> bool:
    """A str literal, an f-string, or a string expression built from them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _is_text(node.left) or _is_text(node.right)
    return False


def unsafe_reason(node: ast.AST) -> str | None:
    """Why ``node`` (a query argument) is text built by formatting, or None when it is not."""
    if isinstance(node, ast.JoinedStr):
        return "f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_text(node.left):
        return "%-formatted string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        if _is_text(node.left) or _is_text(node.right):
            return "string concatenation"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and _is_text(node.func.value)
    ):
        return ".format()-ed string"
    return None


def _sink_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in SINKS:
        return func.attr
    # sql.SQL(text) and SQL(text) do no quoting: their text must be a constant too
    if isinstance(func, ast.Attribute) and func.attr == "SQL":
        return "sql.SQL"
    if isinstance(func, ast.Name) and func.id == "SQL":
        return "SQL"
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.scopes: list[dict[str, ast.AST]] = [{}]
        self.found: list[str] = []

    def _scoped(self, node: ast.AST) -> None:
        self.scopes.append({})
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.scopes[-1][target.id] = node.value
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        sink = _sink_name(node)
        if sink and node.args:
            arg = node.args[0]
            reason = unsafe_reason(arg)
            if reason is None and isinstance(arg, ast.Name):
                assigned = self.scopes[-1].get(arg.id)
                if assigned is not None and (inner := unsafe_reason(assigned)):
                    reason = f"{inner} (via variable {arg.id!r})"
            if reason:
                self.found.append(f"{self.path}:{node.lineno}: {sink}() gets a {reason}")
        self.generic_visit(node)


def scan_source(source: str, path: str = "<string>") -> list[str]:
    scanner = _Scanner(path)
    scanner.visit(ast.parse(source, filename=path))
    return scanner.found


def project_files() -> list[Path]:
    return sorted(
        p for d in PROJECT_DIRS for p in (REPO / d).rglob("*.py") if "__pycache__" not in p.parts
    )


def test_project_builds_no_sql_by_string_formatting():
    files = project_files()
    assert len(files) > 20, "the scan must see the project's modules"
    found = [f for p in files for f in scan_source(p.read_text(), str(p.relative_to(REPO)))]
    assert found == [], "unsafe SQL construction:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "code",
    [
        'conn.execute(f"SELECT * FROM {table}")',
        'conn.execute("SELECT * FROM %s" % table)',
        'conn.execute("SELECT * FROM {}".format(table))',
        'conn.execute("SELECT * FROM " + table)',
        'conn.execute(prefix + " WHERE id = 1")',
        'cur.executemany(f"INSERT INTO {t} VALUES (%s)", rows)',
        'cur.copy(f"COPY {t} FROM STDIN")',
        'sql.SQL(f"DROP TABLE {name}")',
        'def f(conn, t):\n    q = f"SELECT * FROM {t}"\n    conn.execute(q)',
    ],
)
def test_scanner_flags_formatted_sql(code):
    assert len(scan_source(code)) == 1


@pytest.mark.parametrize(
    "code",
    [
        'conn.execute("SELECT * FROM t WHERE id = %s", (1,))',
        'conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("s", "t")))',
        'conn.execute("SELECT 1"\n             " FROM t")',
        "conn.execute(query, params)",
        'def f(conn):\n    q = sql.SQL("SELECT {}").format(sql.Literal(1))\n    conn.execute(q)',
        'log.info("x %s" % y)',
    ],
)
def test_scanner_accepts_safe_sql(code):
    assert scan_source(code) == []
