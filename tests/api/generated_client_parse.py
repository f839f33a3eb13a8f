"""Run by ``test_generated_client.py`` in the generator's own virtual environment (not collected by pytest).

Usage: ``python generated_client_parse.py <package dir> <cases.json>``. Each case is a recorded answer with the
operationId it came from and the model names it may parse into; prints a JSON list of failures.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import re
import sys

import httpx


def main() -> None:
    """Parse every recorded answer with the generated client's own response parser."""
    package_dir = pathlib.Path(sys.argv[1])
    sys.path.insert(0, str(package_dir.parent))
    package = package_dir.name
    client_module = importlib.import_module(f"{package}.client")
    client = client_module.Client(base_url="http://testserver", raise_on_unexpected_status=True)
    # Module names are the operationIds in snake case (runs of underscores collapsed).
    modules = {p.stem: f"{package}.api.{p.parent.name}.{p.stem}" for p in package_dir.glob("api/*/*.py")}
    failures = []
    for case in json.loads(pathlib.Path(sys.argv[2]).read_text()):
        label = f"{case['method']} {case['path']} -> {case['status']}"
        module = importlib.import_module(modules[re.sub("_+", "_", case["operationId"]).strip("_")])
        response = httpx.Response(case["status"], content=case["body"].encode(), headers=case["headers"])
        try:
            parsed = module._build_response(client=client, response=response).parsed
        except Exception as exc:
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        name = type(parsed).__name__ if parsed is not None else None
        if name not in case["models"]:
            failures.append(f"{label}: parsed as {name}, expected one of {case['models']}")
    sys.stdout.write(json.dumps(failures))


if __name__ == "__main__":
    main()
