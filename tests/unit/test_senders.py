"""Who may speak for a tenant (``calsync.services.senders``), over a stand-in registry: the sender is the pair
(account, source), both must match, an unregistered tenant has no sender, and a warm worker reads the registry
once a minute per tenant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calsync.core.errors import ContractError
from calsync.services import senders
from tests.support.appointments import envelope

VENDOR = ("123456789012", "ehr.test")


class Registry:
    def __init__(self) -> None:
        self.entries: dict[str, frozenset[tuple[str, str]]] = {"tenant-1": frozenset({VENDOR})}
        self.reads = 0

    def senders(self, tenant_id: str) -> frozenset[tuple[str, str]] | None:
        self.reads += 1
        return self.entries.get(tenant_id)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    stand_in = Registry()
    monkeypatch.setattr("calsync.store.tenants.senders", stand_in.senders)
    senders.forget()
    yield stand_in
    senders.forget()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr("calsync.services.senders.time.monotonic", lambda: now[0])
    return now


def test_the_registered_sender_speaks_for_its_tenant(registry):
    senders.check(envelope(), "tenant-1")


@pytest.mark.parametrize(("account", "source"), [("210987654321", "ehr.test"), ("123456789012", "ehr.other"),
                                                  ("", "ehr.test"), ("123456789012", "")])
def test_another_account_or_source_may_not(registry, account, source):
    with pytest.raises(senders.SenderNotAllowedError) as refused:
        senders.check(envelope() | {"account": account, "source": source}, "tenant-1")
    assert isinstance(refused.value, ContractError)  # poison: the handler dead-letters it with the reason
    assert str(refused.value) == f"source {source} in account {account} may not speak for tenant tenant-1"


def test_the_registered_sender_may_not_speak_for_another_tenant(registry):
    registry.entries["tenant-2"] = frozenset({("210987654321", "ehr.other")})
    with pytest.raises(senders.SenderNotAllowedError, match="may not speak for tenant tenant-2"):
        senders.check(envelope(), "tenant-2")
    with pytest.raises(senders.SenderNotAllowedError, match="tenant tenant-3 is not registered"):
        senders.check(envelope(), "tenant-3")


def test_the_reason_carries_no_patient_detail(registry):
    with pytest.raises(senders.SenderNotAllowedError) as refused:
        senders.check(envelope() | {"source": "ehr.other"}, "tenant-1")
    detail = envelope()["detail"]
    for value in (detail["notes"], detail["visit_type"], detail["client"]["first_name"], detail["client"]["last_name"]):
        assert value not in str(refused.value)


def test_a_warm_worker_reads_the_registry_once_a_minute(registry, clock):
    for _ in range(5):
        senders.check(envelope(), "tenant-1")
    assert registry.reads == 1
    clock[0] += senders.KNOWN_SECONDS - 1
    senders.check(envelope(), "tenant-1")
    assert registry.reads == 1
    registry.entries["tenant-1"] = frozenset()  # the sender was revoked: refused once the minute is over
    clock[0] += 2
    with pytest.raises(senders.SenderNotAllowedError):
        senders.check(envelope(), "tenant-1")
    assert registry.reads == 2


def test_an_unregistered_tenant_is_looked_up_again_after_a_few_seconds(registry, clock):
    for _ in range(3):
        with pytest.raises(senders.SenderNotAllowedError):
            senders.check(envelope(), "tenant-new")
    assert registry.reads == 1
    registry.entries["tenant-new"] = frozenset({VENDOR})  # onboarded meanwhile
    clock[0] += senders.UNKNOWN_SECONDS + 0.1
    senders.check(envelope(), "tenant-new")
    assert registry.reads == 2


@pytest.mark.parametrize(("account", "source"), [("12345", "ehr.test"), ("123456789012", "other.source"),
                                                  ("12345678901x", "ehr.test")])
def test_a_malformed_sender_cannot_be_registered(account, source):
    with pytest.raises(ValueError, match="12-digit account"):
        senders.allow("tenant-1", account, source)
