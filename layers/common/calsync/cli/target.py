"""Which calsync deployment the operator's commands act on, and where its parts are.

- ``--stack NAME`` (with ``--profile`` and ``--region``, or the usual AWS environment): a deployed stack. Its
  resources are read from the stack's CloudFormation outputs (:data:`OUTPUTS`; template.yaml declares each,
  tests/infrastructure/test_cli_outputs.py keeps them in step).
- ``--env-file PATH``: a file of ``NAME=value`` lines — what ``make serve`` writes for the local deployment
  (its sheet prints the command).
- neither: the current environment, when it holds calsync's settings (a shell with the local deployment's
  variables, a test session).

Either way the result is the environment calsync's own code reads (``calsync.core.settings``: tables, bus,
dead-letter queue, retention) plus what only the operator needs (the change queues, the log groups), and it
is put into this process's environment before any command runs, so the commands use the same store and
services code as the functions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calsync.core.errors import ConfigurationError

if TYPE_CHECKING:
    import boto3

OUTPUTS: dict[str, str] = {
    "AppointmentsTableName": "CALSYNC_APPOINTMENTS_TABLE",
    "IntegrationsTableName": "CALSYNC_INTEGRATIONS_TABLE",
    "LedgerTableName": "CALSYNC_LEDGER_TABLE",
    "FeedsTableName": "CALSYNC_FEEDS_TABLE",
    "FeedTokensTableName": "CALSYNC_FEED_TOKENS_TABLE",
    "FeedEventsTableName": "CALSYNC_FEED_EVENTS_TABLE",
    "FeedCacheBucketName": "CALSYNC_FEED_CACHE_BUCKET",
    "DisclosuresTableName": "CALSYNC_DISCLOSURES_TABLE",
    "TenantsTableName": "CALSYNC_TENANTS_TABLE",
    "PlatformIntakeTableName": "CALSYNC_PLATFORM_INTAKE_TABLE",
    "WatchesTableName": "CALSYNC_WATCHES_TABLE",
    "PullsTableName": "CALSYNC_PULLS_TABLE",
    "BusyBlocksTableName": "CALSYNC_BUSY_BLOCKS_TABLE",
    "ConflictsTableName": "CALSYNC_CONFLICTS_TABLE",
    "TenantSecretsRoleArn": "CALSYNC_TENANT_SECRETS_ROLE_ARN",
    "TenantSecretsManagerRoleArn": "CALSYNC_TENANT_SECRETS_MANAGER_ROLE_ARN",
    "GoogleOAuthAppSecretName": "CALSYNC_GOOGLE_OAUTH_APP_SECRET",
    "MicrosoftOAuthAppSecretName": "CALSYNC_MICROSOFT_OAUTH_APP_SECRET",
    "ConnectLinksTableName": "CALSYNC_CONNECT_LINKS_TABLE",
    "OAuthStatesTableName": "CALSYNC_OAUTH_STATES_TABLE",
    "DisclosureRetentionDays": "CALSYNC_DISCLOSURE_RETENTION_DAYS",
    "EventBusName": "CALSYNC_EVENT_BUS_NAME",
    "ChangesDeadLetterQueueUrl": "CALSYNC_DEAD_LETTER_QUEUE_URL",
    "ChangesQueueUrl": "CALSYNC_CHANGES_QUEUE_URL",
    "ChangesRuleDeadLetterQueueUrl": "CALSYNC_RULE_DEAD_LETTER_QUEUE_URL",
    "PullQueueUrl": "CALSYNC_PULL_QUEUE_URL",
    "PullDeadLetterQueueUrl": "CALSYNC_PULL_DEAD_LETTER_QUEUE_URL",
    "FunctionLogGroups": "CALSYNC_LOG_GROUPS",
}
"""Stack output → the environment variable it fills (calsync's settings, then the operator's own)."""
LOCAL_LOGS = "CALSYNC_LOCAL_LOGS"
"""The local deployment only: the folder holding its functions' log groups (instead of CloudWatch Logs)."""
REQUIRED = ("CALSYNC_LEDGER_TABLE", "CALSYNC_INTEGRATIONS_TABLE", "CALSYNC_APPOINTMENTS_TABLE",
            "CALSYNC_DISCLOSURES_TABLE")


@dataclass(frozen=True)
class Target:
    description: str
    environment: Mapping[str, str]
    profile: str | None = None
    region: str | None = None

    def get(self, name: str) -> str | None:
        return self.environment.get(name) or None

    def require(self, name: str, what: str) -> str:
        value = self.get(name)
        if value is None:
            raise ConfigurationError(f"{self.description} does not say where {what} is ({name})")
        return value

    @property
    def log_groups(self) -> list[str]:
        return [group for group in (self.get("CALSYNC_LOG_GROUPS") or "").split(",") if group]

    @property
    def local_logs(self) -> Path | None:
        folder = self.get(LOCAL_LOGS)
        return Path(folder) if folder else None

    def session(self) -> boto3.Session:
        import boto3

        return boto3.Session(profile_name=self.profile, region_name=self.region or self.get("AWS_REGION"))

    def client(self, service: str) -> Any:
        return self.session().client(service)  # type: ignore[call-overload]

    def apply(self) -> None:
        """Points this process's calsync code (settings, table models, AWS clients) at the target."""
        os.environ.update(self.environment)
        if self.profile:
            os.environ["AWS_PROFILE"] = self.profile
        if self.region:
            os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = self.region
        from calsync.core.settings import get_settings
        from calsync.store import tables

        get_settings.cache_clear()
        tables.bind()


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines; blank lines and ``#`` comments are skipped, values are taken as written."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            raise ConfigurationError(f"{path}:{number}: expected NAME=value")
        found[name.strip().removeprefix("export ").strip()] = value.strip()
    return found


def from_stack(stack: str, profile: str | None = None, region: str | None = None) -> Target:
    """The target of a deployed stack, from its CloudFormation outputs."""
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    cloudformation = session.client("cloudformation")
    try:
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise ConfigurationError(f"stack {stack}: {error.response['Error'].get('Message', 'not found')}") from None
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}
    missing = sorted(key for key in OUTPUTS if key not in outputs)
    if missing:
        raise ConfigurationError(f"stack {stack} lacks the outputs {', '.join(missing)}: is it a calsync stack, "
                                 "deployed from this version's template.yaml?")
    environment = {variable: outputs[key] for key, variable in OUTPUTS.items()}
    where = session.region_name or "the default region"
    return Target(f"stack {stack} in {where}" + (f" (profile {profile})" if profile else ""), environment,
                  profile, region or session.region_name)


def from_environment(environment: Mapping[str, str], description: str) -> Target:
    missing = [name for name in REQUIRED if not environment.get(name)]
    if missing:
        raise ConfigurationError(f"{description} has no {', '.join(missing)}: give --stack NAME (a deployed stack) "
                                 "or --env-file PATH (the local deployment: `make serve` prints it)")
    return Target(description, dict(environment))


def resolve(stack: str | None, profile: str | None, region: str | None, env_file: Path | None) -> Target:
    if stack:
        return from_stack(stack, profile, region)
    if env_file:
        return from_environment(read_env_file(env_file), f"env file {env_file}")
    return from_environment(os.environ, "this environment")
