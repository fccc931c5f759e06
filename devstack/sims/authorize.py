"""The authorization-code side of both simulated identity providers (RFC 6749 §4.1 with RFC 7636 PKCE):
the authorize request, a consent page a person or a headless browser can answer, and single-use,
short-lived codes bound to the client, the exact redirect URI, the granted scopes and the PKCE challenge.

Answering the consent page: open the authorize URL and press **Allow** or **Deny** (the page has a
``<select name="user">`` of the provider's known users, preset from ``login_hint`` or
:attr:`Authorizations.signed_in`; with ``granular`` consent, as Google has, one checkbox per scope).
Without a browser: set :attr:`Authorizations.auto_consent` to ``"allow"`` or ``"deny"``, or append
``sim_consent=allow|deny`` (and ``sim_user=...``) to the authorize URL; either answers at once with the
302 the page would have produced.

With ``response_mode=form_post`` (where the provider supports it: Microsoft), the answer is a page that
posts ``code``/``state`` (or the error) to the redirect URI instead of a 302 with a query string.

Refused without a redirect (an error page, as both providers do): an unknown ``client_id``, a
``redirect_uri`` not registered for the client character for character. Everything else goes back to the
redirect URI as ``error=...&state=...``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from devstack.sims.http import Clock, Html, SimRequest, SimResponse

CODE_LIFETIME_SECONDS = 600  # both providers: "short lived, typically about 10 minutes"
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


@dataclass
class AuthorizationRequest:
    """One authorize request as received (every parameter kept in ``params``)."""

    id: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    params: dict[str, str]


@dataclass
class IssuedCode:
    code: str
    request: AuthorizationRequest
    subject: str
    scopes: list[str]
    expires_at: float
    redeemed: bool = False


@dataclass(frozen=True)
class CodeProblem:
    """Why a code exchange is refused: ``kind`` is ``invalid_grant`` or ``redirect_uri_mismatch``."""

    kind: str
    description: str


@dataclass(frozen=True)
class Decision:
    """What a provider adds to the success redirect, and how it names things on its pages."""

    title: str
    consent_path: str
    granular: bool = False
    redirect_params: Callable[[AuthorizationRequest, str, list[str]], dict[str, str]] = field(
        default=lambda _request, _subject, _scopes: {})
    denied: dict[str, str] = field(default_factory=lambda: {"error": "access_denied"})
    form_post: bool = False


def verify_pkce(challenge: str, method: str | None, verifier: str | None) -> bool:
    if verifier is None or not _VERIFIER.match(verifier):
        return False
    if (method or "plain") == "plain":
        return hmac.compare_digest(challenge, verifier)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return hmac.compare_digest(challenge, digest)


class Authorizations:
    """Registered redirect URIs, pending consent pages and issued codes of one identity provider."""

    def __init__(self, clock: Clock, decision: Decision) -> None:
        self.clock = clock
        self.decision = decision
        self.code_lifetime_seconds = CODE_LIFETIME_SECONDS
        self.redirect_uris: dict[str, set[str]] = {}
        self.pending: dict[str, AuthorizationRequest] = {}
        self.codes: dict[str, IssuedCode] = {}
        self.auto_consent: str | None = None
        self.signed_in: str | None = None
        self.require_pkce = False

    def clear(self) -> None:
        self.redirect_uris.clear()
        self.pending.clear()
        self.codes.clear()
        self.auto_consent = self.signed_in = None
        self.require_pkce = False

    def register_redirect_uri(self, client_id: str, uri: str) -> None:
        self.redirect_uris.setdefault(client_id, set()).add(uri)

    # -- the authorize endpoint -------------------------------------------------------------------------

    def authorize(self, request: SimRequest, clients: Iterable[str], users: list[str]) -> SimResponse:
        """The GET on the authorize endpoint: an error page, an error redirect, the consent page, or
        (auto consent) the final redirect."""
        q = {k: v[0] for k, v in request.query.items()}
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if client_id not in set(clients):
            return self._page(401, "invalid_client", "The OAuth client was not found.")
        if redirect_uri not in self.redirect_uris.get(client_id, set()):
            return self._page(400, "redirect_uri_mismatch",
                              "The redirect URI in the request does not match the ones registered for the client.")
        auth = AuthorizationRequest(
            id=secrets.token_urlsafe(12), client_id=client_id, redirect_uri=redirect_uri,
            scopes=q.get("scope", "").split(), state=q.get("state"), code_challenge=q.get("code_challenge"),
            code_challenge_method=q.get("code_challenge_method"), nonce=q.get("nonce"), params=q)
        problem = self._problem(auth, q)
        if problem:
            return self._redirect(auth, {"error": problem[0], "error_description": problem[1]})
        self.pending[auth.id] = auth
        answer = q.get("sim_consent") or self.auto_consent
        if answer in ("allow", "deny"):
            user = q.get("sim_user") or q.get("login_hint") or self.signed_in or (users[0] if users else "")
            return self.decide(auth.id, user, allow=answer == "allow", scopes=None, users=users)
        return SimResponse(200, self._consent_page(auth, users, q.get("login_hint") or self.signed_in),
                           {"Cache-Control": "no-store"})

    def _problem(self, auth: AuthorizationRequest, q: dict[str, str]) -> tuple[str, str] | None:
        if q.get("response_type") != "code":
            return "unsupported_response_type", "Only the authorization code flow (response_type=code) is supported."
        if not auth.scopes:
            return "invalid_request", "Missing required parameter: scope"
        if auth.code_challenge_method and auth.code_challenge_method not in ("S256", "plain"):
            return "invalid_request", "Invalid code_challenge_method: only S256 and plain are supported."
        if auth.code_challenge_method and not auth.code_challenge:
            return "invalid_request", "code_challenge_method was sent without a code_challenge."
        if self.require_pkce and not auth.code_challenge:
            return "invalid_request", "code_challenge is required (PKCE)."
        return None

    def decide(self, request_id: str, user: str, *, allow: bool, scopes: list[str] | None,
               users: list[str]) -> SimResponse:
        """The consent page's answer: a 302 to the client's redirect URI with a code or with
        ``error=access_denied``."""
        auth = self.pending.pop(request_id, None)
        if auth is None:
            return self._page(400, "invalid_request", "This consent page has expired or was already answered.")
        if not allow:
            return self._redirect(auth, dict(self.decision.denied))
        if user not in users:
            return self._page(400, "unknown_user", "There is no such account.")
        granted = [s for s in auth.scopes if scopes is None or s in scopes]
        code = f"code-{secrets.token_urlsafe(24)}"
        self.codes[code] = IssuedCode(code, auth, user, granted, self.clock.now() + self.code_lifetime_seconds)
        return self._redirect(auth, {"code": code, **self.decision.redirect_params(auth, user, granted)})

    def answer_page(self, form: dict[str, list[str]], users: list[str]) -> SimResponse:
        """The POST of the consent page's form."""
        def one(name: str) -> str:
            return (form.get(name) or [""])[0]

        scopes = (form.get("scope") or []) if self.decision.granular else None
        return self.decide(one("request"), one("user"), allow=one("decision") == "allow", scopes=scopes,
                           users=users)

    # -- the token endpoint's authorization_code grant ---------------------------------------------------

    def redeem(self, code: str | None, client_id: str | None, redirect_uri: str | None,
               verifier: str | None) -> IssuedCode | CodeProblem:
        """Checks a code exchange; a code is good once. A replayed code is reported (its tokens must be
        revoked by the caller) and stays spent."""
        issued = self.codes.get(code or "")
        if issued is None or issued.request.client_id != client_id:
            return CodeProblem("invalid_grant", "Malformed or unknown authorization code.")
        if issued.redeemed:
            return CodeProblem("invalid_grant", "The authorization code was already redeemed.")
        issued.redeemed = True
        if issued.expires_at <= self.clock.now():
            return CodeProblem("invalid_grant", "The authorization code has expired.")
        if redirect_uri != issued.request.redirect_uri:
            return CodeProblem("redirect_uri_mismatch",
                               "The redirect_uri does not match the one of the authorization request.")
        if issued.request.code_challenge is not None and not verify_pkce(
                issued.request.code_challenge, issued.request.code_challenge_method, verifier):
            return CodeProblem("invalid_grant", "Missing code verifier." if verifier is None
                               else "The code_verifier does not match the code_challenge.")
        return issued

    # -- pages --------------------------------------------------------------------------------------------

    def _redirect(self, auth: AuthorizationRequest, params: dict[str, str]) -> SimResponse:
        if auth.state is not None:
            params = {**params, "state": auth.state}
        if self.decision.form_post and auth.params.get("response_mode") == "form_post":
            return SimResponse(200, self._form_post(auth.redirect_uri, params), {"Cache-Control": "no-store"})
        separator = "&" if urlsplit(auth.redirect_uri).query else "?"
        return SimResponse(302, None, {"Location": auth.redirect_uri + separator + urlencode(params),
                                       "Cache-Control": "no-store"})

    @staticmethod
    def _form_post(redirect_uri: str, params: dict[str, str]) -> Html:
        """OAuth 2.0 Form Post Response Mode: a page whose form posts the answer to the redirect URI."""
        e = html.escape
        fields = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in params.items())
        return Html(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Continue</title></head>'
                    f'<body onload="document.forms[0].submit()"><form method="post" action="{e(redirect_uri)}">'
                    f'{fields}<noscript><button type="submit">Continue</button></noscript></form></body></html>')

    def _page(self, status: int, error: str, message: str) -> SimResponse:
        title = html.escape(self.decision.title)
        return SimResponse(status, Html(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}: error</title></head>'
            f'<body><main><h1>{title}</h1><p role="alert">Error {status}: <code>{html.escape(error)}</code></p>'
            f"<p>{html.escape(message)}</p></main></body></html>"))

    def _consent_page(self, auth: AuthorizationRequest, users: list[str], preset: str | None) -> Html:
        e = html.escape
        options = "".join(f'<option value="{e(u)}"{" selected" if u == preset else ""}>{e(u)}</option>'
                          for u in users)
        if self.decision.granular:
            scopes = "".join(f'<li><label><input type="checkbox" name="scope" value="{e(s)}" checked> {e(s)}'
                             f"</label></li>" for s in auth.scopes)
        else:
            scopes = "".join(f"<li>{e(s)}</li>" for s in auth.scopes)
        return Html(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(self.decision.title)}: consent</title></head><body><main>"
            f"<h1>{e(self.decision.title)}</h1>"
            f'<form method="post" action="{e(self.decision.consent_path)}">'
            f'<input type="hidden" name="request" value="{e(auth.id)}">'
            f'<p><label for="user">Account</label> <select id="user" name="user">{options}</select></p>'
            f"<p><strong>{e(auth.client_id)}</strong> wants to:</p><ul>{scopes}</ul>"
            '<button type="submit" name="decision" value="allow">Allow</button> '
            '<button type="submit" name="decision" value="deny">Deny</button>'
            "</form></main></body></html>")
