"""Google's OAuth web-server flow on the simulator: the consent page, codes (single use, short lived,
bound to the client, the exact redirect URI and the PKCE challenge), granular scopes, refresh tokens on
first consent only, the RFC 7009 revoke endpoint, and google-auth-oauthlib's Flow against it."""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from devstack.sims.google import GoogleCalendarSimulator
from tests.support.simulators import CLIENT_ID, CLIENT_SECRET, GOOGLE_USER

REDIRECT = "https://connect.calsync.test/oauth/google/callback"
EVENTS = "https://www.googleapis.com/auth/calendar.events"
VERIFIER = "v" * 43 + "-verifier"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def oauth(google_sim: GoogleCalendarSimulator) -> GoogleCalendarSimulator:
    google_sim.register_client(CLIENT_ID, CLIENT_SECRET, (REDIRECT,))
    google_sim.add_user(GOOGLE_USER)
    return google_sim


def authorize_url(sim: GoogleCalendarSimulator, **params: str) -> str:
    query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code",
             "scope": f"openid email {EVENTS}", "state": "st-1", "access_type": "offline",
             "code_challenge": CHALLENGE, "code_challenge_method": "S256", **params}
    return f"{sim.authorize_uri}?{urlencode(query)}"


def redirected(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def consent(sim: GoogleCalendarSimulator, **params: str) -> dict[str, str]:
    return redirected(httpx.get(authorize_url(sim, sim_consent="allow", sim_user=GOOGLE_USER, **params)))


def exchange(sim: GoogleCalendarSimulator, code: str, **form: str) -> httpx.Response:
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "code_verifier": VERIFIER, **form}
    return httpx.post(sim.token_uri, data=body)


def claims(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    import json

    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_the_consent_page_can_be_answered_like_a_browser_would(oauth):
    page = httpx.get(authorize_url(oauth, login_hint=GOOGLE_USER))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    form = page.text
    request_id = re.search(r'name="request" value="([^"]+)"', form)
    assert request_id and f'<option value="{GOOGLE_USER}" selected>' in form
    assert form.count('type="checkbox" name="scope"') == 3 and ">Allow</button>" in form and ">Deny</button>" in form
    action = oauth.url + re.search(r'action="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    allowed = redirected(httpx.post(action, data={"request": request_id.group(1), "user": GOOGLE_USER,
                                                  "scope": ["openid", EVENTS], "decision": "allow"}))
    assert allowed["state"] == "st-1" and allowed["scope"] == f"openid {EVENTS}" and allowed["code"]
    again = httpx.post(action, data={"request": request_id.group(1), "user": GOOGLE_USER, "decision": "allow"})
    assert again.status_code == 400  # a consent page is answered once

    second = re.search(r'name="request" value="([^"]+)"', httpx.get(authorize_url(oauth)).text)
    denied = redirected(httpx.post(action, data={"request": second.group(1), "decision": "deny"}))  # type: ignore[union-attr]
    assert denied == {"error": "access_denied", "state": "st-1"}


def test_a_code_gives_tokens_once_and_a_replay_revokes_them(oauth):
    code = consent(oauth)["code"]
    tokens = exchange(oauth, code).json()
    assert set(tokens) == {"access_token", "expires_in", "scope", "token_type", "refresh_token", "id_token"}
    assert claims(tokens["id_token"])["email"] == GOOGLE_USER
    api = httpx.Client(base_url=oauth.api_base, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert api.get("calendars/primary/events").status_code == 200

    replay = exchange(oauth, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert api.get("calendars/primary/events").status_code == 401
    refreshed = httpx.post(oauth.token_uri, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                                  "client_secret": CLIENT_SECRET,
                                                  "refresh_token": tokens["refresh_token"]})
    assert refreshed.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("change", "error"), [
    ({"code_verifier": "w" * 43}, "invalid_grant"),
    ({"redirect_uri": REDIRECT + "/"}, "redirect_uri_mismatch"),
    ({"client_id": "calsync-other-client", "client_secret": "other"}, "invalid_grant"),
])
def test_a_code_is_bound_to_its_verifier_redirect_uri_and_client(oauth, change, error):
    oauth.register_client("calsync-other-client", "other")
    answer = exchange(oauth, consent(oauth)["code"], **change)
    assert (answer.status_code, answer.json()["error"]) == (400, error)


def test_a_code_without_its_verifier_or_past_ten_minutes_is_refused(oauth):
    missing = httpx.post(oauth.token_uri, data={"grant_type": "authorization_code", "code": consent(oauth)["code"],
                                                "redirect_uri": REDIRECT, "client_id": CLIENT_ID,
                                                "client_secret": CLIENT_SECRET})
    assert missing.json() == {"error": "invalid_grant", "error_description": "Missing code verifier."}
    late = consent(oauth)["code"]
    oauth.clock.advance(601)
    assert exchange(oauth, late).json()["error_description"] == "The authorization code has expired."
    plain = consent(oauth, code_challenge=VERIFIER, code_challenge_method="plain")["code"]
    assert exchange(oauth, plain).status_code == 200


