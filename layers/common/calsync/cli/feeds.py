"""Feed management from a shell (the HTTP management API comes later).

    python -m calsync.cli.feeds create --tenant T --practitioner P [--name N] [--base-url URL]
    python -m calsync.cli.feeds create --tenant T --practice P [--location "Room 1" ...]
    python -m calsync.cli.feeds tokens --tenant T --feed F
    python -m calsync.cli.feeds issue  --tenant T --feed F          # one more URL (another device)
    python -m calsync.cli.feeds rotate --tenant T --feed F --token-id tok_...
    python -m calsync.cli.feeds revoke --tenant T --feed F --token-id tok_...
    python -m calsync.cli.feeds delete --tenant T --feed F

Prints JSON. A URL is printed only when it is issued, and is not stored anywhere: hand it over then.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from calsync.core.errors import CalSyncError
from calsync.domain.feed import FeedToken, IssuedToken
from calsync.domain.model import PrivacySettings, SyncWindow
from calsync.services import feeds as management


def _issued(issued: IssuedToken) -> dict[str, Any]:
    return {"token_id": issued.token_id, "url": issued.url, "token": None if issued.url else issued.token,
            "note": "shown once: calsync keeps only a hash of it"}


def _token(token: FeedToken) -> dict[str, Any]:
    return {"token_id": token.token_id, "created_at": token.created_at.isoformat(),
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m calsync.cli.feeds", description="Manage private ICS feeds.")
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a feed and print its first URL")
    create.add_argument("--tenant", required=True)
    owner = create.add_mutually_exclusive_group(required=True)
    owner.add_argument("--practitioner", help="a clinician's own feed")
    owner.add_argument("--practice", help="a front-desk feed of a whole practice")
    create.add_argument("--location", action="append", default=[], help="only this location (repeatable)")
    create.add_argument("--name", help="calendar name shown in the subscriber's app")
    create.add_argument("--privacy", help="privacy settings as JSON, e.g. '{\"client_display\": \"initials\"}'")
    create.add_argument("--past-days", type=int, default=SyncWindow().past_days)
    create.add_argument("--future-days", type=int, default=SyncWindow().future_days)
    create.add_argument("--base-url", help="public base of feed URLs (default: CALSYNC_FEED_BASE_URL)")
    create.add_argument("--no-backfill", action="store_true", help="start empty instead of with the window")

    for command, text in (("tokens", "list a feed's URLs (ids only)"), ("issue", "issue one more URL"),
                          ("rotate", "replace one URL with a new one"), ("revoke", "revoke one URL"),
                          ("delete", "revoke every URL and delete the feed")):
        sub = commands.add_parser(command, help=text)
        sub.add_argument("--tenant", required=True)
        sub.add_argument("--feed", required=True)
        if command in ("rotate", "revoke"):
            sub.add_argument("--token-id", required=True)
        if command in ("issue", "rotate"):
            sub.add_argument("--base-url")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    match args.command:
        case "create":
            privacy = PrivacySettings.model_validate_json(args.privacy) if args.privacy else None
            integration, issued = management.create_feed(
                args.tenant, args.practitioner, practice_id=args.practice, locations=frozenset(args.location),
                privacy=privacy, window=SyncWindow(past_days=args.past_days, future_days=args.future_days),
                name=args.name, base_url=args.base_url, backfill=not args.no_backfill)
            return {"feed_id": integration.integration_id, **_issued(issued)}
        case "tokens":
            return {"tokens": [_token(t) for t in management.list_tokens(args.tenant, args.feed)]}
        case "issue":
            issued = management.issue_token(management.get_feed(args.tenant, args.feed), args.base_url)
            return _issued(issued)
        case "rotate":
            return {"revoked": args.token_id,
                    **_issued(management.rotate(args.tenant, args.feed, args.token_id, args.base_url))}
        case "revoke":
            return {"revoked": management.revoke(args.tenant, args.feed, args.token_id)}
        case "delete":
            return {"revoked_tokens": management.delete_feed(args.tenant, args.feed)}
    raise AssertionError(args.command)  # pragma: no cover - argparse restricts the commands


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
