"""POST /external/actions/precheck: what an action would cost, reserving nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import AccountId, RuntimeDep, json
from contactvault.server.api.precheck_schemas import PrecheckCreate, PrecheckPublic, UnlockParams
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.precheck import ReasonCode, biz_code, over_limit, verdict
from contactvault.server.domain.tasks import MAX_IDS_PER_TASK
from contactvault.server.services import quotes, unlocks

router = APIRouter(prefix="/external/actions", tags=["actions"])
ACTIONS = {"unlock_contact_emails": Channel.EMAIL, "unlock_contact_phones": Channel.PHONE}


def _verdict(action: str, reason: ReasonCode, credits: int, detail: dict[str, Any]) -> dict[str, Any]:
    decided = verdict(reason, credits)
    return {
        "ok": True,
        "action_type": action,
        "allowed": decided.allowed,
        "should_charge": decided.should_charge,
        "credits": decided.credits,
        "reason_code": decided.reason.value,
        "biz_code": biz_code(action, should_charge=decided.should_charge),
        "detail": detail,
    }


@router.post("/precheck", response_model=PrecheckPublic, summary="Precheck an action")
def precheck(rt: RuntimeDep, account_id: AccountId, body: PrecheckCreate) -> Response:
    """Whether the action is allowed and what it would cost; reserves nothing."""
    channel = ACTIONS.get(body.action_type)
    if channel is None:
        return json(_verdict(body.action_type, ReasonCode.UNSUPPORTED_ACTION, 0, {}))
    try:
        params = UnlockParams.model_validate(body.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "params." + ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"Invalid {field}: {first['msg']}", {"field": field}) from None
    if over_limit(len(params.personnel_ids)):
        return json(
            _verdict(
                body.action_type,
                ReasonCode.EXCEED_MAX_UNLOCK_LIMIT,
                0,
                {"requested_count": len(params.personnel_ids), "max": MAX_IDS_PER_TASK},
            )
        )
    result = unlocks.precheck(rt, account_id, channel, params.event_id, params.personnel_ids)
    answer = _verdict(body.action_type, ReasonCode(result.reason_code), result.credits, mappers.precheck_detail(result))
    if body.create_quote:
        answer.update(mappers.quote(quotes.create(rt, account_id, channel, result)))
    return json(answer)
