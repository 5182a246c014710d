"""docs/reliability.md defines the reliability suite by naming tests: every name must still match a test, or the
suite would shrink silently when a test is renamed."""

from __future__ import annotations

import ast

from conftest import RELIABILITY_PAGE, reliability_suite

REPO = RELIABILITY_PAGE.parents[1]


def test_the_page_names_the_suite():
    assert len(reliability_suite()) >= 15, sorted(reliability_suite())


def test_every_test_the_page_names_exists():
    missing = []
    for path, name in sorted(reliability_suite()):
        source = REPO / path
        if not source.is_file():
            missing.append(path)
            continue
        functions = {
            node.name
            for node in ast.walk(ast.parse(source.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
        if name and name not in functions:
            missing.append(f"{path}::{name}")
    assert missing == [], f"docs/reliability.md names tests that do not exist: {missing}"
