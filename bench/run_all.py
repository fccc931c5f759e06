"""``make bench``: every benchmark in turn, each in its own process (each starts its own local stack and reads
its environment at import), then a summary of every row of the performance table with its same-run
baseline, the ratio, the goal and whether it is met. Figures are printed, never asserted: the exit status
says only whether every benchmark ran."""

from __future__ import annotations

import subprocess
import sys

from bench.figures import GOAL_MARK

BENCHMARKS = (
    ("one change to 1, 5 and 20 integrations (fan-out)", ["bench.fan_out"]),
    ("ICS feeds served like static files", ["bench.feed_render"]),
    ("backfill at the provider's pace", ["bench.backfill"]),
    ("cold start and the first invocation", ["bench.cold_start"]),
    ("reads that do not grow with the history", ["bench.bounded_reads"]),
    ("DynamoDB and CalDAV calls per change", ["bench.per_change"]),
    ("Google and Microsoft calls per change", ["bench.provider_calls"]),
    ("booking-platform webhooks, per verified request", ["bench.platform_webhooks"]),
    ("two-way sync: per notification and poll, edit-to-bus latency, availability", ["bench.twoway"]),
    ("what it costs in AWS, from measured calls per change", ["bench.costs"]),
    ("the connect page: Continue → first event, page weight", ["bench.connect"]),
    # the long run (1,000 schedules, the default of bench.convergence) takes a quarter of an hour; 100 here
    ("convergence under faults (100 schedules; bench.convergence alone runs 1,000)",
     ["bench.convergence", "--schedules", "100"]),
)


def main() -> int:
    failed = 0
    rows: list[list[str]] = []
    for title, command in BENCHMARKS:
        sys.stdout.write(f"\n== {title} ==\n")
        sys.stdout.flush()
        process = subprocess.Popen([sys.executable, "-m", *command], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(GOAL_MARK):
                rows.append(line.rstrip("\n").split("\t")[1:])
            elif not line.startswith(('{"level"', '{"_aws"')):  # the handlers' own log lines
                sys.stdout.write(line)
                sys.stdout.flush()
        failed += process.wait() != 0
    print("\n== summary: each row with its same-run baseline ==")
    for row, figure, baseline, ratio, target, verdict in rows:
        print(f"  {verdict:8s} {row}\n           {figure}  |  baseline: {baseline}  |  ratio {ratio}  |  goal {target}")
    goals = [verdict for *_, verdict in rows if verdict != "info"]
    print(f"\n{goals.count('met')} of {len(goals)} goals met" + (f"; {failed} benchmark(s) failed to run" if failed
                                                                 else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
