"""Run the benchmark modules of this folder: ``python -m bench [name ...]``.

Every ``bench/<name>.py`` with a ``main()`` is a benchmark. They run in alphabetical order unless a module sets
``ORDER`` (an int, lower first; default 100). Names given on the command line select modules (exact names, in
that order); an unknown name exits with status 2 and the list of known ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

DEFAULT_ORDER = 100


def available() -> list[str]:
    """The names of the modules of this folder that may be benchmarks (not yet imported)."""
    folder = str(Path(__file__).parent)
    return sorted(i.name for i in pkgutil.iter_modules([folder]) if not i.name.startswith("_") and not i.ispkg)


def discover(names: Sequence[str] = ()) -> dict[str, ModuleType]:
    """The benchmark modules named (all when none are), by name, in running order.

    Only the named modules are imported, so one broken or slow-to-import benchmark never stops another.
    """
    found: list[tuple[int, str, ModuleType]] = []
    for name in names or available():
        module = importlib.import_module(f"{__package__ or 'bench'}.{name}")
        if callable(getattr(module, "main", None)):
            found.append((int(getattr(module, "ORDER", DEFAULT_ORDER)), name, module))
    ordered = found if names else sorted(found, key=lambda f: (f[0], f[1]))
    return {name: module for _, name, module in ordered}


def run(names: Sequence[str]) -> int:
    """Run the selected benchmarks (all when ``names`` is empty); the process exit status."""
    unknown = [n for n in names if n not in available()]
    if unknown:
        known = ", ".join(available()) or "none"
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {known}", file=sys.stderr)
        return 2
    modules = discover(names)
    missing = [n for n in names if n not in modules]
    if missing:
        print(f"not a benchmark (no main()): {', '.join(missing)}", file=sys.stderr)
        return 2
    for name, module in modules.items():
        print(f"== bench {name} ==", flush=True)
        started = time.perf_counter()
        entry: Callable[[], object] = module.main
        entry()
        print(f"== bench {name}: {time.perf_counter() - started:.1f} s ==\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
