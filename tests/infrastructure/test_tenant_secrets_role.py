"""AWS enforces the secrets' tenant name scheme a second time: the template's tenant-secrets roles (attribute-based
access control on the ``calsync-tenant`` tag) let a session tagged with one tenant reach a secret only when both
the secret's name and its tag name that tenant. The tenant-secrets role reads and stores refreshed tokens; the
manager role (connect page and integration API only) creates a secret named and tagged for its tenant, overwrites
one on a reconnect and retires one.
Evaluated over the translated template's own statements."""

from __future__ import annotations

import pytest

from devstack.cfn_template import translated
from tests.support.permissions import TRUST, Grant, Use, allows, function_roles, grants

TEMPLATE = translated()
GRANTS = grants(TEMPLATE)
ROLE = "TenantSecretsRole"
MANAGER = "TenantSecretsManagerRole"
SECRET_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                  "secretsmanager:UpdateSecretVersionStage")
MANAGER_ACTIONS = ("secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
                   "secretsmanager:UpdateSecretVersionStage", "secretsmanager:DeleteSecret")
ROLE_ACTIONS = [(ROLE, a) for a in SECRET_ACTIONS] + [(MANAGER, a) for a in MANAGER_ACTIONS]


def secret_use(action: str, session_tenant: str | None, name: str, tag: str | None, role: str = ROLE,
               request_tags: tuple[tuple[str, str], ...] = ()) -> Use:
    context: list[tuple[str, object]] = []
    if session_tenant is not None:
        context.append(("aws:PrincipalTag/calsync-tenant", session_tenant))
    if tag is not None:
        context.append(("secretsmanager:ResourceTag/calsync-tenant", tag))
    for key, value in request_tags:
        context.append((f"aws:RequestTag/{key}", value))
    if request_tags:
        context.append(("aws:TagKeys", tuple(key for key, _ in request_tags)))
    return Use("ConnectFunction" if role == MANAGER else "OnAppointmentChangeFunction", role, action,
               f"secret:{name}-AbCdEf", tuple(context))


def granted(use: Use) -> bool:
    return any(allows(grant, use) for grant in GRANTS)


@pytest.mark.parametrize(("role", "action"), ROLE_ACTIONS)
def test_a_session_reaches_its_tenants_secret(role, action):
    assert granted(secret_use(action, "northside", "calsync/northside/integrations/int-1", "northside", role))


@pytest.mark.parametrize(("role", "action"), ROLE_ACTIONS)
@pytest.mark.parametrize(("session", "name", "tag"), [
    ("northside", "calsync/southside/integrations/int-2", "southside"),  # another tenant's secret
    ("northside", "calsync/northside/integrations/int-2", "southside"),  # named for us, tagged for them
    ("northside", "calsync/southside/integrations/int-2", "northside"),  # tagged for us, named for them
    ("northside", "calsync/northside/integrations/int-2", None),  # untagged
    ("northside", "calsync/northside-east/integrations/int-2", "northside-east"),  # a longer tenant id
    ("northside", "other/northside/int-2", "northside"),  # outside calsync's names
    (None, "calsync/northside/integrations/int-1", "northside"),  # a session without the tenant tag
])
def test_a_session_reaches_no_other_secret(role, action, session, name, tag):
    assert not granted(secret_use(action, session, name, tag, role))


@pytest.mark.parametrize("action", ["secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret",
                                    "secretsmanager:TagResource", "secretsmanager:UntagResource",
                                    "secretsmanager:ListSecrets", "secretsmanager:CreateSecret"])
def test_a_session_can_neither_retag_nor_list_nor_delete(action):
    assert not granted(secret_use(action, "northside", "calsync/northside/integrations/int-1", "northside"))


TAGS = (("calsync-tenant", "northside"), ("calsync-integration", "int-1"))


@pytest.mark.parametrize("action", ["secretsmanager:CreateSecret", "secretsmanager:TagResource"])
def test_the_manager_creates_only_secrets_named_and_tagged_for_its_tenant(action):
    def creates(session: str | None, name: str, tags: tuple[tuple[str, str], ...]) -> bool:
        return granted(secret_use(action, session, name, None, MANAGER, tags))

    assert creates("northside", "calsync/northside/integrations/int-1", TAGS)
    assert not creates("northside", "calsync/southside/integrations/int-1", TAGS)  # named for another tenant
    assert not creates("northside", "calsync/northside/integrations/int-1",
                       (("calsync-tenant", "southside"), TAGS[1]))  # tagged for another tenant
    assert not creates("northside", "calsync/northside/integrations/int-1", (*TAGS, ("owner", "x")))  # other tags
    assert not creates("northside", "calsync/northside/integrations/int-1", ())  # untagged
    assert not creates(None, "calsync/northside/integrations/int-1", TAGS)  # a session without the tenant tag
    assert not granted(secret_use(action, "northside", "calsync/northside/integrations/int-1", "northside",
                                  ROLE, TAGS))  # the workers' role creates nothing


def test_no_other_role_holds_a_permission_on_tenant_secrets():
    """The functions' own roles may read the deployment's OAuth clients (``calsync/_deployment/oauth/*``) and
    nothing else in Secrets Manager."""
    holders = {g.role for g in GRANTS
               if (g.action.startswith("secretsmanager:") or g.action in ("*", "secretsmanager*"))
               and g.resource != "secret:calsync/_deployment/oauth/*"}
    assert holders == {ROLE, MANAGER}
    deployment = {(g.role, g.action) for g in GRANTS if g.resource.startswith("secret:calsync/_deployment/")}
    assert {action for _, action in deployment} == {"secretsmanager:GetSecretValue"}


@pytest.mark.parametrize(("role", "functions"), [
    (ROLE, ("OnAppointmentChangeFunction", "RetrySweeperFunction", "ConnectFunction", "IntegrationApiFunction")),
    (MANAGER, ("ConnectFunction", "IntegrationApiFunction")),
])
def test_only_the_functions_that_need_it_may_open_a_session_and_only_with_the_tenant_tag(role, functions):
    workers = {function_roles(TEMPLATE)[f] for f in functions}
    trust = [g for g in GRANTS if g.role == role + TRUST]
    assert {g.resource for g in trust} == workers
    tag = (("aws:RequestTag/calsync-tenant", "northside"), ("aws:TagKeys", ("calsync-tenant",)))
    for worker in workers:
        opens = Use("f", role + TRUST, "sts:TagSession", worker, tag)
        assert any(allows(g, opens) for g in trust)
        extra = Use("f", role + TRUST, "sts:TagSession", worker, (*tag[:1], ("aws:TagKeys", ("calsync-tenant", "x"))))
        assert not any(allows(g, extra) for g in trust)
        assert not any(allows(g, Use("f", role + TRUST, "sts:TagSession", worker, ())) for g in trust)
    assert not any(isinstance(g, Grant) and g.resource == function_roles(TEMPLATE)["FeedFunction"] for g in trust)
