"""The examples in the pure decisions' docstrings are true: each ``>>>`` line is run as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import system.decisions


def _with_examples() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(system.decisions.__path__, "system.decisions."))
    finder = doctest.DocTestFinder()
    return [n for n in names if any(t.examples for t in finder.find(importlib.import_module(n)))]


@pytest.mark.parametrize("name", _with_examples())
def test_docstring_examples_hold(name):
    failed, attempted = doctest.testmod(importlib.import_module(name),
                                        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0
