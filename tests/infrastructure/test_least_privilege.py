"""Least privilege, measured: every role of the deployed template grants exactly what the code calls.

Three sides, each compared with the others, and every case generated from the template (a new function, role
or statement is covered without touching this file):

* the **template** as SAM deploys it (translated by aws-sam-translator): every role's grants;
* the **declared** map (``tests.support.permissions.DECLARED``): what each role is meant to use;
* the **measured** calls: every AWS call the functions' code paths made during the integration tests
  (``tests.support.aws_calls``), plus what AWS does with a function's role on its behalf.

``test_template_grants_exactly_what_is_declared`` runs anywhere. The measured tests run after the whole
integration suite in the same session (``tests/conftest.py`` moves them last, and deselects them when the
session does not hold every integration module, so a partial run cannot pass or fail them by accident):
``test_every_grant_is_used`` fails on a permission no code path uses, ``test_every_call_is_granted`` on a
call the role does not allow (conditions evaluated: ``events:source``, the tenant tags of secrets and sessions).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest

from devstack.cfn_template import translated
from devstack.stack import LocalStack
from tests.support import aws_calls
from tests.support.permissions import DECLARED, Grant, Use, allows, function_roles, grants, platform_uses, uses

TEMPLATE = translated()
GRANTS = grants(TEMPLATE)
ROLES = sorted({g.role for g in GRANTS} | set(function_roles(TEMPLATE).values()))
FUNCTIONS = sorted(function_roles(TEMPLATE))


@lru_cache(maxsize=1)
def _measured(stack: LocalStack) -> tuple[Use, ...]:
    calls = aws_calls.calls()
    assert any(call.function for call in calls), "no function's code path made an AWS call in this session"
    secrets = stack.client("secretsmanager")
    tags: dict[str, dict[str, str]] = {}
    for secret in {str(c.param("SecretId")) for c in calls if c.function and c.service == "secretsmanager"}:
        try:
            described = secrets.describe_secret(SecretId=secret)
        except secrets.exceptions.ResourceNotFoundException:
            continue
        tags[secret] = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
    return tuple(uses(TEMPLATE, calls, tags)) + tuple(platform_uses(TEMPLATE))


def _describe(items: Any) -> str:
    return "\n  ".join(sorted({str(item) for item in items}))


@pytest.mark.parametrize("role", ROLES)
def test_template_grants_exactly_what_is_declared(role: str) -> None:
    granted = {(g.action, g.resource) for g in GRANTS if g.role == role}
    declared = DECLARED.get(role)
    assert declared is not None, f"{role} is not declared in tests/support/permissions.py: say what it may use"
    assert not granted - declared, f"{role} grants more than declared:\n  {_describe(granted - declared)}"
    assert not declared - granted, f"{role} lacks declared permissions:\n  {_describe(declared - granted)}"


@pytest.mark.after_integration
@pytest.mark.parametrize("grant", GRANTS, ids=lambda g: g.id)
def test_every_grant_is_used(grant: Grant, stack: LocalStack) -> None:
    used = [use for use in _measured(stack) if allows(grant, use)]
    assert used, f"{grant.role} grants {grant.action} on {grant.resource} {grant.conditions or ''}, " \
                 "but no code path of any function used it in the integration tests: remove it"


@pytest.mark.after_integration
@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_call_is_granted(function: str, stack: LocalStack) -> None:
    refused = [use for use in _measured(stack) if use.function == function
               and not any(allows(grant, use) for grant in GRANTS)]
    assert not refused, f"{function}'s code made calls its roles do not allow:\n  " + _describe(
        f"{u.role}: {u.action} on {u.resource} {dict(u.context) or ''} ({u.why})" for u in refused)
