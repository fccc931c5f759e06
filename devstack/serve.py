"""``make serve``: the whole calsync deployment running locally until Ctrl-C or SIGTERM, with a sheet of every
URL and credential (``devstack.sheet``).

Everything ``template.yaml`` deploys runs as deployed (``devstack.deployment``): the change handler on its
queue, the retry sweeper on its schedule, the feed and webhook routes on the local HTTP API; the Google and
Microsoft simulators run beside it, and the sample clinicians are connected to Radicale, both simulators and
a private ICS feed. Fixed ports (DynamoDB Local 8000, moto 5055, Radicale 5232, HTTP API 3000, console 3001)
keep bookmarks and shell history working; if one is taken, serve says which and stops (``--free-ports``
picks free ones instead).

    python -m devstack.serve [--free-ports] [--sweep-every SECONDS]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

from devstack import DevstackError
from devstack.deployment import Deployment, DeploymentPorts, PortsBusyError

PREFERRED_PORTS = DeploymentPorts(dynamodb=8000, moto=5055, radicale=5232, api=3000, console=3001)
_ALIVE_CHECK_SECONDS = 1.0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("devstack").setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        ports = DeploymentPorts.pick(PREFERRED_PORTS, strict=not arguments.free_ports)
    except PortsBusyError as error:
        _say(f"calsync local deployment not started: {error}")
        return 2
    deployment = Deployment(ports, schedule_period_seconds=arguments.sweep_every)
    _say("starting calsync locally: DynamoDB Local (private network namespace), moto, Radicale, the simulators, "
         "the local HTTP API and every function of template.yaml ...")
    try:
        deployment.start()
        from devstack import samples, sheet  # they import calsync: after the environment is in place

        _say(sheet.render(deployment, samples.seed(deployment), samples.newcomer(deployment)))
        while True:
            deployment.check_alive()
            time.sleep(_ALIVE_CHECK_SECONDS)
    except KeyboardInterrupt:
        _say("\nstopping ...")
    except DevstackError as error:
        _say(f"calsync local deployment failed: {error}")
        return 1
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(number, signal.SIG_IGN)
        deployment.stop()
    _say("stopped: nothing is listening any more and the temp folders are removed")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make serve", description="Run the whole calsync deployment locally.")
    parser.add_argument("--free-ports", action="store_true",
                        help="use free ports where the usual ones (8000, 5055, 5232, 3000, 3001) are taken")
    parser.add_argument("--sweep-every", type=float, metavar="SECONDS",
                        help="run the retry sweeper this often instead of the template's schedule (1 minute)")
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
