"""Tenant boundaries, end to end through the real bus → rule → queue → handler path.

* Who may speak for a tenant: an event whose sender (EventBridge ``account`` and ``source``) is not registered
  for the tenant it names goes to the dead-letter queue with the reason, and changes nothing.
* Whose secrets an integration may use: a record that names another tenant's secret is parked without a
  single Secrets Manager call; every secret is read in a role session tagged with the integration's tenant.
"""

from __future__ import annotations

from typing import Any

from calsync.aws import secret_store
from calsync.core.settings import get_settings
from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import IntegrationStatus, PrivacySettings
from calsync.services import senders, writers
from calsync.store import appointments, integrations
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.stack import ACCOUNT_ID, EHR_SOURCE, LocalStack, StackResources
from tests.support import aws_calls
from tests.support.pipeline import dead_letters, deliver
from tests.support.reliability import Clock, Ehr, entry, shown


def put_entry(appointment: AppointmentChanged, source: str = EHR_SOURCE) -> dict[str, Any]:
    return {"Source": source, "DetailType": "Appointment Changed", "Detail": appointment.model_dump_json()}


def clinician_of(stack: LocalStack, tenant_id: str) -> CalDavClinician:
    return connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-okafor",
                          privacy=PrivacySettings(show_practice_name=False))


def rejections(stack: LocalStack, resources: StackResources, tenant_id: str) -> list[str | None]:
    return [m["reason"] for m in dead_letters(stack, resources) if m["body"]["detail"]["tenant_id"] == tenant_id]


# -- who may speak for a tenant ----------------------------------------------------------------------------


def test_a_spoofed_tenant_event_is_dead_lettered_and_the_allowed_one_syncs(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str) -> None:
    clinician = clinician_of(stack, tenant_id)  # onboarding: the local EHR (ehr.example) speaks for the tenant
    ehr = Ehr(tenant_id, Clock())
    spoofed = ehr.change("apt-1", 9)

    # a principal allowed to put some other ehr.* source claims the tenant
    deliver(stack, stack_resources, [put_entry(spoofed, source="ehr.spoofer")])
    assert shown(clinician) == []
    assert appointments.get(tenant_id, "apt-1") is None  # nothing stored, so nothing for the sweeper to repair
    assert rejections(stack, stack_resources, tenant_id) == [
        f"source ehr.spoofer in account {ACCOUNT_ID} may not speak for tenant {tenant_id}"]

    # the tenant's own EHR is applied
    allowed = ehr.change("apt-1", 10)
    deliver(stack, stack_resources, [put_entry(allowed)])
    assert shown(clinician) == [("#MRN-apt-1", "10:00")]
    assert rejections(stack, stack_resources, tenant_id) == []


def test_an_event_for_an_unregistered_tenant_is_dead_lettered(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str) -> None:
    deliver(stack, stack_resources, [put_entry(Ehr(tenant_id, Clock()).change("apt-1", 9))])
    assert appointments.get(tenant_id, "apt-1") is None
    assert rejections(stack, stack_resources, tenant_id) == [
        f"tenant {tenant_id} is not registered: no sender may speak for it"]


def test_a_revoked_sender_is_refused_and_a_warm_worker_reads_the_registry_once(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str) -> None:
    clinician = clinician_of(stack, tenant_id)
    ehr = Ehr(tenant_id, Clock())
    senders.forget()
    registry_reads: list[aws_calls.Call] = []

    def note(call: aws_calls.Call) -> None:
        if call.operation == "GetItem" and call.param("TableName") == get_settings().tenants_table:
            registry_reads.append(call)

    with aws_calls.watching(note):
        deliver(stack, stack_resources, [put_entry(ehr.change(f"apt-{n}", 8 + n)) for n in range(1, 4)])
    assert len(shown(clinician)) == 3
    assert len(registry_reads) == 1  # three changes, one registry read: it is cached while warm

    senders.revoke(tenant_id, ACCOUNT_ID, EHR_SOURCE)
    deliver(stack, stack_resources, [put_entry(ehr.change("apt-4", 13))])
    assert len(shown(clinician)) == 3
    assert rejections(stack, stack_resources, tenant_id) == [
        f"source {EHR_SOURCE} in account {ACCOUNT_ID} may not speak for tenant {tenant_id}"]


# -- whose secrets an integration may use ------------------------------------------------------------------


def secret_calls(calls: list[aws_calls.Call]) -> list[str]:
    return [call.operation for call in calls if call.service in ("secretsmanager", "sts")]


def test_a_record_naming_another_tenants_secret_is_parked_without_reading_it(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str) -> None:
    victim = clinician_of(stack, f"{tenant_id}-victim")
    attacker = clinician_of(stack, tenant_id)
    integrations.put(attacker.integration.model_copy(update={"secret_ref": victim.integration.secret_ref}))
    writers.forget()
    secret_store.forget()
    seen: list[aws_calls.Call] = []
    appointment = Ehr(tenant_id, Clock()).change("apt-1", 9)

    with aws_calls.watching(seen.append):
        deliver(stack, stack_resources, [put_entry(appointment)])

    assert secret_calls(seen) == []  # refused before any call: no session, no read
    assert shown(attacker) == [] and shown(victim) == []
    stored = integrations.get(attacker.integration.integration_id)
    assert stored is not None and stored.status is IntegrationStatus.ERROR
    assert stored.last_error == secret_store.OUTSIDE_TENANT
    parked = entry(attacker, appointment)
    assert parked is not None and parked.state is not None and parked.state.value == "parked"


def test_secrets_are_read_in_a_session_tagged_with_the_integrations_tenant_and_not_again_when_warm(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str) -> None:
    from calsync.aws import tenant_session

    clinician = clinician_of(stack, tenant_id)
    ehr = Ehr(tenant_id, Clock())
    writers.forget()
    secret_store.forget()
    tenant_session.forget()
    seen: list[aws_calls.Call] = []
    with aws_calls.watching(seen.append):
        deliver(stack, stack_resources, [put_entry(ehr.change("apt-1", 9))])
    assert secret_calls(seen) == ["AssumeRole", "GetSecretValue"]
    assume, read = (call for call in seen if call.service in ("secretsmanager", "sts"))
    assert dict(assume.param("Tags")) == {"calsync-tenant": tenant_id}
    session = aws_calls.assumed(read.access_key)
    assert session is not None and session[1] == {"calsync-tenant": tenant_id}
    assert read.param("SecretId") == clinician.integration.secret_ref

    seen.clear()
    writers.forget()  # a new provider instance, as after a settings change: the secret and the session stay warm
    with aws_calls.watching(seen.append):
        deliver(stack, stack_resources, [put_entry(ehr.change("apt-2", 11))])
    assert secret_calls(seen) == []
    assert shown(clinician) == [("#MRN-apt-1", "09:00"), ("#MRN-apt-2", "11:00")]
