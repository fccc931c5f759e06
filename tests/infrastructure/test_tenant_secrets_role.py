"""AWS enforces the secrets' tenant name scheme a second time: the template's tenant-secrets role (attribute-based
access control on the ``calsync-tenant`` tag) lets a session tagged with one tenant reach a secret only when both
the secret's name and its tag name that tenant. Evaluated over the translated template's own statements."""

from __future__ import annotations

import pytest

from devstack.cfn_template import translated
from tests.support.permissions import TRUST, Grant, Use, allows, function_roles, grants

TEMPLATE = translated()
GRANTS = grants(TEMPLATE)
ROLE = "TenantSecretsRole"
SECRET_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                  "secretsmanager:UpdateSecretVersionStage")


def secret_use(action: str, session_tenant: str | None, name: str, tag: str | None) -> Use:
    context = []
    if session_tenant is not None:
        context.append(("aws:PrincipalTag/calsync-tenant", session_tenant))
    if tag is not None:
        context.append(("secretsmanager:ResourceTag/calsync-tenant", tag))
    return Use("OnAppointmentChangeFunction", ROLE, action, f"secret:{name}-AbCdEf", tuple(context))


def granted(use: Use) -> bool:
    return any(allows(grant, use) for grant in GRANTS)


@pytest.mark.parametrize("action", SECRET_ACTIONS)
def test_a_session_reaches_its_tenants_secret(action):
    assert granted(secret_use(action, "northside", "calsync/northside/integrations/int-1", "northside"))


@pytest.mark.parametrize("action", SECRET_ACTIONS)
@pytest.mark.parametrize(("session", "name", "tag"), [
    ("northside", "calsync/southside/integrations/int-2", "southside"),  # another tenant's secret
    ("northside", "calsync/northside/integrations/int-2", "southside"),  # named for us, tagged for them
    ("northside", "calsync/southside/integrations/int-2", "northside"),  # tagged for us, named for them
    ("northside", "calsync/northside/integrations/int-2", None),  # untagged
    ("northside", "calsync/northside-east/integrations/int-2", "northside-east"),  # a longer tenant id
    ("northside", "other/northside/int-2", "northside"),  # outside calsync's names
    (None, "calsync/northside/integrations/int-1", "northside"),  # a session without the tenant tag
])
def test_a_session_reaches_no_other_secret(action, session, name, tag):
    assert not granted(secret_use(action, session, name, tag))


@pytest.mark.parametrize("action", ["secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret",
                                    "secretsmanager:TagResource", "secretsmanager:UntagResource",
                                    "secretsmanager:ListSecrets", "secretsmanager:CreateSecret"])
def test_a_session_can_neither_retag_nor_list_nor_delete(action):
    assert not granted(secret_use(action, "northside", "calsync/northside/integrations/int-1", "northside"))


def test_no_other_role_holds_any_secrets_manager_permission():
    holders = {g.role for g in GRANTS if g.action.startswith("secretsmanager:") or g.action in ("*", "secretsmanager*")}
    assert holders == {ROLE}


def test_only_the_workers_that_sync_may_open_a_session_and_only_with_the_tenant_tag():
    workers = {function_roles(TEMPLATE)[f] for f in ("OnAppointmentChangeFunction", "RetrySweeperFunction")}
    trust = [g for g in GRANTS if g.role == ROLE + TRUST]
    assert {g.resource for g in trust} == workers
    tag = (("aws:RequestTag/calsync-tenant", "northside"), ("aws:TagKeys", ("calsync-tenant",)))
    for worker in workers:
        opens = Use("f", ROLE + TRUST, "sts:TagSession", worker, tag)
        assert any(allows(g, opens) for g in trust)
        extra = Use("f", ROLE + TRUST, "sts:TagSession", worker, (*tag[:1], ("aws:TagKeys", ("calsync-tenant", "x"))))
        assert not any(allows(g, extra) for g in trust)
        assert not any(allows(g, Use("f", ROLE + TRUST, "sts:TagSession", worker, ())) for g in trust)
    assert not any(isinstance(g, Grant) and g.resource == function_roles(TEMPLATE)["FeedFunction"] for g in trust)
