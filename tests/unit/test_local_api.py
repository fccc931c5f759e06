"""The local HTTP API routes as template.yaml says and as API Gateway HTTP API (payload 2.0) does, and its
``AWS_IAM`` routes take requests signed with SigV4 by botocore (an independent implementation) and refuse
the rest. Functions here are fakes: only the routing, the event shape and the signature check are tested."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from devstack import sigv4
from devstack.blueprint import Blueprint, FunctionSpec
from devstack.cfn_template import load_template
from devstack.functions import LocalFunction
from devstack.local_api import LocalApi, LocalIdentity, local_identity

ACCOUNT = "123456789012"
TENANT = "northside-health"


class Recorder:
    """A fake function that answers 200 and keeps every event it was given."""

    def __init__(self, answer: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer if answer is not None else {"statusCode": 200, "body": "ok"}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return self.answer


def with_routes(*routes: tuple[str, str, dict[str, Any] | None]) -> Blueprint:
    """template.yaml with one more function carrying ``routes`` (method, path, Auth) as HttpApi events."""
    template = copy.deepcopy(load_template())
    events = {f"Route{index}": {"Type": "HttpApi", "Properties": {
        "ApiId": {"Ref": "HttpApi"}, "Method": method, "Path": path, **({"Auth": auth} if auth else {})}}
        for index, (method, path, auth) in enumerate(routes)}
    template["Resources"]["ExtraFunction"] = {"Type": "AWS::Serverless::Function", "Properties": {
        "CodeUri": "functions/extra/", "Events": events}}
    return Blueprint.of(template)


def api_for(plan: Blueprint, recorder: Recorder, *identities: LocalIdentity) -> LocalApi:
    functions = {name: LocalFunction(spec, region="us-east-1", account_id=ACCOUNT, handler=recorder)
                 for name, spec in plan.functions.items()}
    return LocalApi(functions, routes=plan.routes, identities=identities)


def signed(identity: LocalIdentity, method: str, url: str, body: bytes = b"", *, secret: str | None = None,
           region: str = "us-east-1") -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(identity.access_key_id, secret or identity.secret_access_key), "execute-api",
              region).add_auth(request)
    return dict(request.headers.items())


def test_a_route_added_to_the_template_is_served_with_its_path_parameters_and_the_v2_event():
    recorder = Recorder()
    plan = with_routes(("PUT", "/integrations/{integration_id}/settings", None))
    with api_for(plan, recorder) as api:
        answer = httpx.put(f"{api.base_url}/integrations/int-1/settings?dry_run=1&x=a&x=b", content=b'{"a": 1}',
                           headers={"X-Custom": "yes"})
    assert (answer.status_code, answer.text) == (200, "ok")
    (event,) = recorder.events
    assert event["version"] == "2.0"
    assert event["routeKey"] == "PUT /integrations/{integration_id}/settings"
    assert event["rawPath"] == "/integrations/int-1/settings"
    assert event["rawQueryString"] == "dry_run=1&x=a&x=b"
    assert event["queryStringParameters"] == {"dry_run": "1", "x": "a,b"}
    assert event["pathParameters"] == {"integration_id": "int-1"}
    assert event["headers"]["x-custom"] == "yes"
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    context = event["requestContext"]
    assert context["http"]["method"] == "PUT" and context["routeKey"] == event["routeKey"]
    assert context["stage"] == "$default" and context["accountId"] == ACCOUNT
    assert "authorizer" not in context


def test_unmatched_paths_and_methods_get_api_gateways_404_and_handler_errors_its_500():
    recorder = Recorder()
    with api_for(Blueprint.load(), recorder) as api:
        assert httpx.get(f"{api.base_url}/nothing/here").json() == {"message": "Not Found"}
        assert httpx.delete(f"{api.base_url}/feeds/a.ics").status_code == 404
        assert httpx.get(f"{api.base_url}/feeds/a/b.ics").status_code == 404  # a variable is one segment
        assert recorder.events == []

    def broken(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    plan = Blueprint.load()
    functions = {name: LocalFunction(spec, region="us-east-1", account_id=ACCOUNT, handler=broken)
                 for name, spec in plan.functions.items()}
    with LocalApi(functions, routes=plan.routes) as api:
        answer = httpx.get(f"{api.base_url}/feeds/a.ics")
        assert (answer.status_code, answer.json()) == (500, {"message": "Internal Server Error"})


def test_an_iam_route_takes_a_sigv4_signed_request_and_passes_the_callers_identity():
    recorder = Recorder()
    identity = local_identity(TENANT, ACCOUNT)
    plan = with_routes(("POST", "/integrations", {"Authorizer": "AWS_IAM"}))
    with api_for(plan, recorder, identity) as api:
        url = f"{api.base_url}/integrations?x=1"
        body = json.dumps({"practitioner_id": "dr-okafor"}).encode()
        answer = httpx.post(url, content=body, headers=signed(identity, "POST", url, body))
    assert answer.status_code == 200, answer.text
    iam = recorder.events[0]["requestContext"]["authorizer"]["iam"]
    assert iam == {"accessKey": identity.access_key_id, "accountId": ACCOUNT, "callerId": identity.user_id,
                   "cognitoIdentity": None, "principalOrgId": None, "userArn": identity.user_arn,
                   "userId": identity.user_id}
    assert TENANT in iam["userArn"]


@pytest.mark.parametrize("attack", ["unsigned", "wrong secret", "other region", "tampered body", "unknown key"])
def test_an_iam_route_refuses_what_api_gateway_refuses(attack: str):
    recorder = Recorder()
    identity = local_identity(TENANT, ACCOUNT)
    stranger = local_identity("someone-else", ACCOUNT)
    plan = with_routes(("POST", "/integrations", {"Authorizer": "AWS_IAM"}))
    with api_for(plan, recorder, identity) as api:
        url = f"{api.base_url}/integrations"
        body = b'{"practitioner_id": "dr-okafor"}'
        headers = {
            "unsigned": {},
            "wrong secret": signed(identity, "POST", url, body, secret="not-the-secret"),
            "other region": signed(identity, "POST", url, body, region="eu-west-1"),
            "tampered body": signed(identity, "POST", url, body),
            "unknown key": signed(stranger, "POST", url, body),
        }[attack]
        sent = body.replace(b"okafor", b"lindqvist") if attack == "tampered body" else body
        answer = httpx.post(url, content=sent, headers=headers)
    assert answer.status_code == 403
    assert recorder.events == []


def test_a_route_with_an_authoriser_the_local_api_cannot_run_refuses_and_is_stated():
    recorder = Recorder()
    plan = with_routes(("GET", "/admin", {"Authorizer": "OktaJwt"}))
    assert any("OktaJwt" in note for note in plan.unsupported)
    with api_for(plan, recorder) as api:
        assert httpx.get(f"{api.base_url}/admin").status_code == 403
    assert recorder.events == []


def test_signatures_expire_after_fifteen_minutes():
    identity = local_identity(TENANT, ACCOUNT)
    url = "http://127.0.0.1:1/integrations"
    headers = {name.lower(): value for name, value in signed(identity, "GET", url).items()}
    headers["host"] = "127.0.0.1:1"
    secrets = {identity.access_key_id: identity.secret_access_key}
    assert sigv4.verify("GET", "/integrations", "", headers, b"", secrets=secrets, region="us-east-1") == \
        identity.access_key_id
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    with pytest.raises(sigv4.SignatureError, match="expired"):
        sigv4.verify("GET", "/integrations", "", headers, b"", secrets=secrets, region="us-east-1", now=later)


def test_every_template_function_is_found_where_its_code_uri_and_handler_say():
    plan = Blueprint.load()
    assert {spec.handler_path for spec in plan.functions.values()} == {
        "functions.feed.app:lambda_handler", "functions.on_appointment_change.app:lambda_handler",
        "functions.on_webhook.app:lambda_handler", "functions.retry_sweeper.app:lambda_handler",
        "functions.connect.app:lambda_handler", "functions.integration_api.app:lambda_handler"}
    assert all(isinstance(spec, FunctionSpec) for spec in plan.functions.values())
