"""Google's OAuth 2.0 web-server flow on the simulator: authorize (consent page), token, revoke.

* ``GET /o/oauth2/v2/auth``: ``client_id``, ``redirect_uri`` (exactly as registered),
  ``response_type=code``, ``scope``, ``state``, ``access_type`` (``offline`` for a refresh token),
  ``prompt``, ``login_hint``, ``code_challenge`` + ``code_challenge_method`` (``S256`` or ``plain``, the
  default). Consent is granular, as Google's is: the page has one checkbox per scope, and the redirect
  carries ``code``, ``scope`` (what was granted) and ``state`` (or ``error=access_denied``).
* ``POST /token``: ``grant_type=authorization_code`` (``code``, ``redirect_uri``, ``code_verifier``)
  answers ``access_token``, ``expires_in``, ``scope``, ``token_type`` and, for ``access_type=offline``,
  ``refresh_token`` on the first consent of this user to this client or with ``prompt=consent`` (as Google
  does), plus ``id_token`` when ``openid`` was granted. Codes are single-use and live 10 minutes; a replayed
  code also revokes what it produced. ``grant_type=refresh_token`` as before. Clients authenticate with
  HTTP Basic or form fields.
* ``POST /revoke`` (``token`` in the form or the query, RFC 7009): 200, and the whole consent of that user to
  that client is gone (its refresh tokens get ``invalid_grant``, its access tokens 401); 400
  ``invalid_token`` for a token that is unknown or already revoked.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs

from devstack.sims.authorize import AuthorizationRequest, Authorizations, CodeProblem, Decision
from devstack.sims.http import SimRequest, SimResponse
from devstack.sims.oauth import Grant, TokenBook, client_credentials, jwt_unsigned

AUTHORIZE_PATH = "/o/oauth2/v2/auth"
CONSENT_PATH = AUTHORIZE_PATH + "/consent"
TOKEN_PATH = "/token"
REVOKE_PATH = "/revoke"
OPENID_PATH = "/.well-known/openid-configuration"
ISSUER = "https://accounts.google.com"


def _extra(_request: AuthorizationRequest, _subject: str, granted: list[str]) -> dict[str, str]:
    return {"scope": " ".join(granted), "authuser": "0", "prompt": "consent"}


DECISION = Decision(title="Sign in with Google (simulator)", consent_path=CONSENT_PATH, granular=True,
                    redirect_params=_extra)


def subject_id(user: str) -> str:
    """Google's ``sub``: a stable numeric account id."""
    return str(int(hashlib.sha256(user.encode()).hexdigest()[:15], 16))


class GoogleOAuth:
    """The authorize, token and revoke endpoints over one token book."""

    def __init__(self, tokens: TokenBook, authorizations: Authorizations, base: Any) -> None:
        self.tokens = tokens
        self.authorizations = authorizations
        self._base = base
        self.rotate_refresh_tokens = False

    def handle(self, request: SimRequest, users: list[str]) -> SimResponse | None:
        if request.path == AUTHORIZE_PATH and request.method == "GET":
            return self.authorizations.authorize(request, self.tokens.clients, users)
        if request.path == CONSENT_PATH and request.method == "POST":
            return self.authorizations.answer_page(parse_qs(request.body.decode(), keep_blank_values=True), users)
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if request.path == REVOKE_PATH and request.method == "POST":
            token = request.form().get("token") or request.param("token") or ""
            if not self.tokens.revoke_token(token):
                return SimResponse(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})
            return SimResponse(200, None)
        if request.path == OPENID_PATH and request.method == "GET":
            base = self._base()
            return SimResponse(200, {"issuer": ISSUER, "authorization_endpoint": base + AUTHORIZE_PATH,
                                     "token_endpoint": base + TOKEN_PATH, "revocation_endpoint": base + REVOKE_PATH,
                                     "response_types_supported": ["code"],
                                     "code_challenge_methods_supported": ["plain", "S256"]})
        return None

    def _token(self, request: SimRequest) -> SimResponse:
        form = request.form()
        client_id, client_secret = client_credentials(form, request.basic)
        if not self.tokens.client_ok(client_id, client_secret):
            return SimResponse(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        assert client_id is not None
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._code(form, client_id)
        if grant_type != "refresh_token":
            return SimResponse(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        grant = self.tokens.redeem(form.get("refresh_token"), client_id)
        if grant is None:
            return SimResponse(400, {"error": "invalid_grant",
                                     "error_description": "Token has been expired or revoked."})
        access, lifetime = self.tokens.issue(grant)
        answer: dict[str, Any] = {"access_token": access, "expires_in": lifetime, "scope": grant.scope,
                                  "token_type": "Bearer"}
        if self.rotate_refresh_tokens:
            answer["refresh_token"] = self.tokens.rotate(form["refresh_token"])
        return SimResponse(200, answer)

    def _code(self, form: dict[str, str], client_id: str) -> SimResponse:
        issued = self.authorizations.redeem(form.get("code"), client_id, form.get("redirect_uri"),
                                            form.get("code_verifier"))
        if isinstance(issued, CodeProblem):
            if "already redeemed" in issued.description:
                self.tokens.revoke_code(form.get("code") or "")
            if issued.kind == "redirect_uri_mismatch":
                return SimResponse(400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"})
            return SimResponse(400, {"error": "invalid_grant", "error_description": issued.description})
        params = issued.request.params
        first = not any(self.tokens.redeem(t, client_id) for t in self.tokens.live_refresh_tokens(issued.subject))
        grant = Grant(client_id, issued.subject, scope=" ".join(issued.scopes), nonce=issued.request.nonce,
                      codes=[issued.code])
        access, lifetime = self.tokens.issue(grant)
        answer: dict[str, Any] = {"access_token": access, "expires_in": lifetime, "scope": grant.scope,
                                  "token_type": "Bearer"}
        if params.get("access_type") == "offline" and (first or "consent" in params.get("prompt", "").split()):
            answer["refresh_token"] = self.tokens.refresh_token(grant)
        if "openid" in issued.scopes:
            now = int(self.tokens.clock.now())
            claims = {"iss": ISSUER, "azp": client_id, "aud": client_id, "sub": subject_id(issued.subject),
                      "email": issued.subject, "email_verified": True, "iat": now, "exp": now + lifetime}
            if grant.nonce:
                claims["nonce"] = grant.nonce
            answer["id_token"] = jwt_unsigned(claims)
        return SimResponse(200, answer)
