"""A newline in a feed's name (issue 9, item 11): refused where it enters (the feed service, the CLI, the
store), and a feed stored with a bad name before these checks keeps serving, its name rendered safely.
"""

from __future__ import annotations

import contextlib
import io
import json

import icalendar
import pytest

from calsync.cli import feeds as cli
from calsync.core.errors import ConfigurationError
from calsync.domain.model import Integration
from calsync.services import feeds as management
from calsync.store import feeds, integrations
from calsync.store.tables import IntegrationItem
from devstack.deployment import Deployment
from devstack.local_api import LocalApi
from devstack.stack import LocalStack
from tests.support.feeds import apply, at, booking, fetch, today

FEED_NAME = "feed_name"  # the option (calsync.domain.integration_values.FEED_NAME)
HOSTILE_NAMES = ["Dr One\nX-INJECTED:1", "Dr One\r\nBEGIN:VEVENT", "Dr\x00One", "Dr One\x1b[31m", "Dr One\x85"]


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> LocalApi:
    return deployment.api


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_feed_name_is_refused_and_nothing_is_stored(stack: LocalStack, tenant_id: str, name: str) -> None:
    with pytest.raises(ConfigurationError, match=FEED_NAME) as caught:
        management.create_feed(tenant_id, "dr-1", name=name, base_url="http://127.0.0.1:1")
    assert name not in str(caught.value)
    assert integrations.subscribed_to(tenant_id, "dr-1", "p-1") == []


@pytest.mark.parametrize(("flag", "value"), [("--name", "Dr One\nX-INJECTED:1"), ("--location", "Room 1\r\n"),
                                             ("--practitioner", "dr one"), ("--tenant", "t\x00")])
def test_the_cli_refuses_a_hostile_value_without_quoting_it(stack: LocalStack, tenant_id: str, flag: str,
                                                            value: str) -> None:
    args = {"--tenant": tenant_id, "--practitioner": "dr-1", flag: value}
    argv = ["create", *[part for pair in args.items() for part in pair], "--base-url", "http://127.0.0.1:1"]
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        assert cli.main(argv) == 1
    message = json.loads(errors.getvalue())["error"]
    assert message.startswith("invalid integration settings") and value not in message
    assert integrations.subscribed_to(tenant_id, "dr-1", "p-1") == []


def _store_as_an_older_version_would(integration: Integration, name: str) -> None:
    """Writes the feed's name past every check, as calsync did before them."""
    item = IntegrationItem.get(integration.integration_id, consistent_read=True)
    config = json.loads(item.config)
    config["options"] = {**config.get("options", {}), FEED_NAME: name}
    item.config = json.dumps(config)
    item.save()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_feed_stored_with_a_bad_name_keeps_serving_it_safely(server: LocalApi, tenant_id: str, name: str) -> None:
    feed, issued = management.create_feed(tenant_id, "dr-1", name="Dr One", base_url="http://127.0.0.1:1")
    _store_as_an_older_version_would(feed, name)
    stored = integrations.get(feed.integration_id)  # read back as stored, not refused
    assert stored is not None and stored.options[FEED_NAME] == name
    apply(booking(tenant_id, "apt-1", at(today(), 9)))  # the engine renders with the stored integration
    state = feeds.get_state(feed.integration_id)
    assert state is not None and state.name == name  # the bad name reached the serving state

    answer = fetch(server, issued.token)
    assert answer.status == 200
    text = answer.body.decode()
    lines = text.replace("\r\n ", "").split("\r\n")
    assert not [line for line in lines if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line)]
    names = [line.split(":")[0].split(";")[0] for line in lines]
    assert names.count("X-WR-CALNAME") == names.count("NAME") == 1 and "X-INJECTED" not in names
    assert lines.count("BEGIN:VEVENT") == 1
    calendar = icalendar.Calendar.from_ical(answer.body)
    assert str(calendar["X-WR-CALNAME"]).startswith("Dr")
    assert len(calendar.walk("VEVENT")) == 1
