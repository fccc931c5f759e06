"""The integration API fuzzed from its published OpenAPI document (schemathesis): every route, with
generated valid and invalid requests, signed as one tenant while another tenant owns real data. No
answer is a server error, every answer matches the document, and nothing of the other tenant ever
comes back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import unsupported_method

from devstack.local_api import LocalIdentity
from tests.conftest import PORTS
from tests.support.connect import Api, Sims, connect_google

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "integration-api.openapi.json"
schema = schemathesis.openapi.from_path(str(DOCUMENT))
BASE_URL = f"http://127.0.0.1:{PORTS.api}"


class SigV4(requests.auth.AuthBase):
    """Signs a request as a local tenant identity (botocore's signer)."""

    def __init__(self, identity: LocalIdentity) -> None:
        self.identity = identity

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        request = AWSRequest(method=prepared.method, url=prepared.url, data=body,
                             headers={k: v for k, v in prepared.headers.items()
                                      if k.lower() in ("content-type", "host")})
        SigV4Auth(Credentials(self.identity.access_key_id, self.identity.secret_access_key), "execute-api",
                  "us-east-1").add_auth(request)
        prepared.headers.update(dict(request.headers.items()))
        return prepared


@pytest.fixture(scope="module")
def victim() -> dict[str, Any]:
    """Filled by the first example: the other tenant's integration."""
    return {}


@pytest.fixture
def fuzz_setup(connect_sims: Sims, victim: dict[str, Any]) -> tuple[Api, Api]:
    if not victim:
        owner = Api(connect_sims.deployment, "fuzz-victim")
        victim["integration"] = connect_google(connect_sims, owner, "dr-victim")
        feed = owner.call("POST", "/feeds", {"practitioner_id": "dr-victim"}).json()
        victim["feed"] = feed["feed"]["integration_id"]
        victim["secret_markers"] = [owner.tenant_id, "dr-victim", victim["integration"]["integration_id"],
                                    victim["feed"]]
    return Api(connect_sims.deployment, "fuzz-victim"), Api(connect_sims.deployment, "fuzz-caller")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_fuzz(case: Any, fuzz_setup: tuple[Api, Api], victim: dict[str, Any]) -> None:
    _owner, caller = fuzz_setup
    if case.path_parameters:  # now and then aim at the other tenant's real resources
        for name in case.path_parameters:
            if name == "integration_id" and hash(json.dumps(case.body, default=str)) % 3 == 0:
                case.path_parameters[name] = victim["integration"]["integration_id"]
            if name == "feed_id" and hash(str(case.query)) % 3 == 0:
                case.path_parameters[name] = victim["feed"]
    # undeclared methods (TRACE, ...) are API Gateway's to answer, not this API's
    response = case.call_and_validate(base_url=BASE_URL, auth=SigV4(caller.identity), timeout=30,
                                      excluded_checks=[unsupported_method])
    assert response.status_code < 500, response.text
    for marker in victim["secret_markers"]:
        assert marker not in response.text, f"{case.method} {case.path} leaked another tenant's data"
