"""How far an integration's backfill has come (``calsync.services.sweeper.backfill``): its state and phase,
what it compared, wrote, found unchanged or left for a retry, over how many sweeper runs, and its rate.

    python -m calsync.cli.backfill --integration-id ID
"""

from __future__ import annotations

import argparse
import json

from calsync.services.sweeper.backfill import progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calsync.cli.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--integration-id", required=True)
    args = parser.parse_args(argv)
    found = progress(args.integration_id)
    if found is None:
        print(f"no backfill recorded for {args.integration_id}")
        return 1
    print(json.dumps(found.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
