"""Practice privacy policies from a shell (see ``calsync.domain.policy`` for the rules).

    python -m calsync.cli.policies show    --tenant T
    python -m calsync.cli.policies set     --tenant T --file policy.json   # the whole policy, as JSON
    python -m calsync.cli.policies explain --tenant T --integration I --appointment A

``set`` replaces the policy only if nobody changed it since ``show`` (the version is checked), announces it,
and every calendar of the practice is rewritten by the next sweeper run. Prints JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from calsync.core.errors import CalSyncError
from calsync.domain.policy import PrivacyPolicy
from calsync.services import policies
from calsync.store import policies as stored_policies


def run(args: argparse.Namespace) -> dict[str, Any]:
    match args.command:
        case "show":
            stored = stored_policies.get(args.tenant)
            if stored is None:
                return {"tenant": args.tenant, "version": None, "policy": PrivacyPolicy().model_dump(mode="json")}
            return {"tenant": args.tenant, "version": stored.version, "policy": stored.policy.model_dump(mode="json")}
        case "set":
            policy = PrivacyPolicy.model_validate_json(Path(args.file).read_text(encoding="utf-8"))
            current = stored_policies.get(args.tenant)
            version = policies.change(args.tenant, policy, current.version if current else None)
            return {"tenant": args.tenant, "version": version, "applies": "from the next sweeper run"}
        case "explain":
            return dataclasses.asdict(policies.explain(args.tenant, args.integration, args.appointment))
    raise AssertionError(args.command)  # pragma: no cover - argparse restricts the commands


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calsync.cli.policies", description="Practice privacy policies.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("show", "print the policy"), ("set", "replace the policy"),
                       ("explain", "why an appointment looks as it does on a calendar")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--tenant", required=True)
        if name == "set":
            sub.add_argument("--file", required=True, help="the policy as JSON")
        if name == "explain":
            sub.add_argument("--integration", required=True)
            sub.add_argument("--appointment", required=True)
    args = parser.parse_args(argv)
    try:
        result = run(args)
    except (CalSyncError, ValidationError, OSError) as error:
        print(json.dumps({"error": str(error)}), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
