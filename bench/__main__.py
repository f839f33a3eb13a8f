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


def discover() -> dict[str, ModuleType]:
    """Every benchmark module of this package, by name, in running order."""
    found: list[tuple[int, str, ModuleType]] = []
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"{__package__ or 'bench'}.{info.name}")
        if callable(getattr(module, "main", None)):
            found.append((int(getattr(module, "ORDER", DEFAULT_ORDER)), info.name, module))
    return {name: module for _, name, module in sorted(found, key=lambda f: (f[0], f[1]))}


def run(names: Sequence[str]) -> int:
    """Run the selected benchmarks (all when ``names`` is empty); the process exit status."""
    modules = discover()
    unknown = [n for n in names if n not in modules]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(modules) or 'none'}", file=sys.stderr)
        return 2
    for name in names or list(modules):
        print(f"== bench {name} ==", flush=True)
        started = time.perf_counter()
        entry: Callable[[], object] = modules[name].main
        entry()
        print(f"== bench {name}: {time.perf_counter() - started:.1f} s ==\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
