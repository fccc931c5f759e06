"""Runs ``moto.server`` with one correction, so the local bus delivers what EventBridge delivers.

EventBridge puts the ``account`` that called PutEvents on every event it hands to a target, and calsync
trusts it (``calsync.services.senders``: who may speak for a tenant). moto's default target template leaves
it out; this adds it back before the server starts. Run as a script by ``devstack.moto_server``.
"""

from __future__ import annotations

import sys

from moto.events.utils import EventTemplateParser
from moto.server import main

if '"account"' not in EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE:
    patched = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
        '"source": "<source>", ', '"source": "<source>", "account": "<account>", ')
    if patched == EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE:
        sys.exit("moto's EventBridge target template changed: devstack/moto_launch.py cannot add the account")
    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = patched

if __name__ == "__main__":
    main(sys.argv[1:])
