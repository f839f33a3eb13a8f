"""The published OpenAPI document, corrected to say what the API really does.

FastAPI's generated document would mislead a client generated from it: it promises a 422 ``HTTPValidationError``
that is never sent (validation failures are 400 with the error body), it strips every ``null`` from the document,
examples included (while our nullable fields are always present), it knows nothing of the bearer key (the
dependency reads the header by hand, to give one identical 401 for every failure), nor of the headers and the
statuses that the middleware adds (413, 429, ``X-Request-ID``, the rate-limit fields). The error statuses of each
operation are listed here, in one table, from what the server sends.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contactvault.server.api import error_schemas, precheck_schemas, schemas

SECURITY_SCHEME = "bearerAuth"
OPERATOR_SCHEME = "operatorKey"
OPERATOR_PREFIX = "/admin/v1/"
OPERATOR_TAG = {
    "name": "operator",
    "description": "Extension: the operator API (docs/operations.md), for operator keys (`cvop_...`) only; each "
    "operation needs the scope named in its `x-operator-scope` (accounts, credits or privacy). A customer key "
    "is refused with 401.",
}
COMPONENTS = "#/components/schemas/{model}"
VALIDATION_REF = "#/components/schemas/HTTPValidationError"
# Each status: what it means, and the body's schema.
ERRORS: dict[str, tuple[str, type[schemas.ErrorFields]]] = {
    "400": ("Invalid request; `details.field` names the offending parameter.", error_schemas.InvalidRequestError),
    "401": (
        "Missing, malformed, unknown or revoked API key (one identical body for all of them; on the operator API, "
        "any key but a valid operator key).",
        schemas.ErrorPublic,
    ),
    "402": (
        "Insufficient credits: `details` says how many are `required` and `available`. Nothing was created or held.",
        error_schemas.InsufficientCreditsError,
    ),
    "403": (
        "`INSUFFICIENT_SCOPE` (operator API): the operator key lacks this operation's scope (`details.scope`).",
        schemas.ErrorPublic,
    ),
    "404": ("Not found (another account's object answers the same).", schemas.ErrorPublic),
    "409": (
        "`IDEMPOTENCY_KEY_IN_USE`: a request with this Idempotency-Key (or quote) is still executing; retry "
        "shortly. `PRICE_CHANGED` (extension: quotes): the ids or credits are no longer those of `quote_id`; "
        "`details` says what changed. Nothing was created or held.",
        error_schemas.SubmitConflictError,
    ),
    "413": (
        "The body is larger than the server accepts (`details.field` is `body`).",
        error_schemas.InvalidRequestError,
    ),
    "422": (
        "`IDEMPOTENCY_KEY_REUSED`: this Idempotency-Key was used with a different body.",
        error_schemas.IdempotencyKeyReusedError,
    ),
    "429": ("Rate limit exceeded; `Retry-After` says when to retry. Nothing was created.", schemas.ErrorPublic),
    "503": ("Temporarily unavailable; retry shortly (after `Retry-After` seconds when sent).", schemas.ErrorPublic),
    "500": ("Internal error (a defect): the error body, with the trace id to report.", schemas.ErrorPublic),
}
# What any /external operation can answer: a bad parameter or query string, a bad key, a rate limit, a defect,
# the database being down.
COMMON_ERRORS = ("400", "401", "429", "500", "503")
SUBMIT_ERRORS = ("402", "404", "409", "413", "422")
OPERATOR_POST = ("403", "409", "413", "422")
OPERATION_ERRORS: dict[tuple[str, str], tuple[str, ...]] = {
    ("get", "/external/credits/balance"): (),
    ("get", "/external/credits/transactions"): (),
    ("get", "/external/events/list"): (),
    ("get", "/external/events/{event_id}"): ("404",),
    ("get", "/external/personnel/list"): ("404",),
    ("get", "/external/personnel/profile"): ("404",),
    ("get", "/external/contacts/search"): (),
    ("post", "/external/contacts/unlock"): SUBMIT_ERRORS,
    ("post", "/external/contacts/unlock-phone"): SUBMIT_ERRORS,
    ("get", "/external/contacts/unlock-tasks/{task_id}"): ("404",),
    ("get", "/external/contacts/unlock-phone-tasks/{task_id}"): ("404",),
    ("post", "/external/actions/precheck"): ("413",),
    ("get", "/external/contacts/unlocked"): (),
    ("get", "/external/contacts/erased"): (),
    # Extension: webhooks (docs/webhooks.md).
    ("post", "/external/webhooks"): (),
    ("get", "/external/webhooks"): (),
    ("get", "/external/webhooks/{endpoint_id}"): ("404",),
    ("patch", "/external/webhooks/{endpoint_id}"): ("404",),
    ("delete", "/external/webhooks/{endpoint_id}"): ("404",),
    ("post", "/external/webhooks/{endpoint_id}/rotate-secret"): ("404",),
    ("post", "/external/webhooks/{endpoint_id}/test"): ("404",),
    ("get", "/external/webhooks/{endpoint_id}/attempts"): ("404",),
    ("post", "/external/webhooks/{endpoint_id}/messages/{message_id}/resend"): ("404",),
    ("post", "/external/webhooks/{endpoint_id}/recover"): ("404",),
    # Extension: the operator API (docs/operations.md): 403 for a key without the scope; an unknown account or key
    # 404; every POST takes an Idempotency-Key (409 while the first runs, 422 for another body) and a body.
    ("post", "/admin/v1/accounts"): OPERATOR_POST,
    ("get", "/admin/v1/keys"): ("403", "404"),
    ("post", "/admin/v1/accounts/{account_id}/keys"): (*OPERATOR_POST, "404"),
    ("post", "/admin/v1/keys/{key_id}/revoke"): (*OPERATOR_POST, "404"),
    ("post", "/admin/v1/keys/{key_id}/rotate"): (*OPERATOR_POST, "404"),
    ("post", "/admin/v1/keys/{key_id}/guardrails"): (*OPERATOR_POST, "404"),
    ("post", "/admin/v1/accounts/{account_id}/credits/grants"): (*OPERATOR_POST, "404"),
    ("get", "/admin/v1/accounts/{account_id}/credits/balance"): ("403", "404"),
    ("post", "/admin/v1/suppressions"): OPERATOR_POST,
    ("post", "/admin/v1/suppressions/remove"): OPERATOR_POST,
    ("post", "/admin/v1/erasures"): OPERATOR_POST,
}
# Where the operator API answers a status with other keys than the external API.
OPERATOR_ERRORS: dict[str, tuple[str, type[schemas.ErrorFields]]] = {
    "409": (
        "`IDEMPOTENCY_KEY_IN_USE`: a request with this Idempotency-Key is still executing; retry shortly. "
        "`STATE_CONFLICT`: the key is revoked, expired or already being rotated. Nothing was changed.",
        schemas.ErrorPublic,
    ),
}
INTEGER = {"type": "integer", "minimum": 0}
TEXT = {"type": "string"}
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": {"description": "Requests allowed per window for this key.", "schema": INTEGER},
    "X-RateLimit-Remaining": {"description": "Requests left in this window for this key.", "schema": INTEGER},
    "X-RateLimit-Reset": {"description": "When the window resets (Unix seconds).", "schema": INTEGER},
    "RateLimit-Policy": {"description": "The limits (draft-ietf-httpapi-ratelimit-headers-10).", "schema": TEXT},
    "RateLimit": {"description": "What is left of each limit (same draft).", "schema": TEXT},
}
REQUEST_ID = {
    "description": "The trace id of this request (the caller's own `X-Request-ID` when it sent a sane one); "
    "the same as `traceId` in an error body.",
    "required": True,
    "schema": TEXT,
}
RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": INTEGER}
ETAG = {"description": "The task's version; send it back in `If-None-Match` to get 304 when unchanged.", "schema": TEXT}
REPLAYED = {
    "description": "Present when this is the stored answer to an earlier request with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}
# Printable ASCII, as the server checks it (without leading or trailing spaces, which HTTP strips from a value).
IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~](?:[ -~]*[!-~])?$"}
# The server refuses a query string holding NUL (PostgreSQL text cannot store it).
NO_NUL = "^[^\\u0000]*$"
# ``since`` (the /contacts/unlocked and /erased routes): the ISO 8601 forms that always parse, a date with an
# optional time and offset. The server accepts every form Python's ``datetime.fromisoformat`` reads; the document
# promises only these, so that a value it calls valid is never refused (hence days by month, no 29 February, and
# no year 0000, which Python's calendar lacks).
SINCE = (
    "^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-"
    "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
    "(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$"
)
QUERY_PATTERNS = {"since": SINCE, "until": SINCE}
REQUEST_ID_PARAMETER = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your trace id for this request (letters, digits and `._:-`, at most 64), echoed back; "
    "any other value is replaced by one of ours.",
    "schema": TEXT,
}
ERROR_MODELS: list[type[BaseModel]] = [
    schemas.ErrorPublic,
    error_schemas.InvalidRequestError,
    error_schemas.InsufficientCreditsError,
    error_schemas.IdempotencyKeyInUseError,
    error_schemas.SubmitConflictError,
    error_schemas.IdempotencyKeyReusedError,
    precheck_schemas.UnlockPrecheckCreate,
    precheck_schemas.OtherPrecheckCreate,
]
PRECHECK = ("post", "/external/actions/precheck")


def install(app: FastAPI) -> None:
    """Serve the corrected document at /openapi.json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI; correcting it again is a no-op
        correct(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def correct(document: dict[str, Any]) -> None:
    """Document the real answers, headers and inputs, and put back the examples' nulls."""
    document["servers"] = [{"url": "/", "description": "This server (paths are relative to this document's origin)."}]
    components = document.setdefault("components", {})
    found = components.setdefault("schemas", {})
    _, defs = models_json_schema([(m, "validation") for m in ERROR_MODELS], ref_template=COMPONENTS)
    found.update(defs.get("$defs", {}))
    for name, schema in found.items():
        model = next((getattr(m, name) for m in (schemas, error_schemas, precheck_schemas) if hasattr(m, name)), None)
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
    components["securitySchemes"][OPERATOR_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An operator key, `cvop_<8 hex>_<secret>` (`contactvault admin operator-key create`).",
    }
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(("/external/", OPERATOR_PREFIX)):
            continue
        for method, operation in operations.items():
            _correct_operation(method, path, operation)
    if any(p.startswith(OPERATOR_PREFIX) for p in document.get("paths", {})):
        document["tags"] = [t for t in document.get("tags", []) if t.get("name") != "operator"] + [OPERATOR_TAG]
    _type_the_precheck_request(document)
    if VALIDATION_REF.encode() not in orjson.dumps(document.get("paths", {})):
        found.pop("HTTPValidationError", None)
        found.pop("ValidationError", None)


def _correct_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in [s for s in responses if s.startswith(("4", "5"))]:
        del responses[status]  # rebuilt below from the table: FastAPI knows only what the routes declared
    operator = path.startswith(OPERATOR_PREFIX)
    for status in sorted((*COMMON_ERRORS, *OPERATION_ERRORS.get((method, path), ()))):
        description, model = OPERATOR_ERRORS.get(status, ERRORS[status]) if operator else ERRORS[status]
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": COMPONENTS.format(model=model.__name__)}}},
        }
    for status, response in responses.items():
        response["headers"] = _response_headers(method, path, status)
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    for parameter in parameters:
        if parameter["in"] == "query":
            _correct_query_schema(parameter["schema"], QUERY_PATTERNS.get(parameter["name"], NO_NUL))
        elif parameter["name"] == "Idempotency-Key":
            parameter["schema"] = IDEMPOTENCY_KEY
            parameter["description"] = "Extension: replay protection for 24 h (1-255 printable ASCII characters)."
    if not any(p["name"] == "X-Request-ID" for p in parameters):
        parameters.append(dict(REQUEST_ID_PARAMETER))
    operation["security"] = [{OPERATOR_SCHEME if operator else SECURITY_SCHEME: []}]


