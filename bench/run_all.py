"""``make bench``: every benchmark in turn, each in its own process (each starts its own local stack and
reads its environment at import). Figures are printed, never asserted."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    ("cold start of each handler", ["bench.cold_start"]),
    ("DynamoDB and CalDAV calls per change", ["bench.per_change"]),
    ("Google and Microsoft calls per change", ["bench.provider_calls"]),
    ("ICS feed rendering and the 304 path", ["bench.feed_render"]),
    ("booking-platform webhooks, per verified request", ["bench.platform_webhooks"]),
    ("two-way sync: per notification and poll, edit-to-bus latency, availability", ["bench.twoway"]),
    ("what it costs in AWS, from measured calls per change", ["bench.costs"]),
    ("the connect page: Continue → first event, page weight", ["bench.connect"]),
    ("convergence under faults (long run)", ["bench.convergence"]),
)


def main() -> int:
    failed = 0
    for title, command in BENCHMARKS:
        sys.stdout.write(f"\n== {title} ==\n")
        sys.stdout.flush()
        failed += subprocess.run([sys.executable, "-m", *command], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
