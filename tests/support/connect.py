"""Driving the connect page and the integration API against the local deployment: a browser-like httpx
client (cookies, no automatic redirects), SigV4-signed API calls as a tenant, the simulators wired as the
deployment's OAuth providers, and dumps of everything calsync stores (to look for tokens in)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync.core.settings import get_settings
from devstack.deployment import Deployment
from devstack.local_api import LocalIdentity
from devstack.oauth_clinicians import register_connect_clients, simulator_env
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import EHR_SOURCE
from tests.support.reliability import PRACTICE, ZONE
from tests.support.simulators import forget_calsync_state

GOOGLE_USER = "dr.connect@gmail.example"
MS_USER, MS_DIRECTORY = "dr.connect@northside.example", "7a1c2d3e-tenant-connect"


@dataclass
class Sims:
    google: GoogleCalendarSimulator
    microsoft: MicrosoftGraphSimulator
    deployment: Deployment


@pytest.fixture
def connect_sims(deployment: Deployment, google_sim: GoogleCalendarSimulator,
                 microsoft_sim: MicrosoftGraphSimulator) -> Iterator[Sims]:
    """The simulators as the deployment's Google and Microsoft (endpoints, OAuth clients with the exact
    redirect URIs, app secrets), with one clinician known to each."""
    os.environ.update(simulator_env(google_sim, microsoft_sim))
    get_settings.cache_clear()
    register_connect_clients(deployment.stack, deployment.api.base_url, google_sim, microsoft_sim)
    google_sim.add_user(GOOGLE_USER)
    microsoft_sim.add_user(MS_USER, MS_DIRECTORY)
    forget_calsync_state()
    yield Sims(google_sim, microsoft_sim, deployment)
    forget_calsync_state()


def signed(identity: LocalIdentity, method: str, url: str, body: Any = None, *,
           raw: bytes | None = None) -> httpx.Response:
    """An API call signed with SigV4 by ``identity`` (botocore's signer, as the EHR's SDK would)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = AWSRequest(method=method, url=url, data=data,
                         headers={"Content-Type": "application/json"} if data is not None else {})
    SigV4Auth(Credentials(identity.access_key_id, identity.secret_access_key), "execute-api",
              "us-east-1").add_auth(request)
    return httpx.request(method, url, headers=dict(request.headers.items()), content=data, timeout=30)


