"""integration_api: the EHR backend's API (``ANY /api/{proxy+}``, ``AWS_IAM``), routed and validated by
Powertools' event handler, which also makes the OpenAPI document published in
``docs/integration-api.openapi.json`` (``python -m functions.integration_api.app`` prints it).

The tenant of every call is the caller's IAM identity (``requestContext.authorizer.iam``), never the
body; the use cases are ``calsync.services.connect.api``. This module maps their errors to statuses.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ValidationError

from calsync.core.errors import ConfigurationError
from calsync.core.observability import logger
from calsync.domain.model import Integration
from calsync.services.connect import api
from calsync.services.connect.api_models import (
    ConnectLink,
    ConnectLinkRequest,
    DisconnectRequest,
    DisconnectResult,
    ErrorBody,
    FeedCreated,
    FeedRequest,
    FeedUrl,
    FeedUrlInfo,
    FeedUrlList,
    IntegrationList,
    IntegrationView,
    ResumeRequest,
    SettingsChange,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

PREFIX = "/api/v1"
TITLE, VERSION = "calsync integration API", "1.0.0"
ERRORS: dict[int, OpenAPIResponse] = {
    503: {"description": "This deployment is not configured for this call",
          "content": {"application/json": {"model": ErrorBody}}},
    403: {"description": "The caller names no tenant here", "content": {"application/json": {"model": ErrorBody}}},
    404: {"description": "No such resource in the caller's tenant",
          "content": {"application/json": {"model": ErrorBody}}},
    409: {"description": "Not allowed in the integration's state",
          "content": {"application/json": {"model": ErrorBody}}},
}



def answers(status: int, description: str, model: type[BaseModel] | None = None) -> dict[int, OpenAPIResponse]:
    """The documented answers of a route: its success, and the errors every route may give."""
    success: OpenAPIResponse = {"description": description}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    return {status: success, **ERRORS}


app = APIGatewayHttpResolver(enable_validation=True)
# ids as calsync makes them; characters a URL would percent-encode are not among them
IntegrationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", max_length=128)]
FeedId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", max_length=128)]
TokenId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def tenant() -> str:
    """The caller's tenant (a CallerError otherwise, answered 403)."""
    event = app.current_event.raw_event
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam")
    arn = getattr(app.lambda_context, "invoked_function_arn", "") or ""
    return api.tenant_of(iam, arn.split(":")[4] if arn.count(":") >= 5 else None)


def _view(integration: Integration) -> IntegrationView:
    return IntegrationView.model_validate(api.view(integration))


# -- connect links and integrations -----------------------------------------------------------------------


@app.post(f"{PREFIX}/connect-links", status_code=201, responses=answers(201, "The link", ConnectLink), tags=["connect"],
          summary="A single-use, signed connect link for a clinician (15 minutes)")
def create_connect_link(request: Annotated[ConnectLinkRequest, Body()]) -> ConnectLink:
    issued = api.connect_link(tenant(), request.practitioner_id, request.reconnect_integration_id)
    return ConnectLink(url=issued.url, expires_at=issued.expires_at)


@app.get(f"{PREFIX}/integrations", responses=answers(200, "The integrations", IntegrationList), tags=["integrations"],
         summary="A clinician's (or a practice's) integrations with status, last synced and last error")
def list_integrations(
        practitioner_id: Annotated[str | None, Query(max_length=128)] = None,
        practice_id: Annotated[str | None, Query(max_length=128)] = None) -> IntegrationList:
    found = api.list_integrations(tenant(), practitioner_id, practice_id)
    return IntegrationList(integrations=[_view(i) for i in found])


@app.get(f"{PREFIX}/integrations/<integration_id>",
         responses=answers(200, "The integration", IntegrationView), tags=["integrations"],
         summary="One integration")
def get_integration(integration_id: IntegrationId) -> IntegrationView:
    return _view(api.owned(tenant(), integration_id))


@app.patch(f"{PREFIX}/integrations/<integration_id>/settings",
           responses=answers(200, "The integration, changed", IntegrationView), tags=["integrations"],
           summary="Change settings (privacy, direction, window, filters, reminders, ...); events already "
                   "pushed are rewritten by the next sweeper run")
def update_settings(integration_id: IntegrationId, change: Annotated[SettingsChange, Body()]) -> IntegrationView:
    changes = change.model_dump(mode="json", exclude_unset=True)
    return _view(api.update_settings(tenant(), integration_id, changes))


@app.post(f"{PREFIX}/integrations/<integration_id>/pause",
          responses=answers(200, "Paused", IntegrationView), tags=["integrations"],
          summary="Stop writing to the calendar")
def pause(integration_id: IntegrationId) -> IntegrationView:
    return _view(api.pause(tenant(), integration_id))


@app.post(f"{PREFIX}/integrations/<integration_id>/resume",
          responses=answers(200, "Resumed", IntegrationView), tags=["integrations"],
          summary="Write again: parked work is replayed; with backfill the whole window is brought up to date")
def resume(integration_id: IntegrationId, request: Annotated[ResumeRequest, Body()]) -> IntegrationView:
    return _view(api.resume(tenant(), integration_id, request.backfill))


@app.post(f"{PREFIX}/integrations/<integration_id>/disconnect",
          responses=answers(200, "Disconnected", DisconnectResult), tags=["integrations"],
          summary="Stop, revoke the grant (Google) or drop the tokens (Microsoft), stop channels, retire the "
                  "secret; optionally remove every event calsync wrote")
