"""The rooms' arrows run one way: a test that fails on a new import cycle between top-level
folders of src/marketmsg, and on an HTTP edge importing another (web, api, sso).

Cycles that exist today are listed in KNOWN_CYCLES, to be taken apart (issue 27); the list may
only shrink: a cycle that is gone must leave it, and any other cycle fails the test.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "marketmsg"

KNOWN_CYCLES: set[frozenset[str]] = set()  # none left (issue 27); keep it so
# The HTTP edges and what they must never import of each other.
EDGES_APART = {("web", "api"), ("api", "web"), ("sso", "web")}


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


def test_no_new_folder_cycle_and_no_known_one_left_behind():
    found = cycles(folder_imports())
    new = found - KNOWN_CYCLES
    assert not new, f"new import cycles between folders: {sorted(sorted(c) for c in new)}"
    gone = KNOWN_CYCLES - found
    assert not gone, (
        f"these cycles are gone: remove them from KNOWN_CYCLES: {sorted(sorted(c) for c in gone)}"
    )


def test_the_http_edges_do_not_lean_on_each_other():
    arrows = folder_imports()
    leaning = sorted(f"{a} → {b}" for a, b in EDGES_APART if b in arrows.get(a, set()))
    assert not leaning, f"an HTTP edge imports another: {leaning}"
