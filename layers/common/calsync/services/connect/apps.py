"""The deployment's OAuth clients (one app secret per provider) and the exact redirect URIs registered
with them. A provider whose app secret is not configured, or cannot be read, is not offered."""

from __future__ import annotations

from calsync.aws import secret_store
from calsync.core.errors import CalSyncError
from calsync.core.settings import get_settings
from calsync.domain.model import Provider
from calsync.oauth.consent import OAuthClient
from calsync.services.connect.links import public_base

CALLBACK_PATH = "/connect/oauth/{provider}/callback"
MICROSOFT_AUTHORITY = "common"  # work or school accounts and personal Outlook.com accounts


def app_secret_name(provider: Provider) -> str | None:
    settings = get_settings()
    return {Provider.GOOGLE: settings.google_oauth_app_secret,
            Provider.MICROSOFT: settings.microsoft_oauth_app_secret}.get(provider)


def client(provider: Provider) -> OAuthClient | None:
    """The provider's OAuth client, or None when it is not configured here."""
    name = app_secret_name(provider)
    if not name:
        return None
    from botocore.exceptions import ClientError

    try:
        value = secret_store.read_deployment(name, get_settings().secret_cache_seconds)
    except (CalSyncError, ClientError):  # missing, unreadable or not JSON: the provider is simply not offered
        return None
    client_id, client_secret = value.get("client_id"), value.get("client_secret")
    if not (isinstance(client_id, str) and client_id and isinstance(client_secret, str) and client_secret):
        return None
    return OAuthClient(client_id, client_secret)


def redirect_uri(provider: Provider) -> str:
    """Built from the deployment's public base URL, never from the request: exactly what is registered."""
    return public_base() + CALLBACK_PATH.format(provider=provider.value)


def microsoft_authority() -> str:
    return f"{get_settings().microsoft_login_base.rstrip('/')}/{MICROSOFT_AUTHORITY}"


def offered() -> list[Provider]:
    """What the page offers: the OAuth providers configured here, CalDAV (iCloud and others), the feed."""
    providers = [p for p in (Provider.GOOGLE, Provider.MICROSOFT) if client(p) is not None]
    return [*providers, Provider.CALDAV, Provider.ICS]
