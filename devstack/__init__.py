"""The local stack: real DynamoDB Local, moto in server mode and Radicale, all on 127.0.0.1.

``devstack.stack.LocalStack`` starts the three servers; ``devstack.lambda_runner`` plays the part of
Lambda's SQS event-source mapping; ``python -m devstack.serve`` leaves the whole thing running.
"""

from __future__ import annotations


class DevstackError(RuntimeError):
    """The local stack could not start, or one of its servers misbehaved."""
