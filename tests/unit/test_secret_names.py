"""The tenant name scheme of secrets (``calsync.domain.secret_names``): a record of one tenant can name only
that tenant's secrets, and nothing of the check depends on the record being well-meaning."""

from __future__ import annotations

import pytest

from calsync.domain import secret_names
from calsync.domain.secret_names import SecretOutsideTenant, owner_segment

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


@pytest.mark.parametrize("ref", [
    "calsync/northside/integrations/int-42",
    f"{ARN}calsync/northside/integrations/int-42-AbCdEf",
    f"{ARN}calsync/northside/app/google",  # a partial ARN (no random suffix)
])
def test_a_tenant_may_name_its_own_secrets_by_name_or_arn(ref):
    assert owner_segment("northside", ref, region="us-east-1", account="123456789012") == "northside"


@pytest.mark.parametrize("ref", [
    "calsync/southside/integrations/int-42",  # another tenant
    f"{ARN}calsync/southside/integrations/int-42-AbCdEf",
    "calsync/northside-east/integrations/int-42",  # a tenant whose id starts with this one's
    "calsync/northside",  # the tenant's prefix alone names no secret
    "calsync/northside/",
    "calsync//northside/x",
    "calsync/northside/../southside/x",
    "calsync/northside/*",
    "calsync/*/integrations/int-42",
    "other/northside/integrations/int-42",  # outside calsync's namespace
    "northside/integrations/int-42",
    "",
    "arn:aws:iam::123456789012:role/anything",
    f"{ARN}",
])
def test_any_other_reference_is_refused(ref):
    with pytest.raises(SecretOutsideTenant):
        owner_segment("northside", ref)


@pytest.mark.parametrize(("region", "account"), [("eu-west-1", "123456789012"), ("us-east-1", "210987654321")])
def test_an_arn_in_another_region_or_account_is_refused(region, account):
    with pytest.raises(SecretOutsideTenant, match="another region or account"):
        owner_segment("northside", f"{ARN}calsync/northside/integrations/int-42-AbCdEf", region=region,
                      account=account)


@pytest.mark.parametrize("tenant_id", ["a/b", "*", "north side", "", "-lead", "x" * 129, "tenant\n"])
def test_a_tenant_id_that_could_reach_beyond_its_prefix_owns_nothing(tenant_id):
    with pytest.raises(SecretOutsideTenant):
        secret_names.segment(tenant_id)
    with pytest.raises(SecretOutsideTenant):
        owner_segment(tenant_id, f"calsync/{tenant_id}/x")


def test_a_colon_in_a_tenant_id_is_written_as_plus_and_no_two_tenants_share_a_segment():
    assert secret_names.name("acme:north", "integrations/int-1") == "calsync/acme+north/integrations/int-1"
    assert owner_segment("acme:north", "calsync/acme+north/integrations/int-1") == "acme+north"
    with pytest.raises(SecretOutsideTenant):
        owner_segment("acme:north", "calsync/acme:north/integrations/int-1")  # not a valid secret name anyway
    with pytest.raises(SecretOutsideTenant):
        secret_names.segment("acme+north")  # '+' is not in tenant ids, so no tenant owns another's segment


@pytest.mark.parametrize("path", ["", "/x", "x/", "a//b", "x*", "x y"])
def test_names_are_built_only_from_well_formed_paths(path):
    with pytest.raises(SecretOutsideTenant):
        secret_names.name("northside", path)
