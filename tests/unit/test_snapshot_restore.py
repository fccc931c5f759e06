"""SnapStart (template.yaml, ``calsync.core.snapshot``): the functions' init is captured once and every execution
environment starts from a copy of it. A forked process is such a copy: these tests init the three
SnapStart functions in a fresh interpreter, fork it twice, and compare the copies.

Without a restore, two copies take leases under the same owner — the hazard is real; after
``snapshot.restored()`` (what the runtime calls) they differ, and the pooled HTTP clients are new. (``random``
reseeds itself in a forked child, which a snapshot restore does not do: its hook is tested on the generator's
state directly.) The init itself opens no connection: it runs with every socket connect refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COPIES = '''
import json, os, random, socket

def refuse(*args, **kwargs):
    raise OSError("the init opened a connection")

socket.socket.connect = refuse  # the init may create clients, never connect them
import functions.on_appointment_change.app, functions.retry_sweeper.app, functions.feed.app
from calsync.core import snapshot
from calsync.http import bearer
from calsync.services import engine

before = id(bearer.shared_client("google"))


def copy(restore):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        if restore:
            snapshot.restored()
        seen = {"owner": engine._lease_owner().rsplit("-", 1)[0], "lease": engine._lease_owner(),
                "random": random.random(), "client_is_new": id(bearer.shared_client("google")) != before}
        os.write(write, json.dumps(seen).encode())
        os._exit(0)
    os.close(write)
    data = os.read(read, 65536)
    os.waitpid(pid, 0)
    return json.loads(data)


print(json.dumps({"plain": [copy(False), copy(False)], "restored": [copy(True), copy(True)]}))
'''


def copies() -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", COPIES], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_copies_of_one_init_share_lease_owners_and_random_draws_until_restored() -> None:
    seen = copies()
    first, second = seen["plain"]
    assert first["owner"] == second["owner"] and first["lease"] == second["lease"]  # two "holders" of one lease

    first, second = seen["restored"]
    assert first["owner"] != second["owner"] and first["lease"] != second["lease"]
    assert first["random"] != second["random"]
    assert first["client_is_new"] and second["client_is_new"]  # no pooled connection survives a restore


def test_a_restore_reseeds_the_generator_a_snapshot_would_hand_every_copy_in_the_same_state() -> None:
    import random

    from calsync.core import snapshot

    captured = random.getstate()  # what every copy of a snapshot starts from
    same = random.random()
    random.setstate(captured)
    assert random.random() == same  # a second copy would draw the same retry jitter
    random.setstate(captured)
    snapshot.restored()
    assert random.getstate() != captured and random.random() != same


def test_the_hooks_are_registered_once_each() -> None:
    from calsync.core import snapshot
    from calsync.http import bearer
    from calsync.services import engine

    hooks = snapshot._hooks
    assert engine._new_owner in hooks and bearer.reset_clients in hooks
    assert len(hooks) == len(set(hooks))
