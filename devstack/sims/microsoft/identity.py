"""The Microsoft identity platform (v2.0) on the simulator: OpenID configuration, authorize (consent page)
and token endpoints, compatible with msal's ``initiate_auth_code_flow`` / ``acquire_token_by_auth_code_flow``.

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``.
* ``GET /{tenant}/oauth2/v2.0/authorize``: ``client_id``, ``redirect_uri`` (exactly as registered),
  ``response_type=code``, ``scope``, ``state``, ``nonce``, ``code_challenge`` (+ method), ``client_info=1``
  (msal sends it), ``login_hint``, ``prompt``, ``response_mode`` (``query``, or ``form_post``, which msal
  recommends: the answer is then a page that posts the fields to the redirect URI). Allow answers ``code``,
  ``state``, ``session_state`` and, when asked, ``client_info``; Deny answers ``error=access_denied``
  (AADSTS65004). Consent covers every scope asked (Microsoft's consent is all or nothing).
* ``POST /{tenant}/oauth2/v2.0/token``: ``authorization_code`` (single-use code, same redirect URI, PKCE
  verifier) answers ``access_token``, ``refresh_token`` (only with ``offline_access``), ``id_token`` (claims
  ``oid``, ``sub``, ``tid``, ``preferred_username``, ``name``, ``nonce``) and ``client_info``, which is what
  msal needs to build its account; ``refresh_token`` (the refresh token rotates on every use, the old one
  stays valid, ``invalid_grant`` once the consent is revoked); ``client_credentials`` for app tokens.

Microsoft has no revocation endpoint for a confidential client's refresh token: a disconnect drops the
token. Tests see whether a token is still held anywhere with ``sim.tokens_in(text)`` and which were issued
with ``sim.issued_refresh_tokens(user)``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from devstack.sims.authorize import AuthorizationRequest, Authorizations, CodeProblem, Decision
from devstack.sims.http import SimRequest, SimResponse
from devstack.sims.microsoft.mailbox import Mailboxes
from devstack.sims.oauth import Grant, TokenBook, client_credentials, jwt_unsigned

TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
AUTHORIZE_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/authorize$")
CONSENT_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/authorize/consent$")
OIDC_PATH = re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$")
GRAPH = "https://graph.microsoft.com/"
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
MULTI_TENANT = ("common", "organizations", "consumers")


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def identity_error(code: str, aadsts: int, message: str, status: int = 400) -> SimResponse:
    return SimResponse(status, {"error": code, "error_description": f"AADSTS{aadsts}: {message}",
                                "error_codes": [aadsts], "trace_id": str(uuid.uuid4()),
                                "correlation_id": str(uuid.uuid4())})


def resource_scopes(scopes: list[str]) -> list[str]:
    """Graph scopes in their full form (``Calendars.ReadWrite`` is Graph's), OpenID ones left out."""
    return [s if "://" in s else GRAPH + s for s in scopes if s not in OIDC_SCOPES]


class Identity:
    def __init__(self, tokens: TokenBook, mailboxes: Mailboxes, base: Any) -> None:
        self.tokens, self.mailboxes, self._base = tokens, mailboxes, base
        self.authorizations = Authorizations(tokens.clock, Decision(
            title="Sign in to your Microsoft account (simulator)", consent_path="authorize/consent",
            redirect_params=self._extra,
            denied={"error": "access_denied", "error_subcode": "cancel",
                    "error_description": "AADSTS65004: User declined to consent to access the app."},
            form_post=True))

    def _extra(self, request: AuthorizationRequest, subject: str, _granted: list[str]) -> dict[str, str]:
        extra = {"session_state": str(uuid.uuid5(uuid.NAMESPACE_URL, subject))}
        if request.params.get("client_info") == "1":
            mailbox = self.mailboxes.mailboxes[subject]
            extra["client_info"] = b64({"uid": mailbox.object_id, "utid": mailbox.tenant})
        return extra

    def users(self, tenant: str) -> list[str]:
        return sorted(m.user for m in self.mailboxes.mailboxes.values()
                      if tenant in MULTI_TENANT or m.tenant == tenant)

    def handle(self, request: SimRequest) -> SimResponse | None:
        if match := OIDC_PATH.match(request.path):
            return self._openid_configuration(match["tenant"])
        if (match := AUTHORIZE_PATH.match(request.path)) and request.method == "GET":
            return self.authorizations.authorize(request, self.tokens.clients, self.users(match["tenant"]))
        if (match := CONSENT_PATH.match(request.path)) and request.method == "POST":
            return self.authorizations.answer_page(parse_qs(request.body.decode(), keep_blank_values=True),
                                                   self.users(match["tenant"]))
        if (match := TOKEN_PATH.match(request.path)) and request.method == "POST":
            return self._token(request, match["tenant"])
        return None

    def _openid_configuration(self, tenant: str) -> SimResponse:
        base = f"{self._base()}/{tenant}"
        return SimResponse(200, {
            "issuer": f"{self._base()}/{{tenantid}}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "tenant_region_scope": "EU",
        })

    def _token(self, request: SimRequest, tenant: str) -> SimResponse:
        form = request.form()
        client_id, client_secret = client_credentials(form, request.basic)
        if not self.tokens.client_ok(client_id, client_secret):
            return SimResponse(401, {"error": "invalid_client",
                                     "error_description": "AADSTS7000215: Invalid client secret provided."})
        assert client_id is not None
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            if tenant in MULTI_TENANT:
                return identity_error("invalid_request", 900023, "Specified tenant identifier is not valid.")
            access, lifetime = self.tokens.issue(self.tokens.application_grant(client_id, tenant))
            return SimResponse(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                                     "access_token": access})
        if grant_type == "authorization_code":
            return self._code(form, client_id, tenant)
        if grant_type != "refresh_token":
            return identity_error("unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        refresh_token = form.get("refresh_token")
        grant = self.tokens.redeem(refresh_token, client_id)
        if grant is None or refresh_token is None:
            return identity_error("invalid_grant", 70008, "The refresh token has expired or was revoked.")
        if tenant not in ("common", "organizations", grant.tenant):
            return identity_error("invalid_grant", 50020, "User account does not exist in this tenant.")
        return self._tokens(grant, form, self.tokens.rotate(refresh_token))

    def _code(self, form: dict[str, str], client_id: str, tenant: str) -> SimResponse:
        issued = self.authorizations.redeem(form.get("code"), client_id, form.get("redirect_uri"),
                                            form.get("code_verifier"))
        if isinstance(issued, CodeProblem):
            if "already redeemed" in issued.description:
                self.tokens.revoke_code(form.get("code") or "")
                return identity_error("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed.")
            if issued.kind == "redirect_uri_mismatch":
                return identity_error("invalid_grant", 50148, issued.description)
            if "verifier" in issued.description.lower():
                return identity_error("invalid_grant", 501481, issued.description)
            return identity_error("invalid_grant", 70008, issued.description)
        mailbox = self.mailboxes.mailboxes[issued.subject]
        if tenant not in MULTI_TENANT and tenant != mailbox.tenant:
            return identity_error("invalid_grant", 50020, "User account does not exist in this tenant.")
        grant = Grant(client_id, issued.subject, mailbox.tenant, " ".join(resource_scopes(issued.scopes)),
                      nonce=issued.request.nonce, codes=[issued.code])
        refresh = self.tokens.refresh_token(grant) if "offline_access" in issued.scopes else None
        return self._tokens(grant, form, refresh, openid="openid" in issued.scopes)

    def _tokens(self, grant: Grant, form: dict[str, str], refresh_token: str | None, *,
                openid: bool = True) -> SimResponse:
        mailbox = self.mailboxes.mailboxes[grant.subject]
        access, lifetime = self.tokens.issue(grant)
        now = int(self.tokens.clock.now())
        answer: dict[str, Any] = {"token_type": "Bearer", "scope": grant.scope, "expires_in": lifetime,
                                  "ext_expires_in": lifetime, "access_token": access}
        if refresh_token:
            answer["refresh_token"] = refresh_token
        if openid:
            claims = {"aud": grant.client_id, "iss": f"{self._base()}/{grant.tenant}/v2.0", "iat": now, "nbf": now,
                      "exp": now + lifetime, "oid": mailbox.object_id, "sub": mailbox.object_id,
                      "preferred_username": mailbox.user, "name": mailbox.user, "tid": grant.tenant, "ver": "2.0"}
            if grant.nonce:
                claims["nonce"] = grant.nonce
            answer["id_token"] = jwt_unsigned(claims)
        if form.get("client_info") == "1":
            answer["client_info"] = b64({"uid": mailbox.object_id, "utid": grant.tenant})
        return SimResponse(200, answer)
