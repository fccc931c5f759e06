"""Reading calendars back, from a shell (see ``calsync.services.twoway.operator``).

    python -m calsync.cli.twoway status  --integration-id ID
    python -m calsync.cli.twoway confirm --integration-id ID     # apply the removals the guard held
    python -m calsync.cli.twoway pull    --integration-id ID [--full]
"""

from __future__ import annotations

import argparse
import json

from calsync.services.twoway import operator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calsync.cli.twoway", description="Two-way sync commands.")
    parser.add_argument("command", choices=("status", "confirm", "pull"))
    parser.add_argument("--integration-id", required=True)
    parser.add_argument("--full", action="store_true", help="pull: read every watched calendar in full")
    args = parser.parse_args(argv)
    match args.command:
        case "status":
            print(json.dumps(operator.status(args.integration_id), indent=2))
        case "confirm":
            held = operator.confirm(args.integration_id)
            print(f"confirm {args.integration_id}: {held} calendar(s) with held removals, applied by the next pull")
        case _:
            operator.pull_now(args.integration_id, full=args.full)
            print(f"pull {args.integration_id}: queued")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
