"""Integrations: a clinician's calendar connections, their settings and their status."""

from __future__ import annotations

import datetime as dt
import json
import time

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from calsync.domain.integration_values import STORED
from calsync.domain.model import Integration, IntegrationStatus, checked
from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store._paging import one_page
from calsync.store.appointments import practitioner_key
from calsync.store.tables import IntegrationItem

_RUNTIME_FIELDS = {"status", "status_reason", "last_synced_at", "last_error"}


def _to_domain(item: IntegrationItem) -> Integration:
    config = json.loads(item.config)
    return Integration.model_validate(
        {
            **config,
            "status": item.status,
            "status_reason": item.status_reason,
            "last_synced_at": _time.moment(item.last_synced_at),
            "last_error": item.last_error,
        },
        context={STORED: True},  # as stored: one written before today's rules must still sync
    )


def put(integration: Integration) -> None:
    """Creates or replaces an integration (settings and status). Its values are checked once more here
    (a field may have been set after it was built): a bad one is refused now, never met when serving."""
    integration = checked(integration)
    config = integration.model_dump(mode="json", exclude=_RUNTIME_FIELDS)
    item = IntegrationItem(
        integration.integration_id,
        owner_key=integration.owner_key,
        config=json.dumps(config, sort_keys=True),
        status=integration.status.value,
        status_reason=integration.status_reason,
        status_changed_at=int(time.time()),
        last_synced_at=_time.epoch(integration.last_synced_at) if integration.last_synced_at else None,
        last_error=integration.last_error,
        tenant_id=integration.tenant_id,
    )
    with translated("PutItem"):
        item.save()


def get(integration_id: str) -> Integration | None:
    with translated("GetItem"):
        try:
            return _to_domain(IntegrationItem.get(integration_id, consistent_read=True))
        except IntegrationItem.DoesNotExist:
            return None


def of_tenant(tenant_id: str, after: str | None = None, limit: int = 100) -> tuple[list[str], str | None]:
    """One page of a tenant's integration ids, and where the next page starts (None: the last one)."""
    start = {"tenant_id": {"S": tenant_id}, "integration_id": {"S": after}} if after else None
    with translated("Query"):
        items, last = one_page(IntegrationItem.by_tenant.query(tenant_id, last_evaluated_key=start,
                                                               page_size=max(1, limit)), IntegrationItem)
    return [item.integration_id for item in items], (last["integration_id"]["S"] if last else None)


def subscribed_to(tenant_id: str, practitioner_id: str, practice_id: str) -> list[Integration]:
    """Integrations following this clinician or this practice, whatever their status and filters
    (the caller decides what to push)."""
    keys = (practitioner_key(tenant_id, practitioner_id), f"{tenant_id}#practice:{practice_id}")
    with translated("Query"):
        return [_to_domain(item) for key in keys for item in IntegrationItem.by_owner.query(key)]


def owned_by(owner_key: str) -> list[Integration]:
    """The integrations under one owner key (``tenant#practitioner`` or ``tenant#practice:id``)."""
    with translated("Query"):
        return [_to_domain(item) for item in IntegrationItem.by_owner.query(owner_key)]


def mark_synced(integration_id: str, at: dt.datetime) -> None:
    """Records a successful write (status transitions are ``calsync.services.status``'s job)."""
    with translated("UpdateItem"):
        IntegrationItem(integration_id).update(
            actions=[IntegrationItem.last_synced_at.set(_time.epoch(at)), IntegrationItem.last_error.remove(),
                     IntegrationItem.rejections.remove()],
            condition=IntegrationItem.integration_id.exists(),
        )


def record_error(integration_id: str, error_code: str) -> None:
    with translated("UpdateItem"):
        IntegrationItem(integration_id).update(
            actions=[IntegrationItem.last_error.set(error_code)],
            condition=IntegrationItem.integration_id.exists(),
        )


def record_rejection(integration_id: str, error_code: str) -> int:
    """Records a write the provider refused for good; returns how many in a row since the last success."""
    item = IntegrationItem(integration_id)
    with translated("UpdateItem"):
        item.update(
            actions=[IntegrationItem.last_error.set(error_code), IntegrationItem.rejections.add(1)],
            condition=IntegrationItem.integration_id.exists(),
        )
    return int(item.rejections or 0)


def set_status(integration_id: str, status: IntegrationStatus, reason: str | None,
               expected: IntegrationStatus | None = None) -> bool:
    """Moves an integration to ``status``; with ``expected``, only from that status. True if it moved."""
    condition = IntegrationItem.integration_id.exists()
    if expected is not None:
        condition &= IntegrationItem.status == expected.value
    actions: list[Action] = [
        IntegrationItem.status.set(status.value),
        IntegrationItem.status_changed_at.set(int(time.time())),
        IntegrationItem.status_reason.set(reason) if reason else IntegrationItem.status_reason.remove(),
    ]
    try:
        with translated("UpdateItem"):
            IntegrationItem(integration_id).update(actions=actions, condition=condition)
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def scan_page(after: str | None, limit: int, tenant_id: str | None = None) -> tuple[list[Integration], str | None]:
    """One page of every integration (of one tenant, when given), in no particular order: at most ``limit``
    items read, and the id to resume after (None: the walk is done). For the sweeper's passes over all
    integrations and the operator's status table."""
    # an integration always has an owner key; other items of the table (a practice's policy) have none
    condition = (IntegrationItem.owner_key.startswith(f"{tenant_id}#") if tenant_id
                 else IntegrationItem.owner_key.exists())
    start = {"integration_id": {"S": after}} if after else None
    with translated("Scan"):
        items, last = one_page(IntegrationItem.scan(filter_condition=condition, last_evaluated_key=start,
                                                    page_size=max(1, limit)), IntegrationItem)
    return [_to_domain(item) for item in items], (last["integration_id"]["S"] if last else None)
