"""The tenant registry: who may speak for each tenant (``calsync.services.senders`` decides with it).

A sender is the pair EventBridge puts on every event: the ``account`` that called PutEvents (set by
EventBridge itself, so it cannot be forged) and the ``source`` (chosen by the caller, and limited per
principal by IAM's ``events:source`` condition).
"""

from __future__ import annotations

from calsync.store._errors import translated
from calsync.store.tables import TenantItem

Sender = tuple[str, str]  # (account, source)


def _encoded(sender: Sender) -> str:
    return f"{sender[0]} {sender[1]}"


def senders(tenant_id: str) -> frozenset[Sender] | None:
    """The tenant's senders; None when the tenant is not registered at all."""
    with translated("GetItem"):
        try:
            item = TenantItem.get(tenant_id)
        except TenantItem.DoesNotExist:
            return None
    pairs = (value.split(" ", 1) for value in item.senders or ())
    return frozenset((account, source) for account, source in pairs)


def allow(tenant_id: str, sender: Sender) -> None:
    """Lets ``sender`` speak for the tenant (registering the tenant if new)."""
    with translated("UpdateItem"):
        TenantItem(tenant_id).update(actions=[TenantItem.senders.add({_encoded(sender)})])


def revoke(tenant_id: str, sender: Sender) -> None:
    """Stops ``sender`` speaking for the tenant (the tenant stays registered, perhaps with no sender)."""
    with translated("UpdateItem"):
        TenantItem(tenant_id).update(actions=[TenantItem.senders.delete({_encoded(sender)})])
