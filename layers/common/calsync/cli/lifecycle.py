"""Integration lifecycle from a shell (see ``calsync.services.lifecycle``).

    python -m calsync.cli.lifecycle {pause,resume,disconnect,replay} --integration-id ID [--backfill]
"""

from __future__ import annotations

import argparse

from calsync.services.lifecycle import disconnect, pause, replay, resume


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calsync.cli.lifecycle", description="Operator commands.")
    parser.add_argument("command", choices=("pause", "resume", "disconnect", "replay"))
    parser.add_argument("--integration-id", required=True)
    parser.add_argument("--backfill", action="store_true", help="resume: bring the whole window up to date")
    args = parser.parse_args(argv)
    match args.command:
        case "pause":
            done = pause(args.integration_id)
        case "resume":
            done = resume(args.integration_id, backfill=args.backfill)
        case "disconnect":
            done = disconnect(args.integration_id)
        case _:
            replay(args.integration_id)
            done = True
    print(f"{args.command} {args.integration_id}: {'done' if done else 'nothing to do'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