def disconnect(integration_id: IntegrationId, request: Annotated[DisconnectRequest, Body()]) -> DisconnectResult:
    caller = tenant()
    done = api.disconnect_integration(caller, integration_id, request.remove_events)
    return DisconnectResult(integration=_view(api.owned(caller, integration_id)), revoked=done.revoked,
                            events_removed=done.events_removed, events_left=done.events_left,
                            secret_retired=done.secret_retired)


# -- feeds ------------------------------------------------------------------------------------------------


@app.post(f"{PREFIX}/feeds", status_code=201,
          responses=answers(201, "The feed and its first URL", FeedCreated), tags=["feeds"],
          summary="A private ICS feed for a clinician or a practice; its first URL is shown once")
def create_feed(request: Annotated[FeedRequest, Body()]) -> FeedCreated:
    feed, issued = api.create_feed(tenant(), request.practitioner_id, request.practice_id,
                                   frozenset(request.locations), request.privacy, request.window, request.name)
    return FeedCreated(feed=_view(feed), url=FeedUrl(token_id=issued.token_id, url=issued.url))


@app.get(f"{PREFIX}/feeds/<feed_id>/urls",
         responses=answers(200, "The URLs", FeedUrlList), tags=["feeds"], summary="A feed's URLs (ids only)")
def feed_urls(feed_id: FeedId) -> FeedUrlList:
    return FeedUrlList(urls=[FeedUrlInfo(token_id=t.token_id, created_at=t.created_at, revoked_at=t.revoked_at)
                             for t in api.feed_urls(tenant(), feed_id)])


@app.post(f"{PREFIX}/feeds/<feed_id>/urls", status_code=201,
          responses=answers(201, "The new URL", FeedUrl), tags=["feeds"],
          summary="One more URL for the feed (another device or person)")
def add_feed_url(feed_id: FeedId) -> FeedUrl:
    issued = api.add_feed_url(tenant(), feed_id)
    return FeedUrl(token_id=issued.token_id, url=issued.url)


@app.post(f"{PREFIX}/feeds/<feed_id>/urls/<token_id>/rotate", status_code=201,
          responses=answers(201, "The new URL", FeedUrl), tags=["feeds"],
          summary="Replace a URL that leaked: the new one is issued, then the old one revoked")
def rotate_feed_url(feed_id: FeedId, token_id: TokenId) -> FeedUrl:
    issued = api.rotate_feed_url(tenant(), feed_id, token_id)
    return FeedUrl(token_id=issued.token_id, url=issued.url)


@app.delete(f"{PREFIX}/feeds/<feed_id>/urls/<token_id>", status_code=204,
            responses=answers(204, "Revoked"), tags=["feeds"],
            summary="Revoke one URL (it answers 410 from then on)")
def revoke_feed_url(feed_id: FeedId, token_id: TokenId) -> None:
    api.revoke_feed_url(tenant(), feed_id, token_id)


# -- errors -----------------------------------------------------------------------------------------------


def _error(status: int, message: str) -> Response[str]:
    return Response(status, content_types.APPLICATION_JSON, json.dumps({"message": message}))


@app.exception_handler(api.CallerError)
def caller_error(error: api.CallerError) -> Response[str]:
    return _error(403, "the caller's identity names no tenant of this deployment")


@app.exception_handler(api.NotFoundError)
def not_found_error(error: api.NotFoundError) -> Response[str]:
    return _error(404, str(error))


@app.exception_handler(api.ConflictError)
def conflict_error(error: api.ConflictError) -> Response[str]:
    return _error(409, error.reason)


def _invalid(problems: list[Any], prefix: tuple[str, ...] = ()) -> Response[str]:
    """The documented 422 (``HTTPValidationError``): where and why, never the value sent."""
    detail = [{"loc": [*prefix, *(str(part) for part in problem.get("loc", ()))],
               "type": str(problem.get("type", "invalid")),
               "msg": str(problem.get("msg") or problem.get("type") or "invalid")} for problem in problems]
    return Response(422, content_types.APPLICATION_JSON, json.dumps({"detail": detail}))


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[str]:
    return _invalid(list(error.errors()))


@app.exception_handler(ValidationError)
def invalid_settings(error: ValidationError) -> Response[str]:
    """Settings that are each valid but not together (checked against the whole integration)."""
    return _invalid(list(error.errors(include_input=False)), ("body",))


@app.exception_handler(ConfigurationError)
def not_configured(error: ConfigurationError) -> Response[str]:
    logger.error("integration API not configured", extra={"error": type(error).__name__})
    return _error(503, "this deployment is not configured for this call")


@app.not_found
def no_route(_missing: Exception) -> Response[str]:
    return _error(404, "no such route")


def _refused_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """This API speaks JSON only: a body of another type is refused (415), and one that is not UTF-8 JSON
    (422), before anything parses it."""
    body = event.get("body")
    if not body:
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        return {"statusCode": 415, "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps({"message": "send the body as application/json"})}
    try:
        json.loads(base64.b64decode(body) if event.get("isBase64Encoded") else body)
    except (ValueError, binascii.Error):
        detail = [{"loc": ["body"], "type": "json_invalid", "msg": "the body is not JSON"}]
        return {"statusCode": 422, "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps({"detail": detail})}
    return None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _refused_body(event) or app.resolve(event, context)


def openapi_document() -> str:
    """The OpenAPI document of this API, as published in the repository."""
    schema = app.get_openapi_json_schema(title=TITLE, version=VERSION,
                                         description="The EHR backend's API: AWS_IAM (SigV4, service "
                                         "execute-api); the tenant is the caller's identity.")
    return json.dumps(json.loads(schema), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(openapi_document(), end="")
