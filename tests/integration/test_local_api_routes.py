"""Every route of template.yaml answers on the local HTTP API: the request reaches the route's own function
(its handler answers, not the router's 404). The routes are enumerated here from the template itself (the
``HttpApi`` events of each function), so a route added there is checked with no change to this test;
``AWS_IAM`` routes are called signed with a tenant's local identity."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from devstack.cfn_template import load_template, resources_of_type
from devstack.deployment import Deployment

TEMPLATE = load_template()
ROUTER_404 = {"message": "Not Found"}


def template_routes() -> list[tuple[str, str, str, str | None]]:
    """(method, path, function logical id, authoriser) of every HttpApi event in the template."""
    routes = []
    for function, resource in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                routes.append((props["Method"].upper(), props["Path"], function,
                               (props.get("Auth") or {}).get("Authorizer")))
    assert routes, "template.yaml has no HttpApi routes"
    return routes


ROUTES = template_routes()


@pytest.mark.parametrize(("method", "path", "function", "authorizer"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_every_template_route_reaches_its_function(deployment: Deployment, method: str, path: str, function: str,
                                                   authorizer: str | None):
    api = deployment.api
    concrete = re.sub(r"\{[^}]+\}", "sample", path.replace("{tenant_id}", "northside-health"))
    url = f"{api.base_url}{concrete}"
    headers: dict[str, Any] = {}
    body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
    if authorizer == "AWS_IAM":
        identity = deployment.identity("northside-health")
        request = AWSRequest(method=method, url=url, data=body)
        SigV4Auth(Credentials(identity.access_key_id, identity.secret_access_key), "execute-api",
                  "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    seen = len(api.requests)
    answer = httpx.request(method, url, content=body, headers=headers, timeout=30)
    assert api.requests[seen:] == [(f"{method} {path}", answer.status_code)], "not routed to the template's route"
    assert answer.status_code != 500, answer.text  # 500: the function raised (or was not found)
    if answer.status_code == 404 and method != "HEAD":
        assert answer.content != b'{"message":"Not Found"}', "the router's 404, not the function's"


def test_an_unknown_route_gets_the_routers_404(deployment: Deployment):
    answer = httpx.get(f"{deployment.api.base_url}/not-a-route", timeout=10)
    assert (answer.status_code, answer.json()) == (404, ROUTER_404)
    assert deployment.api.requests[-1] == ("-", 404)


def test_a_webhook_no_router_knows_answers_404_without_raising(deployment: Deployment):
    answer = httpx.post(f"{deployment.api.base_url}/webhooks/nobody", content=b"{}", timeout=10)
    assert (answer.status_code, answer.json()) == (404, {"message": "no webhook is configured at this address"})
