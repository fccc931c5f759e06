"""The EHR's availability route: ``GET /tenants/{tenant_id}/practitioners/{practitioner_id}/busy`` on the local
HTTP API, SigV4-signed with the tenant's identity, answered from the stored busy blocks of every integration
of the clinician, merged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync.domain.busy import BusyBlock, BusyStatus
from calsync.store import busy
from devstack.deployment import Deployment

START = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)


def block(integration: str, start: dt.datetime, minutes: int, status: BusyStatus = BusyStatus.BUSY,
          title: str | None = None) -> BusyBlock:
    return BusyBlock(block_id=f"{abs(hash((integration, start))):032x}"[:32], calendar="primary",
                     source=f"{integration}-{start:%d%H%M}", start=start, end=start + dt.timedelta(minutes=minutes),
                     status=status, title=title)


def ask(deployment: Deployment, tenant: str, practitioner: str, start: str, end: str, *,
        as_tenant: str | None = None, signed: bool = True) -> httpx.Response:
    url = f"{deployment.api.base_url}/tenants/{tenant}/practitioners/{practitioner}/busy"
    params = {"start": start, "end": end}
    request = httpx.Request("GET", url, params=params)
    headers: dict[str, Any] = {}
    if signed:
        identity = deployment.identity(as_tenant or tenant)
        aws = AWSRequest(method="GET", url=str(request.url))
        SigV4Auth(Credentials(identity.access_key_id, identity.secret_access_key), "execute-api",
                  "us-east-1").add_auth(aws)
        headers = dict(aws.headers.items())
    return httpx.get(str(request.url), headers=headers, timeout=10)


def test_busy_time_across_integrations_merged_for_a_signed_caller_of_the_tenant(deployment, tenant_id):
    owner = busy.owner_key(tenant_id, "dr-okafor")
    google, caldav = f"{tenant_id}-google", f"{tenant_id}-caldav"
    busy.put(google, owner, block(google, START + dt.timedelta(hours=9), 60, title="Dentist"), "1#0")
    busy.put(caldav, owner, block(caldav, START + dt.timedelta(hours=9, minutes=30), 60, BusyStatus.TENTATIVE),
             "1#0")
    busy.put(caldav, owner, block(caldav, START + dt.timedelta(hours=14), 30, BusyStatus.TENTATIVE), "1#0")
    busy.put(google, owner, block(google, START + dt.timedelta(days=40), 30), "1#0")  # outside the range
    busy.put(google, busy.owner_key(tenant_id, "dr-other"), block(google, START + dt.timedelta(hours=11), 30), "1#0")
    answer = ask(deployment, tenant_id, "dr-okafor", "2027-03-01T00:00:00Z", "2027-03-31T00:00:00Z")
    assert answer.status_code == 200, answer.text
    assert answer.json()["busy"] == [
        {"start": "2027-03-01T09:00:00Z", "end": "2027-03-01T10:30:00Z", "status": "busy"},
        {"start": "2027-03-01T14:00:00Z", "end": "2027-03-01T14:30:00Z", "status": "tentative"}]
    assert "Dentist" not in answer.text


def test_a_block_that_began_before_the_range_is_included(deployment, tenant_id):
    """A three-day trip from noon on 27 February is three day-long blocks; the one running into the range is
    found, and merges with the next."""
    owner = busy.owner_key(tenant_id, "dr-okafor")
    for day in range(3):
        busy.put("i1", owner, block("i1", START - dt.timedelta(days=2, hours=-12) + dt.timedelta(days=day), 24 * 60),
                 "1#0")
    answer = ask(deployment, tenant_id, "dr-okafor", "2027-03-01T00:00:00+00:00", "2027-03-02T00:00:00+00:00")
    assert answer.json()["busy"] == [{"start": "2027-02-28T12:00:00Z", "end": "2027-03-02T12:00:00Z",
                                      "status": "busy"}]


def test_other_tenants_unsigned_callers_and_bad_ranges_are_refused(deployment, tenant_id):
    month = ("2027-03-01T00:00:00Z", "2027-03-31T00:00:00Z")
    assert ask(deployment, tenant_id, "dr-okafor", *month, as_tenant="someone-else").status_code == 403
    assert ask(deployment, tenant_id, "dr-okafor", *month, signed=False).status_code == 403
    assert ask(deployment, tenant_id, "dr-okafor", "2027-03-31T00:00:00Z", "2027-03-01T00:00:00Z").status_code == 400
    assert ask(deployment, tenant_id, "dr-okafor", "2027-01-01T00:00:00Z", "2027-06-01T00:00:00Z").status_code == 400
    assert ask(deployment, tenant_id, "dr-okafor", "yesterday", "today").status_code == 400
    assert ask(deployment, tenant_id, "dr-okafor", "2027-03-01T00:00:00", "2027-03-02T00:00:00").status_code == 400
