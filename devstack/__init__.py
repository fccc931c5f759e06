"""The local deployment: real DynamoDB Local, moto in server mode and Radicale, all on 127.0.0.1, and every
function of template.yaml wired as deployed.

``devstack.stack.LocalStack`` starts the three servers; ``devstack.deployment.Deployment`` adds the functions
(on their queue, schedule and HTTP routes, read from the template by ``devstack.blueprint``) and the provider
simulators; ``python -m devstack.serve`` leaves the whole thing running.
"""

from __future__ import annotations


class DevstackError(RuntimeError):
    """The local stack could not start, or one of its servers misbehaved."""
