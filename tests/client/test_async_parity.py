"""AsyncClient keeps step with Client: every public method and resource, the same signature, awaited.

A method added to the sync client (or a parameter added, renamed or re-defaulted) and not to the async one
fails here. Annotations are compared as written, after the sync-to-async renames below.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from contactvault import AsyncClient, Client

# The names that differ on purpose between the two clients: the rest of the surface is the same.
RENAMED_METHODS = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
# Only the async client's own types and the I/O callables may differ in an annotation.
ASYNC_SPELLING = [
    (r"\bIterator\[", "AsyncIterator["),
    (r"\bhttpx\.BaseTransport\b", "httpx.AsyncBaseTransport"),
    (r"\bhttpx\.Client\b", "httpx.AsyncClient"),
    (r"Callable\[\[float\], None\]", "Callable[[float], Awaitable[None]]"),
    (r"\bClient\b", "AsyncClient"),
]
# The sleeper's default: a blocking sleep in one, an awaitable one in the other.
DEFAULTS_THAT_DIFFER = {"sleep"}


def _async_spelling(annotation: object) -> object:
    if not isinstance(annotation, str):
        return annotation
    for pattern, replacement in ASYNC_SPELLING:
        annotation = re.sub(pattern, replacement, annotation)
    return annotation


def _public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    special = {"__init__", *RENAMED_METHODS, *RENAMED_METHODS.values()}
    names = [n for n in dir(cls) if not n.startswith("_") or n in special]
    return {n: getattr(cls, n) for n in names if inspect.isfunction(getattr(cls, n))}


def _resources(client: object) -> dict[str, type]:
    """The resource objects (client.credits, ...): the public attributes of a type defined beside the client."""
    home = type(client).__init__.__module__  # where the class is written (its __module__ is the package)
    return {n: type(v) for n, v in vars(client).items() if not n.startswith("_") and type(v).__module__ == home}


def _pairs() -> Iterator[tuple[str, Callable[..., Any], Callable[..., Any] | None]]:
    """(where, sync method, its async counterpart or None) for the client and each of its resources."""
    sync_client = Client("sk_x", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    async_client = AsyncClient("sk_x", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    try:
        classes: list[tuple[str, type, type]] = [("Client", Client, AsyncClient)]
        async_resources = _resources(async_client)
        for name, cls in _resources(sync_client).items():
            classes.append((f"Client.{name}", cls, async_resources.get(name, type(None))))
    finally:
        sync_client.close()
        asyncio.run(async_client.aclose())
    for where, sync_cls, async_cls in classes:
        async_methods = _public_methods(async_cls)
        for name, method in _public_methods(sync_cls).items():
            yield f"{where}.{name}", method, async_methods.get(RENAMED_METHODS.get(name, name))


PAIRS = list(_pairs())
CALLS = [p for p in PAIRS if not p[0].endswith(".__init__")]


def test_every_resource_of_the_client_exists_on_the_async_client() -> None:
    sync_client = Client("sk_x", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    async_client = AsyncClient("sk_x", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    sync_resources, async_resources = _resources(sync_client), _resources(async_client)
    sync_client.close()
    asyncio.run(async_client.aclose())
    assert len(sync_resources) >= 6
    assert sync_resources.keys() == async_resources.keys()
    assert {name: f"Async{cls.__name__}" for name, cls in sync_resources.items()} == {
        name: cls.__name__ for name, cls in async_resources.items()
    }


@pytest.mark.parametrize(("where", "sync_method", "async_method"), PAIRS, ids=[p[0] for p in PAIRS])
def test_every_public_method_has_an_async_twin_with_the_same_signature(
    where: str, sync_method: Callable[..., Any], async_method: Callable[..., Any] | None
) -> None:
    assert async_method is not None, f"AsyncClient lacks {where}"
    sync_sig, async_sig = inspect.signature(sync_method), inspect.signature(async_method)
    assert list(sync_sig.parameters) == list(async_sig.parameters)
    for name, param in sync_sig.parameters.items():
        twin = async_sig.parameters[name]
        assert twin.kind == param.kind, name
        assert twin.annotation == _async_spelling(param.annotation), name
        if name not in DEFAULTS_THAT_DIFFER:
            assert twin.default == param.default, name
    assert async_sig.return_annotation == _async_spelling(sync_sig.return_annotation)


@pytest.mark.parametrize(("where", "sync_method", "async_method"), CALLS, ids=[p[0] for p in CALLS])
def test_every_async_twin_is_awaited_or_iterated_asynchronously(
    where: str, sync_method: Callable[..., Any], async_method: Callable[..., Any] | None
) -> None:
    assert async_method is not None, f"AsyncClient lacks {where}"
    returns = str(inspect.signature(sync_method).return_annotation)
    if returns.startswith("Iterator["):
        assert inspect.isasyncgenfunction(async_method) or str(
            inspect.signature(async_method).return_annotation
        ).startswith("AsyncIterator["), where
    else:
        assert inspect.iscoroutinefunction(async_method), where
