"""Integration status transitions: stored, then announced as ``Integration Status Changed``."""

from __future__ import annotations

import datetime as dt

from calsync.aws import bus
from calsync.core.observability import Metric, count_by, logger
from calsync.domain.model import Integration, IntegrationStatus
from calsync.store import integrations

DETAIL_TYPE = "Integration Status Changed"



def change(integration: Integration, status: IntegrationStatus, reason: str | None,
           expected: IntegrationStatus | None = None) -> bool:
    """Moves the integration to ``status`` (only from ``expected`` when given) and announces it.
    Returns False when another invocation moved it first (then nothing is announced)."""
    previous = integration.status
    if previous is status and integration.status_reason == reason:
        return False
    if not integrations.set_status(integration.integration_id, status, reason, expected=expected):
        return False
    integration.status, integration.status_reason = status, reason
    count_by(Metric.INTEGRATION_STATUS_CHANGED, "status", status.value)
    logger.info("integration status changed", extra={"integration_id": integration.integration_id,
                                                      "tenant_id": integration.tenant_id,
                                                      "from_status": previous.value, "to_status": status.value,
                                                      "reason": reason})
    bus.publish(DETAIL_TYPE, {
        "tenant_id": integration.tenant_id,
        "integration_id": integration.integration_id,
        "practitioner_id": integration.practitioner_id,
        "provider": integration.provider.value,
        "previous_status": previous.value,
        "status": status.value,
        "reason": reason,
        "changed_at": dt.datetime.now(dt.UTC).isoformat(),
    })
    return True
