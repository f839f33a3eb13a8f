"""The published OpenAPI document, corrected to say what the API really does.

FastAPI's generated document would mislead a client generated from it: it promises a 422 ``HTTPValidationError``
that is never sent (validation failures are 400 with the error body), it strips every ``null`` from the document,
examples included (while our nullable fields are always present), and it knows nothing of the bearer key because
the dependency reads the header by hand (to give one identical 401 for every failure).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import BaseModel

from contactvault.server.api import schemas

SECURITY_SCHEME = "bearerAuth"
ERROR_REF = "#/components/schemas/ErrorPublic"
VALIDATION_REF = "#/components/schemas/HTTPValidationError"
# What any /external route can answer besides its own errors: a bad parameter or query string, a bad key, a rate
# limit, the database being down.
COMMON_ERRORS = {
    "400": "Invalid request; `details.field` names the offending parameter.",
    "401": "Missing, malformed, unknown or revoked API key (one identical body for all of them).",
    "429": "Rate limit exceeded; `Retry-After` says when to retry.",
    "503": "Temporarily unavailable; retry shortly.",
}


def install(app: FastAPI) -> None:
    """Serve the corrected document at /openapi.json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI; correcting it again is a no-op
        correct(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def correct(document: dict[str, Any]) -> None:
    """Document the real error answers and the bearer key, and put back the examples' nulls."""
    components = document.setdefault("components", {})
    found = components.setdefault("schemas", {})
    found.setdefault("ErrorPublic", schemas.ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}"))
    for name, schema in found.items():
        model = getattr(schemas, name, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            examples = model.model_json_schema().get("examples")
            if examples:
                schema["examples"] = examples
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key, `sk_<8 hex>_<secret>` (the older `uak_` prefix is accepted too).",
        }
    }
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/external/"):
            continue
        for operation in operations.values():
            _correct_operation(operation)
    if VALIDATION_REF.encode() not in orjson.dumps(document.get("paths", {})):
        found.pop("HTTPValidationError", None)
        found.pop("ValidationError", None)


def _correct_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    unprocessable = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if unprocessable.get("$ref") == VALIDATION_REF:
        del responses["422"]
    for status, description in COMMON_ERRORS.items():
        responses.setdefault(
            status, {"description": description, "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
        )
    operation["security"] = [{SECURITY_SCHEME: []}]