def _response_headers(method: str, path: str, status: str) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-ID": REQUEST_ID}
    if status != "401":
        headers.update(RATE_LIMIT_HEADERS)  # every authenticated answer, when rate limiting is on
    if status in ("429", "503"):
        headers["Retry-After"] = {**RETRY_AFTER, "required": status == "429"}
    if "/unlock-" in path and method == "get" and status in ("200", "304"):
        headers["ETag"] = {**ETAG, "required": True}
    if method == "post" and path.startswith(("/external/contacts/unlock", OPERATOR_PREFIX)):
        headers["Idempotent-Replayed"] = REPLAYED
    return headers


def _correct_query_schema(schema: dict[str, Any], pattern: str) -> None:
    """Strings get ``pattern`` (at least: no NUL); a ``format`` set beside ``anyOf`` (FastAPI puts it there) moves
    into the string."""
    moved = schema.pop("format", None) if "anyOf" in schema else None
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch.setdefault("pattern", pattern)
            if moved:
                branch["format"] = moved


def _type_the_precheck_request(document: dict[str, Any]) -> None:
    """The unlock actions' params typed; any other action (answered 200 ``unsupported_action``) left open."""
    operation = document.get("paths", {}).get(PRECHECK[1], {}).get(PRECHECK[0])
    if operation is None:
        return
    variants: list[type[BaseModel]] = [precheck_schemas.UnlockPrecheckCreate, precheck_schemas.OtherPrecheckCreate]
    schema = {"oneOf": [{"$ref": COMPONENTS.format(model=m.__name__)} for m in variants]}
    operation["requestBody"]["content"]["application/json"]["schema"] = schema
    document["components"]["schemas"].pop("PrecheckCreate", None)
