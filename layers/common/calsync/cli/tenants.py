"""The tenant registry from a shell: who may speak for a tenant (``calsync.services.senders``).

    python -m calsync.cli.tenants allow  --tenant T --account 123456789012 --source ehr.example
    python -m calsync.cli.tenants revoke --tenant T --account 123456789012 --source ehr.example
    python -m calsync.cli.tenants show   --tenant T

A tenant's ``Appointment Changed`` events are applied only when their EventBridge ``account`` and
``source`` are one of its senders; others go to the dead-letter queue. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from calsync.core.errors import CalSyncError
from calsync.services import senders


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m calsync.cli.tenants",
                                     description="Who may speak for a tenant.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command, text in (("allow", "let a sender speak for the tenant (registers it)"),
                          ("revoke", "stop a sender speaking for the tenant"), ("show", "the tenant's senders")):
        sub = commands.add_parser(command, help=text)
        sub.add_argument("--tenant", required=True)
        if command != "show":
            sub.add_argument("--account", required=True, help="the AWS account that puts the events")
            sub.add_argument("--source", required=True, help="their source, ehr.<vendor>")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "allow":
        senders.allow(args.tenant, args.account, args.source)
    elif args.command == "revoke":
        senders.revoke(args.tenant, args.account, args.source)
    found = senders.registered(args.tenant)
    return {"tenant_id": args.tenant, "registered": found is not None,
            "senders": [{"account": account, "source": source} for account, source in sorted(found or ())]}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result = run(args)
    except (CalSyncError, ValueError) as error:
        print(json.dumps({"error": str(error)}), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
