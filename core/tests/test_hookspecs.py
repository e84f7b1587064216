"""Every hook is prefixed, documented, and exercised by some test (datasette's rule)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from lakeport import hookspecs

HOOKS = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(_, "lakeport_spec")]
REPO = Path(__file__).resolve().parents[2]


def test_there_are_hooks():
    assert len(HOOKS) >= 9


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_prefixed_and_documented(name):
    function = getattr(hookspecs, name)
    assert name.startswith("lakeport_")
    assert function.__doc__ and ".. versionadded::" in function.__doc__


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_implemented_or_called_in_tests(name):
    tests = [p for p in REPO.glob("**/tests/**/*.py") if ".nox" not in p.parts]
    assert any(name in p.read_text() for p in tests), f"no test mentions {name}"
