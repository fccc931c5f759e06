"""The token side of both simulated identity providers: clients, consents (grants), refresh and access
tokens, and the switches every provider offers (revoke a consent, expire access tokens).

A :class:`Grant` is one consent of one user to one client; its refresh tokens (several, when a
provider rotates them) and access tokens all die with it. Tests can see which tokens were ever issued
(:meth:`TokenBook.issued_refresh_tokens`) and find any of them in a blob of text
(:meth:`TokenBook.tokens_in`): that is how a test proves a disconnected integration holds no usable
token anywhere, for Microsoft too, which has no revocation endpoint.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from devstack.sims.http import Clock, Simulator

_TOKEN = re.compile(r"(?:rt|at)-[A-Za-z0-9_-]{32}")


@dataclass
class Grant:
    """One consent: a user (or, with client credentials, a tenant) granting a client access."""

    client_id: str
    subject: str
    tenant: str = ""
    scope: str = ""
    application: bool = False
    revoked: bool = False
    nonce: str | None = None
    codes: list[str] = field(default_factory=list)

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())


class TokenBook:
    """Clients, refresh tokens and access tokens of one simulated identity provider."""

    def __init__(self, access_lifetime_seconds: int = 3600, clock: Clock | None = None) -> None:
        self.access_lifetime_seconds = access_lifetime_seconds
        self.clock = clock or Clock()
        self.clients: dict[str, str] = {}
        self._refresh: dict[str, Grant] = {}
        self._access: dict[str, tuple[Grant, float]] = {}

    def register_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    def client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        return client_id is not None and client_secret is not None and self.clients.get(client_id) == client_secret

    def consent(self, client_id: str, subject: str, *, tenant: str = "", scope: str = "") -> str:
        """A fresh refresh token, as an authorization-code exchange would return it."""
        return self.refresh_token(Grant(client_id, subject, tenant, scope))

    def refresh_token(self, grant: Grant) -> str:
        token = f"rt-{secrets.token_urlsafe(24)}"
        self._refresh[token] = grant
        return token

    def redeem(self, refresh_token: str | None, client_id: str | None) -> Grant | None:
        """The grant behind a refresh token, if it is known, not revoked and issued to this client."""
        grant = self._refresh.get(refresh_token or "")
        return grant if grant is not None and not grant.revoked and grant.client_id == client_id else None

    def rotate(self, refresh_token: str) -> str:
        """The next refresh token of the same grant (the old one stays valid, as Microsoft does)."""
        return self.refresh_token(self._refresh[refresh_token])

    def issue(self, grant: Grant) -> tuple[str, int]:
        token = f"at-{secrets.token_urlsafe(24)}"
        self._access[token] = (grant, self.clock.now() + self.access_lifetime_seconds)
        return token, self.access_lifetime_seconds

    def application_grant(self, client_id: str, tenant: str) -> Grant:
        return Grant(client_id, subject=f"app:{client_id}", tenant=tenant, application=True)

    def bearer(self, token: str | None) -> Grant | None:
        """The grant behind a live access token, else None (unknown, expired or revoked)."""
        entry = self._access.get(token or "")
        if entry is None or entry[1] <= self.clock.now() or entry[0].revoked:
            return None
        return entry[0]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now expired (the next API call answers 401)."""
        self._access = {token: (grant, 0.0) for token, (grant, _) in self._access.items()}

    def _grants(self) -> list[Grant]:
        found = {id(g): g for g in self._refresh.values()}
        found.update({id(g): g for g, _ in self._access.values()})
        return list(found.values())

    def revoke(self, subject: str | None = None, client_id: str | None = None) -> None:
        """Revokes the consents of ``subject`` (everyone's without one), to ``client_id`` (every client's
        without one): their refresh and access tokens die."""
        for grant in self._grants():
            if subject in (None, grant.subject) and client_id in (None, grant.client_id):
                grant.revoked = True

    def revoke_token(self, token: str) -> bool:
        """RFC 7009 as Google does it: revoking any token of a consent withdraws the whole consent of that
        user to that client. False when the token is unknown or already dead."""
        grant = self._refresh.get(token) or (self._access[token][0] if token in self._access else None)
        if grant is None or grant.revoked:
            return False
        self.revoke(grant.subject, grant.client_id)
        return True

    def revoke_code(self, code: str) -> None:
        """A replayed authorization code: every token issued from it is revoked (RFC 6749 §4.1.2)."""
        for grant in self._grants():
            if code in grant.codes:
                grant.revoked = True

    def live_refresh_tokens(self, subject: str) -> list[str]:
        return [t for t, g in self._refresh.items() if g.subject == subject and not g.revoked]

    def issued_refresh_tokens(self, subject: str, client_id: str | None = None) -> list[str]:
        """Every refresh token ever issued for ``subject`` (to ``client_id``), revoked ones included."""
        return [t for t, g in self._refresh.items() if g.subject == subject and client_id in (None, g.client_id)]

    def tokens_in(self, text: str, *, live_only: bool = True) -> list[str]:
        """The refresh and access tokens this provider issued that appear in ``text`` (a dumped secret, a
        log): with ``live_only``, only those that would still work (not revoked, not expired)."""
        found = []
        for token in dict.fromkeys(_TOKEN.findall(text)):
            if token in self._refresh:
                alive = not self._refresh[token].revoked
            elif token in self._access:
                alive = self.bearer(token) is not None
            else:
                continue
            if alive or not live_only:
                found.append(token)
        return found

    def clear(self) -> None:
        self.clients.clear()
        self._refresh.clear()
        self._access.clear()


class OAuthSimulator(Simulator):
    """A simulator with an OAuth token endpoint: the consent switches every provider offers."""

    tokens: TokenBook

    def revoke(self, user: str | None = None) -> None:
        """The clinician (or an admin) removed calsync's access: refresh tokens now get ``invalid_grant``."""
        with self._lock:
            self.tokens.revoke(user)

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far is now expired (the next API call gets 401)."""
        with self._lock:
            self.tokens.expire_access_tokens()

    def tokens_in(self, text: str, *, live_only: bool = True) -> list[str]:
        """See :meth:`TokenBook.tokens_in`."""
        with self._lock:
            return self.tokens.tokens_in(text, live_only=live_only)

    def issued_refresh_tokens(self, user: str, client_id: str | None = None) -> list[str]:
        with self._lock:
            return self.tokens.issued_refresh_tokens(user, client_id)


def client_credentials(form: dict[str, str], basic: tuple[str, str] | None) -> tuple[str | None, str | None]:
    """The client id and secret of a token request: HTTP Basic (client_secret_basic) or the form
    (client_secret_post), as both providers accept."""
    if basic is not None:
        return basic
    return form.get("client_id"), form.get("client_secret")


def jwt_unsigned(claims: dict[str, Any]) -> str:
    """An id_token for the simulators: a JWT whose claims clients decode (as msal does) without a
    signature check, which OpenID Connect allows for a token received straight from the token endpoint."""
    import base64
    import json

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return ".".join((part({"typ": "JWT", "alg": "none"}), part(claims), ""))
