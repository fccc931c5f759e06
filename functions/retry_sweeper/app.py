"""retry_sweeper: every minute (template.yaml, RetrySweeperFunction), the engine's background work.

Due retries, recovery probes, replays of parked and dead work, resyncs, the 24 h gap sweep and the
channel-renewal hooks (``calsync.services.sweeper``). Each run does bounded work and stops well before the
function's timeout; where it stopped is stored, and the next tick resumes there. A failed run (DynamoDB
trouble) raises, so the function's Errors alarm shows that the sweeper is not keeping up.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync.core.observability import logger, metrics
from calsync.services import sweeper, warm

warm.sweeps()  # clients, providers and their libraries now, not on the first run


def _sweep(context: LambdaContext | None) -> dict[str, Any]:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return sweeper.run(budget=sweeper.Budget(remaining_ms=remaining_ms)).as_dict()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def _scheduled(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _sweep(context)


def lambda_handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """The schedule's entry point; also callable by hand (an operator, a test) without a Lambda context."""
    if context is None:
        try:
            return _sweep(None)
        finally:
            metrics.flush_metrics()
    result: dict[str, Any] = _scheduled(event, context)
    return result
