"""The sample events of the connect page and the integration API (``events/``) as Lambda gets them: the
page answers the link page's error (no KMS here: a malformed link is refused before any lookup), and the API
names the tenant from the caller's assumed role."""

from __future__ import annotations

import json
from pathlib import Path

from calsync.services.connect import api

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_the_sample_api_call_names_its_tenant_from_the_callers_role():
    event = json.loads((EVENTS / "integration-api-list.json").read_text(encoding="utf-8"))
    assert api.tenant_of(event["requestContext"]["authorizer"]["iam"], "123456789012") == "northside-health"


def test_the_sample_link_is_a_well_formed_connect_link():
    from calsync.domain import connect as rules

    event = json.loads((EVENTS / "connect-open.json").read_text(encoding="utf-8"))
    claims, _payload, _mac = rules.decode_link(event["queryStringParameters"]["link"])
    assert (claims.tenant_id, claims.practitioner_id) == ("northside-health", "dr-okafor")