def test_the_authorize_endpoint_refuses_unknown_clients_and_inexact_redirects_without_redirecting(oauth):
    for params, status in (({"client_id": "nobody"}, 401), ({"redirect_uri": REDIRECT + "?x=1"}, 400),
                           ({"redirect_uri": REDIRECT.upper()}, 400)):
        answer = httpx.get(authorize_url(oauth, sim_consent="allow", **params))
        assert answer.status_code == status and "location" not in answer.headers
    bad = redirected(httpx.get(authorize_url(oauth, code_challenge_method="S512")))
    assert (bad["error"], bad["state"]) == ("invalid_request", "st-1")
    oauth.authorizations.auto_consent = "deny"
    assert redirected(httpx.get(authorize_url(oauth)))["error"] == "access_denied"


def test_a_refresh_token_comes_with_the_first_offline_consent_or_with_prompt_consent(oauth):
    assert "refresh_token" in exchange(oauth, consent(oauth)["code"]).json()
    assert "refresh_token" not in exchange(oauth, consent(oauth)["code"]).json()
    assert "refresh_token" in exchange(oauth, consent(oauth, prompt="consent")["code"]).json()
    assert "refresh_token" not in exchange(oauth, consent(oauth, access_type="online", prompt="consent")["code"]).json()


def test_granted_scopes_are_what_the_clinician_ticked(oauth):
    page = httpx.get(authorize_url(oauth)).text
    request_id = re.search(r'name="request" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    code = redirected(httpx.post(oauth.url + "/o/oauth2/v2/auth/consent", data={
        "request": request_id, "user": GOOGLE_USER, "scope": ["openid"], "decision": "allow"}))["code"]
    tokens = exchange(oauth, code).json()
    assert tokens["scope"] == "openid"
    answer = httpx.get(f"{oauth.api_base}/calendars/primary/events",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert answer.status_code == 403


def test_revoking_a_token_withdraws_the_whole_consent(oauth):
    tokens = exchange(oauth, consent(oauth)["code"]).json()
    assert httpx.post(oauth.revoke_uri, data={"token": tokens["access_token"]}).status_code == 200
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(f"{oauth.api_base}/calendars/primary/events", headers=headers).status_code == 401
    refreshed = httpx.post(oauth.token_uri, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                                  "client_secret": CLIENT_SECRET,
                                                  "refresh_token": tokens["refresh_token"]})
    assert refreshed.json()["error"] == "invalid_grant"
    again = httpx.post(f"{oauth.revoke_uri}?{urlencode({'token': tokens['refresh_token']})}")
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    assert oauth.tokens_in(f"secret={tokens['refresh_token']}") == []
    assert oauth.tokens_in(f"secret={tokens['refresh_token']}", live_only=False) == [tokens["refresh_token"]]


def test_google_auth_oauthlib_flow_completes_against_the_simulator(google_tls):
    from google.auth.transport.requests import Request
    from google_auth_oauthlib.flow import Flow

    google_tls.register_client(CLIENT_ID, CLIENT_SECRET, (REDIRECT,))
    google_tls.add_user(GOOGLE_USER)
    assert google_tls.ca_bundle is not None
    flow = Flow.from_client_config(google_tls.client_config(CLIENT_ID, CLIENT_SECRET, [REDIRECT]),
                                   scopes=[EVENTS], redirect_uri=REDIRECT)
    flow.oauth2session.verify = str(google_tls.ca_bundle)
    flow.oauth2session.trust_env = False  # REQUESTS_CA_BUNDLE would override the session's verify
    url, state = flow.authorization_url(access_type="offline", prompt="consent", login_hint=GOOGLE_USER)
    trusted = ssl.create_default_context(cafile=str(google_tls.ca_bundle))
    with httpx.Client(verify=trusted) as browser:
        back = redirected(browser.get(url + "&sim_consent=allow"))
    assert back["state"] == state
    [authorize] = google_tls.calls("GET", "/o/oauth2/v2/auth")
    assert authorize.request.param("code_challenge_method") == "S256"  # the Flow's own PKCE

    flow.fetch_token(code=back["code"])
    credentials = flow.credentials
    assert credentials.refresh_token and credentials.token_uri == google_tls.token_uri
    first = credentials.token
    session = flow.oauth2session
    credentials.refresh(Request(session=session))
    assert credentials.token != first
    answer = session.get(f"{google_tls.api_base}/calendars/primary/events",
                         headers={"Authorization": f"Bearer {credentials.token}"})
    assert answer.status_code == 200
