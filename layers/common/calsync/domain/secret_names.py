"""Which secrets belong to which tenant: the name scheme every secret calsync reads must follow.

Every secret lives under its tenant's own prefix and carries its tenant as a tag::

    name   calsync/<tenant segment>/<anything>       e.g. calsync/northside-health/integrations/int-42
    tag    calsync-tenant = <tenant segment>

The tenant segment is the tenant id, with ``:`` (allowed in ids, not in secret names) written as ``+``
(allowed in secret names, not in ids), so two tenants never share a segment and one tenant's prefix is
never a prefix of another's (a segment holds no ``/``).

:func:`owner_segment` is the one check, made before any Secrets Manager call
(``calsync.aws.secret_store``): an integration record of tenant A that names a secret of tenant B, or any
secret outside the scheme, is refused without a call. AWS enforces the same rule a second time: the call is
made with credentials of a role session tagged with the segment, whose policy allows only secrets named
under ``calsync/${aws:PrincipalTag/calsync-tenant}/`` *and* tagged with that same segment (template.yaml,
``TenantSecretsRole``).
"""

from __future__ import annotations

import re

PREFIX = "calsync"
TAG_KEY = "calsync-tenant"
"""The tag on each secret, and the session tag of the role session that may read it."""

_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")  # the contract's Identifier
_PART = r"(?!\.\.?(?:/|$))[A-Za-z0-9_+=.@-]+"  # what Secrets Manager allows; no "." or ".." to mislead a reader
_REST = re.compile(f"{_PART}(?:/{_PART})*")
_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                  r"secret:(?P<name>.+)")


class SecretOutsideTenant(ValueError):
    """A secret reference that is not one of this tenant's secrets (its message names no secret value)."""


def segment(tenant_id: str) -> str:
    """The tenant's part of its secret names, session tag and secret tag."""
    if not _TENANT_ID.fullmatch(tenant_id):
        raise SecretOutsideTenant("tenant id cannot own secrets (letters, digits, ._:@- up to 128)")
    return tenant_id.replace(":", "+")


def name(tenant_id: str, path: str) -> str:
    """The secret name for ``path`` (e.g. ``integrations/int-42``) in the tenant's namespace."""
    if not _REST.fullmatch(path):
        raise SecretOutsideTenant("secret path must be letters, digits, _+=.@- separated by /")
    return f"{PREFIX}/{segment(tenant_id)}/{path}"


def owner_segment(tenant_id: str, secret_ref: str, *, region: str | None = None,
                  account: str | None = None) -> str:
    """The tenant segment when ``secret_ref`` (a name or an ARN) is one of ``tenant_id``'s secrets; raises
    :class:`SecretOutsideTenant` otherwise. An ARN must also be in ``region`` and ``account`` when given."""
    tenant = segment(tenant_id)
    secret_name = secret_ref
    if secret_ref.startswith("arn:"):
        arn = _ARN.fullmatch(secret_ref)
        if arn is None:
            raise SecretOutsideTenant("secret reference is not a Secrets Manager secret ARN")
        if (region and arn["region"] != region) or (account and arn["account"] != account):
            raise SecretOutsideTenant("secret reference is in another region or account")
        secret_name = arn["name"]
    head, _, rest = secret_name.partition("/")
    owner, _, path = rest.partition("/")
    if head != PREFIX or owner != tenant or not _REST.fullmatch(path):
        raise SecretOutsideTenant("secret reference is outside the tenant's calsync/<tenant>/ namespace")
    return tenant
