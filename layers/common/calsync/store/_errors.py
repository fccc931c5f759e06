"""Translates pynamodb/botocore failures into calsync errors (the one place that reads their codes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pynamodb.exceptions import PynamoDBException

from calsync.core.errors import StoreError

CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(error: PynamoDBException) -> bool:
    return getattr(error, "cause_response_code", None) == CONDITION_FAILED


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Re-raises unexpected DynamoDB failures as :class:`StoreError` with the AWS error code only."""
    try:
        yield
    except PynamoDBException as error:
        if condition_failed(error):
            raise
        code = getattr(error, "cause_response_code", None) or type(error).__name__
        raise StoreError(f"DynamoDB {operation} failed: {code}") from None


def conditional(operation: str, write: Callable[[], object]) -> bool:
    """Runs a conditional write; False when its condition did not hold (another caller got there first),
    :class:`StoreError` for anything else."""
    try:
        with translated(operation):
            write()
    except PynamoDBException as error:
        if condition_failed(error):
            return False
        raise
    return True
