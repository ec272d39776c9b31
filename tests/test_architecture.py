"""The rooms and their arrows (docs/architecture.md): a test that fails on an import between
top-level folders of src/marketmsg that the table below does not allow, on any cycle, and on an
HTTP edge importing another.

A new arrow is a design decision: add it to MAY_IMPORT (and to the picture in docs/architecture.md)
in the same change, saying why; an arrow that is gone must leave the table too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "marketmsg"

# Kits: small modules and folders every room may use; they import none of the rooms.
KITS = {"settings", "rows", "bulk", "observability", "processes", "bilingual", "admin_base", "logs"}

# Each room and the rooms it may import (kits aside). Read from the bottom up: the lower rooms
# know nothing of the higher ones.
MAY_IMPORT: dict[str, set[str]] = {
    # pure pieces: mail parsing and scrubbing, the blob store, the rate limiter
    "mail": set(),
    "blobs": set(),
    "limits": set(),
    # the marketplace's records and rules
    "accounts": {"limits"},
    "orders": {"accounts"},
    "policy": {"orders"},
    "webhooks": {"policy"},
    "addresses": {"accounts", "orders", "webhooks"},
    "delivery": {"addresses"},
    "metrics": {"accounts", "policy"},
    # the one way in for every message
    "conversations": {
        "accounts",
        "addresses",
        "blobs",
        "delivery",
        "mail",
        "metrics",
        "orders",
        "policy",
        "webhooks",
    },
    # the mail edge (in, out, the worker), sender authentication, sign-in, retention
    "mailauth": set(),
    "relay": {
        "accounts",
        "addresses",
        "conversations",
        "delivery",
        "mail",
        "mailauth",
        "orders",
        "policy",
        "webhooks",
    },
    "sso": {"accounts"},
    "retention": {"accounts", "addresses", "blobs", "conversations", "delivery", "limits", "orders", "sso"},
    # the edges, one per audience
    "gateway": {"addresses", "blobs", "conversations", "limits", "mail", "mailauth", "relay"},
    "apikit": {"accounts", "limits"},
    "api": {"accounts", "addresses", "apikit", "blobs", "conversations", "delivery", "metrics", "orders"},
    "integration": {"accounts", "addresses", "apikit", "conversations", "orders", "retention", "webhooks"},
    "web": {
        "accounts",
        "addresses",
        "blobs",
        "conversations",
        "delivery",
        "integration",
        "metrics",
        "orders",
        "policy",
        "sso",
        "wsgi",
    },
    "console": {"accounts", "addresses", "conversations", "delivery", "metrics", "orders", "web", "webhooks"},
    "ops": {"mail"},
    "demo": {"accounts", "addresses", "conversations", "delivery", "integration", "metrics", "orders"},
    "urls": {"api", "integration"},
}
# The HTTP edges and what they must never import of each other.
EDGES_APART = {
    ("web", "api"),
    ("api", "web"),
    ("sso", "web"),
    ("web", "console"),
    ("api", "integration"),
    ("integration", "api"),
    ("api", "console"),
    ("integration", "web"),
}


def folder_imports(root: Path = SOURCE) -> dict[str, set[str]]:
    """Top-level folder (or module) → the other top-level ones it imports (migrations left out)."""
    arrows: dict[str, set[str]] = defaultdict(set)
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if "migrations" in relative.parts:
            continue
        source = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "marketmsg":
                    names = [f"marketmsg.{alias.name}" for alias in node.names]
                elif node.module.startswith("marketmsg."):
                    names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("marketmsg.")]
            for name in names:
                target = name.split(".")[1]
                if target != source:
                    arrows[source].add(target)
    return arrows


def cycles(arrows: dict[str, set[str]]) -> set[frozenset[str]]:
    """Every pair of folders that reach each other (directly or through others)."""

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for following in arrows.get(todo.pop(), ()):
                if following not in seen:
                    seen.add(following)
                    todo.append(following)
        return seen

    reachable = {folder: reach(folder) for folder in list(arrows)}
    return {
        frozenset({a, b}) for a in reachable for b in reachable[a] if a != b and a in reachable.get(b, set())
    }


def test_the_cycle_finder_finds_direct_and_indirect_cycles():
    assert cycles({"a": {"b"}, "b": {"a"}}) == {frozenset({"a", "b"})}
    assert frozenset({"a", "c"}) in cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    assert cycles({"a": {"b"}, "b": {"c"}}) == set()


def test_no_folder_cycle():
    found = cycles(folder_imports())
    assert not found, f"import cycles between folders: {sorted(sorted(c) for c in found)}"


def test_every_arrow_between_rooms_is_in_the_table_and_every_arrow_in_the_table_exists():
    arrows = folder_imports()
    unknown = sorted(set(arrows) - set(MAY_IMPORT) - KITS)
    assert not unknown, f"folders missing from MAY_IMPORT: {unknown}"
    kits_leaning = sorted(f"{k} → {t}" for k in KITS for t in arrows.get(k, set()) - KITS)
    assert not kits_leaning, f"a kit imports a room: {kits_leaning}"
    extra = sorted(
        f"{a} → {b}" for a, found in arrows.items() if a in MAY_IMPORT for b in found - KITS - MAY_IMPORT[a]
    )
    assert not extra, f"arrows the table does not allow (add them with a reason, or take them out): {extra}"
    gone = sorted(f"{a} → {b}" for a, allowed in MAY_IMPORT.items() for b in allowed - arrows.get(a, set()))
    assert not gone, f"arrows in the table that no import makes (remove them): {gone}"


def test_the_table_itself_has_no_cycle():
    assert not cycles({room: set(allowed) for room, allowed in MAY_IMPORT.items()})


def test_the_http_edges_do_not_lean_on_each_other():
    arrows = folder_imports()
    leaning = sorted(f"{a} → {b}" for a, b in EDGES_APART if b in arrows.get(a, set()))
    assert not leaning, f"an HTTP edge imports another: {leaning}"


def test_the_table_in_docs_architecture_is_this_table():
    page = (SOURCE.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    documented: dict[str, set[str]] = {}
    for line in page.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in MAY_IMPORT:
            documented[cells[0]] = set() if cells[1] == "—" else set(cells[1].split(", "))
    assert documented == MAY_IMPORT


HAND_WRITTEN = {"fetchall", "execute", "insert", "save_new", "save_new_unless_clash"}


def test_each_piece_of_hand_written_sql_says_what_it_buys():
    """Every call of the hand-written row helpers (marketmsg.rows) sits in a function that says,
    in a ``# SQL:`` line before the call, why it is not the ORM (ADR 24)."""
    silent = []
    for path in SOURCE.rglob("*.py"):
        if path.name == "rows.py" or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        nodes = list(ast.walk(ast.parse(text)))
        functions = [n for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for node in nodes:
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in HAND_WRITTEN
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "rows"
            ):
                continue
            around = [f for f in functions if f.lineno <= node.lineno <= (f.end_lineno or f.lineno)]
            start = max((f.lineno for f in around), default=max(1, node.lineno - 5))
            if not any("# SQL:" in line for line in lines[start - 1 : node.lineno]):
                silent.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert not silent, f"hand-written SQL without a '# SQL:' line saying what it buys: {silent}"
