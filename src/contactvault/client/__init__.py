"""The contactvault SDK: ``Client``/``AsyncClient``, typed models, errors and the resumable unlock workflow.

Everything public is re-exported here (and again from ``contactvault``); the underscore modules are private.
``config`` and ``state`` are public modules because the CLI uses them directly.
"""

from __future__ import annotations

from contactvault.webhooks import WebhookVerificationError, verify_webhook

from ._async_client import AsyncClient
from ._client import Client
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    ContactVaultError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PriceChangedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    StateError,
    TaskTimeoutError,
)
from ._models import (
    Channel,
    ContactItem,
    CreditBalance,
    ErasedContact,
    EventDetail,
    EventItem,
    LedgerEntry,
    LedgerPage,
    Page,
    PrecheckDetail,
    PrecheckResult,
    TaskCounts,
    UnlockedContact,
    UnlockSubmission,
    UnlockTask,
    UnlockTaskItem,
    Verification,
)
from ._results import (
    DeliveredContact,
    FailedContact,
    Reconciliation,
    SkippedContact,
    UnlockEstimate,
    UnlockProgress,
    UnlockResult,
)
from ._retry import RetryNotice, RetryPolicy
from .config import ClientConfig, load_config, save_config
from .state import StateStore

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "Channel",
    "Client",
    "ClientConfig",
    "ConfigError",
    "ConflictError",
    "ContactItem",
    "ContactVaultError",
    "CreditBalance",
    "DeliveredContact",
    "ErasedContact",
    "EventDetail",
    "EventItem",
    "FailedContact",
    "IdempotencyKeyInUseError",
    "IdempotencyKeyReusedError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "LedgerEntry",
    "LedgerPage",
    "NotFoundError",
    "Page",
    "PrecheckDetail",
    "PrecheckResult",
    "PriceChangedError",
    "RateLimitError",
    "Reconciliation",
    "RetryNotice",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "SkippedContact",
    "StateError",
    "StateStore",
    "TaskCounts",
    "TaskTimeoutError",
    "UnlockEstimate",
    "UnlockProgress",
    "UnlockResult",
    "UnlockSubmission",
    "UnlockTask",
    "UnlockTaskItem",
    "UnlockedContact",
    "Verification",
    "WebhookVerificationError",
    "load_config",
    "save_config",
    "verify_webhook",
]

# Public names should say they come from here, not from the private module that defines them (as httpx does).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(__name__ + "._"):
        _obj.__module__ = __name__
del _name, _obj