class Api:
    """The integration API as one tenant's backend calls it."""

    def __init__(self, deployment: Deployment, tenant_id: str) -> None:
        self.base = deployment.api.base_url + "/api/v1"
        self.identity = deployment.identity(tenant_id)
        self.tenant_id = tenant_id
        deployment.stack.allow_ehr(tenant_id)  # the vendor's onboarding: its EHR speaks for the tenant

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return signed(self.identity, method, self.base + path, body)

    def link(self, practitioner_id: str, reconnect: str | None = None) -> str:
        body: dict[str, Any] = {"practitioner_id": practitioner_id}
        if reconnect:
            body["reconnect_integration_id"] = reconnect
        answer = self.call("POST", "/connect-links", body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["url"])

    def integration(self, integration_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/integrations/{integration_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture
def api(connect_sims: Sims, tenant_id: str) -> Api:
    """The integration API as the test tenant's backend calls it."""
    return Api(connect_sims.deployment, tenant_id)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    import html

    return html.unescape(found.group(1))


class Browser:
    """A browser on the connect page: keeps cookies, follows nothing by itself."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=30)

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def post(self, url: str, data: dict[str, Any]) -> httpx.Response:
        return self.http.post(url, data=data)

    def start(self, link: str) -> httpx.Response:
        opened = self.get(link)
        assert opened.status_code == 200, opened.text
        return self.post("/connect/start", {"link": hidden(opened.text, "link")})

    def settings(self, kind: str, **choices: str) -> httpx.Response:
        page = self.get(f"/connect/settings?provider={kind}")
        assert page.status_code == 200, page.text
        form = {"csrf": hidden(page.text, "csrf"), "kind": kind, "direction": "push", "target": "dedicated",
                "client_display": "internal_id", "show_location": "on", "private_visibility": "on",
                "show_practice_name": "on", "show_deep_link": "on", "reminder_minutes": "",
                "past_days": "30", "future_days": "365", **choices}
        return self.post("/connect/settings", form)

    def connect_link(self, link: str) -> None:
        started = self.start(link)
        assert started.status_code == 303, started.text

    def close(self) -> None:
        self.http.close()


def follow_consent(sim_answer: httpx.Response) -> str:
    """The redirect URI (with code and state) a simulator's consent answered with."""
    assert sim_answer.status_code == 302, sim_answer.text
    return str(sim_answer.headers["location"])


def google_consent(sims: Sims, authorize_url: str, *, allow: bool = True, scopes: list[str] | None = None,
                   user: str = GOOGLE_USER) -> str:
    """Answers Google's consent page as the clinician (optionally unticking scopes); returns the callback URL."""
    page = httpx.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    request_id = hidden(page.text, "request")
    form: dict[str, Any] = {"request": request_id, "user": user, "decision": "allow" if allow else "deny"}
    asked = parse_qs(urlsplit(authorize_url).query)["scope"][0].split()
    form["scope"] = asked if scopes is None else scopes
    answer = httpx.post(sims.google.url + "/o/oauth2/v2/auth/consent", data=form, timeout=10)
    return follow_consent(answer)


def microsoft_consent(sims: Sims, authorize_url: str, *, allow: bool = True, user: str = MS_USER) -> dict[str, str]:
    """Answers Microsoft's consent page; returns the fields its form_post page would post back."""
    import html
    import ssl

    assert sims.microsoft.ca_bundle is not None
    with httpx.Client(verify=ssl.create_default_context(cafile=str(sims.microsoft.ca_bundle)), timeout=10) as client:
        page = client.get(authorize_url)
        assert page.status_code == 200, page.text
        action = re.search(r'action="([^"]+)"', page.text)
        assert action
        consent_url = str(httpx.URL(authorize_url).join(html.unescape(action.group(1))))
        back = client.post(consent_url, data={"request": hidden(page.text, "request"), "user": user,
                                              "decision": "allow" if allow else "deny"})
    assert back.status_code == 200, back.text
    return {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', back.text)}


def appointment_entry(tenant_id: str, practitioner: str, appointment_id: str = "apt-1") -> dict[str, object]:
    start = dt.datetime.combine(dt.date.today() + dt.timedelta(days=2), dt.time(10), ZONE)
    detail = {"schema_version": 1, "tenant_id": tenant_id, "appointment_id": appointment_id,
              "updated_at": dt.datetime.now(dt.UTC).isoformat(), "status": "scheduled",
              "start": start.isoformat(), "end": (start + dt.timedelta(minutes=45)).isoformat(),
              "timezone": str(ZONE), "practitioner_id": practitioner, "practice": PRACTICE,
              "client": {"id": "c-1", "internal_id": "A-77", "first_name": "Jordan", "last_name": "Rivera"}}
    return {"Source": EHR_SOURCE, "DetailType": "Appointment Changed", "Detail": json.dumps(detail)}


# -- where a token could be -------------------------------------------------------------------------------


def dump_tables() -> str:
    """Every item of every calsync table, as text."""
    from calsync.store.tables import ALL_MODELS

    parts = []
    for model in ALL_MODELS:
        for item in model.scan():
            parts.append(json.dumps(item.serialize(), default=str))
    return "\n".join(parts)


def dump_secrets(stack: Any) -> str:
    """Every version of every secret Secrets Manager holds (reading deleted ones as far as it allows)."""
    client = stack.client("secretsmanager")
    parts = []
    for secret in client.list_secrets(IncludePlannedDeletion=True)["SecretList"]:
        versions = client.list_secret_version_ids(SecretId=secret["ARN"], IncludeDeprecated=True)["Versions"]
        for version in versions:
            try:
                parts.append(client.get_secret_value(SecretId=secret["ARN"], VersionId=version["VersionId"])
                             ["SecretString"])
            except client.exceptions.InvalidRequestException:
                parts.append(f"(unreadable: {secret['Name']} is scheduled for deletion)")
    return "\n".join(parts)


def dump_memory() -> str:
    """What this process keeps in memory: access tokens and cached secrets."""
    from calsync.aws import secret_store
    from calsync.oauth import memory

    return json.dumps({"tokens": {k: v.value for k, v in memory._tokens.items()},
                       "secrets": {"#".join(k): v[1] for k, v in secret_store._cache.items()}}, default=str)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def connect_google(sims: Sims, api: Api, practitioner: str, **choices: str) -> dict[str, Any]:
    """A clinician connects Google through the page (consent answered on the simulator's page)."""
    browser = Browser(sims.deployment.api.base_url)
    browser.connect_link(api.link(practitioner))
    going = browser.settings("google", **choices)
    assert going.status_code == 303, going.text
    assert browser.get(google_consent(sims, going.headers["location"])).status_code == 303
    (found,) = api.call("GET", f"/integrations?practitioner_id={practitioner}").json()["integrations"]
    return dict(found)


def connect_microsoft(sims: Sims, api: Api, practitioner: str, **choices: str) -> dict[str, Any]:
    browser = Browser(sims.deployment.api.base_url)
    browser.connect_link(api.link(practitioner))
    going = browser.settings("microsoft", **choices)
    posted = microsoft_consent(sims, going.headers["location"])
    assert browser.post("/connect/oauth/microsoft/finish", posted).status_code == 303
    (found,) = api.call("GET", f"/integrations?practitioner_id={practitioner}").json()["integrations"]
    return dict(found)
