"""Every error Libra raises on purpose is a ``LibraError`` with its own stable code."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import Counter

import libra
from libra.errors import LibraError


def _libra_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(libra.__path__, "libra."):
        if module_info.name == "libra.__main__":
            continue  # runs the CLI on import
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__ and not name.startswith("_")):
                found[f"{value.__module__}.{name}"] = value
    return list(found.values())


def test_every_public_exception_is_a_libra_error() -> None:
    outside = [f"{cls.__module__}.{cls.__qualname__}" for cls in _libra_exceptions()
               if not issubclass(cls, LibraError)]
    assert outside == []


def test_no_two_errors_declare_the_same_code() -> None:
    # A subclass may share its parent's code (a finer type, the same meaning for users).
    codes = Counter(cls.code for cls in _libra_exceptions()
                    if issubclass(cls, LibraError) and "code" in vars(cls))
    assert [code for code, count in codes.items() if count > 1] == []
