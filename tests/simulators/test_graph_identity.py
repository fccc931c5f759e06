"""The Microsoft identity simulator driven by msal's real auth-code flow (initiate_auth_code_flow,
acquire_token_by_auth_code_flow): the consent page, PKCE, nonce, client_info and the account msal builds;
denial, a wrong verifier, a replayed code, inexact redirects; and how a test sees a dropped token."""

from __future__ import annotations

import html
import re
import ssl
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import msal
import pytest
import requests

from devstack.sims.microsoft import MicrosoftGraphSimulator
from tests.support.simulators import CLIENT_ID, CLIENT_SECRET, MS_TENANT, MS_USER

REDIRECT = "https://connect.calsync.test/oauth/microsoft/callback"
SCOPES = ["https://graph.microsoft.com/Calendars.ReadWrite"]


@pytest.fixture
def identity(graph: MicrosoftGraphSimulator) -> MicrosoftGraphSimulator:
    graph.register_client(CLIENT_ID, CLIENT_SECRET, (REDIRECT,))
    return graph


@pytest.fixture
def app(identity: MicrosoftGraphSimulator) -> msal.ConfidentialClientApplication:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override the simulator's CA
    session.verify = str(identity.ca_bundle)
    return msal.ConfidentialClientApplication(CLIENT_ID, client_credential=CLIENT_SECRET,
                                              authority=identity.authority("organizations"), instance_discovery=False,
                                              http_client=session, token_cache=msal.SerializableTokenCache())


@pytest.fixture
def browser(identity: MicrosoftGraphSimulator) -> httpx.Client:
    assert identity.ca_bundle is not None
    return httpx.Client(verify=ssl.create_default_context(cafile=str(identity.ca_bundle)), timeout=10)


def start(app: msal.ConfidentialClientApplication, **extra: Any) -> dict[str, Any]:
    """msal's flow with the form_post response mode msal recommends."""
    flow: dict[str, Any] = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, response_mode="form_post",
                                                       **extra)
    return flow


def answer_consent(browser: httpx.Client, auth_uri: str, decision: str, user: str = MS_USER) -> dict[str, Any]:
    """Opens the consent page msal sent the clinician to, presses a button, and returns what reaches the
    redirect URI (the fields of the form_post page, or the query of a 302)."""
    page = browser.get(auth_uri)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    action = urljoin(auth_uri, re.search(r'action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    back = browser.post(action, data={"request": request_id, "user": user, "decision": decision})
    if back.status_code == 302:
        assert back.headers["location"].startswith(REDIRECT + "?")
        return {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    assert back.status_code == 200 and f'<form method="post" action="{REDIRECT}">' in back.text
    return {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', back.text)}


def test_msal_auth_code_flow_gets_tokens_and_an_account(identity, app, browser):
    flow = start(app, login_hint=MS_USER)
    response = answer_consent(browser, flow["auth_uri"], "allow")
    assert response["state"] == flow["state"] and response["client_info"]
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == MS_USER
    assert result["id_token_claims"]["tid"] == MS_TENANT
    [account] = app.get_accounts()
    mailbox = identity.mailboxes.mailboxes[MS_USER]
    assert (account["username"], account["home_account_id"]) == (MS_USER, f"{mailbox.object_id}.{MS_TENANT}")

    [authorize] = identity.calls("GET", "/oauth2/v2.0/authorize")
    assert authorize.request.param("code_challenge_method") == "S256" and authorize.request.param("nonce")
    [token] = identity.token_requests()
    assert token.request.form()["code_verifier"] and token.request.form()["grant_type"] == "authorization_code"

    with httpx.Client(verify=ssl.create_default_context(cafile=str(identity.ca_bundle))) as api:
        headers = {"Authorization": f"Bearer {result['access_token']}"}
        assert api.get(f"{identity.api_base}/me/events", headers=headers).status_code == 200
    silent = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)
    assert silent and silent["access_token"] != result["access_token"]
    assert identity.token_requests()[-1].request.form()["grant_type"] == "refresh_token"


def test_a_denied_consent_comes_back_as_access_denied(app, browser):
    flow = start(app)
    response = answer_consent(browser, flow["auth_uri"], "deny")
    assert response["error"] == "access_denied" and response["error_description"].startswith("AADSTS65004")
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result["error"] == "access_denied" and app.get_accounts() == []


def test_a_wrong_pkce_verifier_is_refused(app, browser):
    flow = start(app)
    response = answer_consent(browser, flow["auth_uri"], "allow")
    result = app.acquire_token_by_auth_code_flow({**flow, "code_verifier": "x" * 43}, response)
    assert result["error"] == "invalid_grant" and "AADSTS501481" in result["error_description"]


def test_a_replayed_code_is_refused_and_revokes_what_it_gave(identity, app, browser):
    flow = start(app)
    response = answer_consent(browser, flow["auth_uri"], "allow")
    first = app.acquire_token_by_auth_code_flow(dict(flow), response)
    assert "refresh_token" in first
    again = app.acquire_token_by_auth_code_flow(dict(flow), response)
    assert again["error"] == "invalid_grant" and "AADSTS54005" in again["error_description"]
    assert identity.tokens_in(first["refresh_token"]) == []


def test_the_authorize_endpoint_refuses_inexact_redirects_and_unknown_clients_without_redirecting(identity, browser):
    base = f"{identity.authority('organizations')}/oauth2/v2.0/authorize"
    common = {"response_type": "code", "scope": "openid offline_access", "state": "s"}
    wrong = browser.get(base, params={**common, "client_id": CLIENT_ID, "redirect_uri": REDIRECT + "/x"})
    unknown = browser.get(base, params={**common, "client_id": "nobody", "redirect_uri": REDIRECT})
    assert (wrong.status_code, unknown.status_code) == (400, 401)
    assert "location" not in wrong.headers and "location" not in unknown.headers


def test_a_test_can_tell_whether_a_refresh_token_was_dropped(identity, app, browser):
    flow = start(app)
    app.acquire_token_by_auth_code_flow(flow, answer_consent(browser, flow["auth_uri"], "allow"))
    cache = app.token_cache.serialize()
    [issued] = identity.issued_refresh_tokens(MS_USER, CLIENT_ID)
    assert identity.tokens_in(cache) == [issued] or issued in identity.tokens_in(cache)
    for account in app.get_accounts():
        app.remove_account(account)
    assert identity.tokens_in(app.token_cache.serialize(), live_only=False) == []  # dropped, though still valid
    identity.revoke(MS_USER)
    assert identity.tokens_in(cache) == []


def test_the_query_response_mode_still_works_and_msal_warns_about_it(app, browser):
    with pytest.warns(UserWarning, match="form_post"):
        flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    response = answer_consent(browser, flow["auth_uri"], "allow")
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, response)
