"""The pynamodb item models. Nothing outside ``calsync.store`` imports pynamodb.

Fourteen tables, each defined again in ``template.yaml``; ``tests/infrastructure/test_template_tables.py`` proves
that keys, attribute types, indexes and TTL agree.

* Appointments — the latest snapshot of each appointment (written only if its ordering key is newer).
* Integrations — one clinician's connection to one calendar: settings, status, secret reference.
* Ledger — per (integration, appointment): what the external calendar holds and the retry state.
* Feeds, FeedTokens, FeedEvents — the private ICS feeds: serving state, hashed URL tokens, and each
  appointment's pre-rendered VEVENT (see ``calsync.feed``).
* Tenants — who may speak for each tenant (the senders whose events are applied to it).
* Disclosures — the accounting of disclosures, one patient's records under one key (append-only).
* PlatformIntake — booking-platform sources and their bookkeeping: delivery markers, reschedule lineage,
  held cancels, queued fetch-backs, polled exports (see ``calsync.store.platform_intake``).
* Watches, Pulls, BusyBlocks, Conflicts — reading calendars back (two-way sync): push channels and
  subscriptions, each integration's pull state and sync positions, the busy time read, and the conflicts
  announced (see ``calsync.services.twoway``).
* ConnectLinks, OAuthStates — the connect page: single-use connect links (and the browser session each
  one opens), and the one-time OAuth ``state`` with its PKCE verifier; both keyed by a SHA-256, both
  expiring (TTL, and checked on every read: DynamoDB deletes expired items only eventually).
"""

from __future__ import annotations

import threading
from typing import Any

from pynamodb.attributes import BinaryAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
    LocalSecondaryIndex,
)
from pynamodb.models import Model

from calsync.core.settings import Settings, get_settings

MAX_POOL_CONNECTIONS = 64
"""HTTP connections to DynamoDB: the syncs of one change (and a backfill's items) run side by side, each
making its own calls; pynamodb's default of 10 would make them queue for a connection."""


class _Meta:
    table_name: str | None = None  # set by bind(): the table a model talks to is deployment data
    region: str | None = None
    host: str | None = None
    billing_mode = "PAY_PER_REQUEST"
    connect_timeout_seconds = 3
    read_timeout_seconds = 5
    max_retry_attempts = 3
    max_pool_connections = MAX_POOL_CONNECTIONS


class _Bound:
    """Binds the models to the deployment's settings on first use, not at import: importing calsync then
    reads no environment, and tests or the local stack can point the models elsewhere with :func:`bind`.

    Every model talks through one botocore client (one connection pool): pynamodb would give each model its
    own, and each new botocore client loads DynamoDB's service model again, tens of milliseconds that would
    otherwise land on the first change of a cold start. Each model keeps its own pynamodb ``Connection`` all
    the same, because that holds the model's view of its table (keys, indexes), and two models of one table
    (``IntegrationItem`` and ``PolicyItem``; ``LedgerItem`` and the sweeper's items) see different indexes."""

    @classmethod
    def _get_connection(cls) -> Any:
        if not _bound:
            bind()
        existing = cls._connection  # type: ignore[attr-defined]
        if existing is not None:
            return existing
        table = super()._get_connection()  # type: ignore[misc]
        table.connection._client = shared_connection().client  # pynamodb makes one when it has none
        return table


# -- Appointments -------------------------------------------------------------------------------------


class ByPractitionerIndex(GlobalSecondaryIndex["AppointmentItem"]):
    """A clinician's appointments by start month (backfills). Keys only, and keyed by month rather than
    exact start, so most changes (a reschedule within the month, a cancellation) write no index entry."""

    class Meta:
        index_name = "by_practitioner"
        projection = KeysOnlyProjection()

    practitioner_key = UnicodeAttribute(hash_key=True)
    start_month = UnicodeAttribute(range_key=True)


class ByPracticeIndex(GlobalSecondaryIndex["AppointmentItem"]):
    """A practice's appointments by start month (front-desk feed backfills). Keys only, as above."""

    class Meta:
        index_name = "by_practice"
        projection = KeysOnlyProjection()

    practice_key = UnicodeAttribute(hash_key=True)
    start_month = UnicodeAttribute(range_key=True)


class ByChangedDayIndex(GlobalSecondaryIndex["AppointmentItem"]):
    """Appointments by the 10-minute slot (UTC) their latest change was received in, the gap sweep's way in,
    sharded (``YYYY-MM-DDTHH:MM#n``) so one busy slot is not one hot partition. Keys only, and keyed by
    slot, so further changes of an appointment within its slot write no index entry. (Named for the days
    it once grouped by: renaming an index key means a new index.)"""

    class Meta:
        index_name = "by_changed_day"
        projection = KeysOnlyProjection()

    changed_day = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class AppointmentItem(_Bound, Model):
    class Meta(_Meta):
        """Bound to ``Settings.appointments_table`` by :func:`bind`."""

    pk = UnicodeAttribute(hash_key=True)  # tenant#appointment
    order_key = UnicodeAttribute()
    practitioner_key = UnicodeAttribute()  # tenant#practitioner
    practice_key = UnicodeAttribute()  # tenant#practice
    start_utc = UnicodeAttribute()  # ISO 8601, UTC, sortable
    start_month = UnicodeAttribute()  # YYYY-MM (UTC): index range key; a reschedule within the month
    #                                   leaves the keys-only indexes untouched (no index write)
    status = UnicodeAttribute()
    snapshot = BinaryAttribute(legacy_encoding=False)  # the validated event detail, zlib-compressed JSON
    received_at = NumberAttribute()
    changed_day = UnicodeAttribute(null=True)  # YYYY-MM-DDTHH:MM#shard, the slot of received_at: ``by_changed_day``
    expires_at = TTLAttribute(null=True)
    holders = UnicodeSetAttribute(null=True)  # integrations that hold (or held) an event for it: ``hold``

    by_practitioner = ByPractitionerIndex()
    by_practice = ByPracticeIndex()
    by_changed_day = ByChangedDayIndex()


# -- Integrations -------------------------------------------------------------------------------------


class ByOwnerIndex(GlobalSecondaryIndex["IntegrationItem"]):
    """The integrations subscribed to a clinician's appointments."""

    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_key = UnicodeAttribute(hash_key=True)  # tenant#practitioner


class ByTenantIndex(GlobalSecondaryIndex["IntegrationItem"]):
    """Every integration of a tenant (a practice policy applies to all of them). Keys only."""

    class Meta:
        index_name = "by_tenant"
        projection = KeysOnlyProjection()

    tenant_id = UnicodeAttribute(hash_key=True)


class IntegrationItem(_Bound, Model):
    class Meta(_Meta):
        """Bound to ``Settings.integrations_table`` by :func:`bind`."""

    integration_id = UnicodeAttribute(hash_key=True)
    owner_key = UnicodeAttribute()
    config = UnicodeAttribute()  # calsync.domain.Integration settings, JSON (changes rarely)
    status = UnicodeAttribute()
    status_reason = UnicodeAttribute(null=True)
    status_changed_at = NumberAttribute(null=True)
    last_synced_at = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    rejections = NumberAttribute(null=True)  # writes refused for good since the last success
    tenant_id = UnicodeAttribute(null=True)  # ``by_tenant``

    by_owner = ByOwnerIndex()
    by_tenant = ByTenantIndex()


class PolicyItem(_Bound, Model):
    """A practice's privacy policy, kept in the Integrations table beside its integrations under a key no
    integration can have (``~policy#<tenant>``). Same table and hash key as :class:`IntegrationItem`; not in
    ``ALL_MODELS``."""

    class Meta(_Meta):
        """Bound to ``Settings.integrations_table`` by :func:`bind`."""

    integration_id = UnicodeAttribute(hash_key=True)  # ~policy#<tenant>
    policy = UnicodeAttribute()  # calsync.domain.policy.PrivacyPolicy, JSON
    version = NumberAttribute()  # grows with every change
    updated_at = NumberAttribute()


# -- Ledger -------------------------------------------------------------------------------------------


class DueIndex(GlobalSecondaryIndex["LedgerItem"]):
    """Sparse: only items waiting for a retry carry ``due_bucket``."""

    class Meta:
        index_name = "due"
        projection = IncludeProjection(["state", "attempts"])

    due_bucket = UnicodeAttribute(hash_key=True)
    next_attempt_at = NumberAttribute(range_key=True)


class ByExternalIndex(GlobalSecondaryIndex["LedgerItem"]):
    """Sparse: the ledger item behind an event id a provider reports (a pull meets calsync's own event, moved
    or deleted by the clinician, and must know which appointment it shows)."""

    class Meta:
        index_name = "by_external"
        projection = KeysOnlyProjection()

    external_id = UnicodeAttribute(hash_key=True)


class LedgerItem(_Bound, Model):
    class Meta(_Meta):
        """Bound to ``Settings.ledger_table`` by :func:`bind`."""

    integration_id = UnicodeAttribute(hash_key=True)
    appointment_key = UnicodeAttribute(range_key=True)  # tenant#appointment
    external_id = UnicodeAttribute(null=True)
    etag = UnicodeAttribute(null=True)
    synced_order_key = UnicodeAttribute(null=True)
    content_hash = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    due_bucket = UnicodeAttribute(null=True)
    next_attempt_at = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_expires_at = NumberAttribute(null=True)
    abandoned_lease = NumberAttribute(null=True)  # set by acquire: the previous holder never released
    uncertain = NumberAttribute(null=True)  # 1: the calendar may hold a write the ledger does not record
    updated_at = NumberAttribute(null=True)

    due = DueIndex()
    by_external = ByExternalIndex()


class TaskDueIndex(GlobalSecondaryIndex["SweepTaskItem"]):
    """The Ledger table's sparse ``due`` index (:class:`DueIndex`) as sweeper tasks use it: each kind of
    task is one partition (``due_bucket`` = ``~task#<prefix>``), sorted by when it may run, so listing the
    runnable ones reads only those."""

    class Meta:
        index_name = "due"
        projection = IncludeProjection(["state", "attempts"])

    due_bucket = UnicodeAttribute(hash_key=True)
    next_attempt_at = NumberAttribute(range_key=True)


class SweepTaskItem(_Bound, Model):
    """The retry sweeper's own bookkeeping (gap-sweep cursor, per-integration replays and backfills),
    kept in the Ledger table under a reserved partition (``calsync.store.sweeps.PARTITION``) so it needs
    no table of its own. Same table and keys as :class:`LedgerItem`; not in ``ALL_MODELS``."""

    class Meta(_Meta):
        """Bound to ``Settings.ledger_table`` by :func:`bind`."""

    integration_id = UnicodeAttribute(hash_key=True)  # always the reserved partition
    appointment_key = UnicodeAttribute(range_key=True)  # the task name, e.g. "gap", "replay#<integration>"
    cursor = UnicodeAttribute(null=True)  # JSON: where the task resumes
    not_before = NumberAttribute(null=True)  # epoch seconds: not to be worked on earlier
    generation = NumberAttribute(default=0)  # grows when the task is (re)scheduled: a restart wins
    lease_owner = UnicodeAttribute(null=True)
    lease_expires_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    due_bucket = UnicodeAttribute(null=True)  # ``~task#<prefix>``: the task is listed in the ``due`` index
    next_attempt_at = NumberAttribute(null=True)  # = not_before, the index's sort key

    due = TaskDueIndex()


class BackfillProgressItem(_Bound, Model):
    """How far an integration's backfill has come (``calsync.store.backfills``), for the operator: one item per
    integration in the Ledger table's reserved ``~progress`` partition, kept after the backfill is done.
    Same table and keys as :class:`LedgerItem`; not in ``ALL_MODELS``."""

    class Meta(_Meta):
        """Bound to ``Settings.ledger_table`` by :func:`bind`."""

    integration_id = UnicodeAttribute(hash_key=True)  # always the reserved partition
    appointment_key = UnicodeAttribute(range_key=True)  # the integration's id
    state = UnicodeAttribute(null=True)  # running, done, stopped
    phase = UnicodeAttribute(null=True)  # ledger (what the calendar holds), then window
    started_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    finished_at = NumberAttribute(null=True)
    runs = NumberAttribute(null=True)  # sweeper runs that worked on it
    examined = NumberAttribute(null=True)  # appointments compared with the calendar
    written = NumberAttribute(null=True)  # events written (created or replaced)
    removed = NumberAttribute(null=True)
    unchanged = NumberAttribute(null=True)  # already in step: no provider call
    failed = NumberAttribute(null=True)  # left for a retry (or parked, or dead)
    busy = NumberAttribute(null=True)  # leased by a change handler meanwhile (it writes them itself)
    batches = NumberAttribute(null=True)  # batch requests sent (Google, Graph)


# -- ICS feeds ----------------------------------------------------------------------------------------
# A feed is an integration with provider "ics"; ``feed_id`` is its ``integration_id``.


class FeedItem(_Bound, Model):
    """One feed's serving state: kept small (< 1 KB) because every change bumps ``version``, and a
    conditional GET is answered from this item alone."""

    class Meta(_Meta):
        """Bound to ``Settings.feeds_table`` by :func:`bind`."""

    feed_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()  # the calendar name shown in the subscriber's app
    past_days = NumberAttribute()
    future_days = NumberAttribute()
    version = NumberAttribute(default=0)  # grows with every change of the feed's content
    updated_at = NumberAttribute()  # epoch seconds of the last change
    zones = UnicodeSetAttribute(null=True)  # IANA zones used by the feed's events (one VTIMEZONE each)
    rendered_etag = UnicodeAttribute(null=True)  # the document whose body is cached (``aws.feed_bodies``)
    rendered_size = NumberAttribute(null=True)  # its bytes, plain
    rendered_gzip_size = NumberAttribute(null=True)  # and gzipped
    rendered_wire = NumberAttribute(null=True)  # plain, as a Lambda response carries it (JSON-escaped)
    rendered_object_etag = UnicodeAttribute(null=True)  # S3's ETag of the plain object


class ByFeedIndex(GlobalSecondaryIndex["FeedTokenItem"]):
    """The tokens of one feed (listing, rotation, revoking them all)."""

    class Meta:
        index_name = "by_feed"
        projection = IncludeProjection(["tenant_id", "created_at", "revoked_at"])

    feed_id = UnicodeAttribute(hash_key=True)
    token_id = UnicodeAttribute(range_key=True)


class FeedTokenItem(_Bound, Model):
    """A feed URL's secret, stored only as its SHA-256. A revoked token stays (answering 410) until TTL."""

    class Meta(_Meta):
        """Bound to ``Settings.feed_tokens_table`` by :func:`bind`."""

    token_hash = UnicodeAttribute(hash_key=True)
    token_id = UnicodeAttribute()  # public handle for logs and management; reveals nothing of the token
    feed_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    created_at = NumberAttribute()
    revoked_at = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # set when revoked
    window_start = NumberAttribute(null=True)  # epoch seconds: the request window being counted
    window_count = NumberAttribute(null=True)  # requests in that window (``store.feeds.admit``)

    by_feed = ByFeedIndex()


class ByStartIndex(LocalSecondaryIndex["FeedEventItem"]):
    """A feed's VEVENTs by start time: the window query that serves the feed. Local, so the query can
    be strongly consistent: a reader that saw the new version must also see the new VEVENTs, or a
    subscriber would keep stale content under a fresh ETag."""

    class Meta:
        index_name = "by_start"
        projection = IncludeProjection(["vevent"])

    feed_id = UnicodeAttribute(hash_key=True)
    start_utc = UnicodeAttribute(range_key=True)


class FeedEventItem(_Bound, Model):
    """One appointment on one feed, pre-rendered: serving a feed joins these bytes, nothing more."""

    class Meta(_Meta):
        """Bound to ``Settings.feed_events_table`` by :func:`bind`."""

    feed_id = UnicodeAttribute(hash_key=True)
    appointment_key = UnicodeAttribute(range_key=True)  # tenant#appointment
    start_utc = UnicodeAttribute(null=True)  # ISO 8601, UTC, sortable; range key of ``by_start``;
    #                                            absent on a removed event's tombstone (not indexed)
    vevent = UnicodeAttribute(null=True)  # folded, CRLF-terminated VEVENT; absent on a tombstone
    sequence = NumberAttribute()
    expires_at = TTLAttribute(null=True)

    by_start = ByStartIndex()


# -- Tenants ------------------------------------------------------------------------------------------


class TenantItem(_Bound, Model):
    """Who may speak for one tenant: the senders (EventBridge ``account`` and ``source``) whose
    ``Appointment Changed`` events are applied to it (``calsync.services.senders``)."""

    class Meta(_Meta):
        """Bound to ``Settings.tenants_table`` by :func:`bind`."""

    tenant_id = UnicodeAttribute(hash_key=True)
    senders = UnicodeSetAttribute(null=True)  # "<account> <source>", e.g. "123456789012 ehr.example"


# -- Disclosures ----------------------------------------------------------------------------------------


class DisclosureItem(_Bound, Model):
    """One write of rendered content to a calendar (``calsync.domain.disclosure``). Appended with a key
    that cannot exist yet and never changed: the functions may only put items into this table, and the
    table's resource policy refuses every update and delete (template.yaml). Expires after the retention."""

    class Meta(_Meta):
        """Bound to ``Settings.disclosures_table`` by :func:`bind`."""

    pk = UnicodeAttribute(hash_key=True)  # tenant#client: one patient's accounting is one Query
    sk = UnicodeAttribute(range_key=True)  # when (UTC, ISO 8601, ms)#integration#appointment#nonce: by time
    tenant_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    appointment_id = UnicodeAttribute()
    integration_id = UnicodeAttribute()
    destination = UnicodeAttribute()
    fields = UnicodeSetAttribute()
    outcome = UnicodeAttribute()
    expires_at = TTLAttribute()  # the retention (Settings.disclosure_retention_days) after the record
# -- the connect page ------------------------------------------------------------------------------------


class ConnectLinkItem(_Bound, Model):
    """A connect link the EHR asked for, and the browser session it opens when claimed (once)."""

    class Meta(_Meta):
        """Bound to ``Settings.connect_links_table`` by :func:`bind`."""

    link_hash = UnicodeAttribute(hash_key=True)  # SHA-256 of the link id; the id itself is never stored
    tenant_id = UnicodeAttribute()
    practitioner_id = UnicodeAttribute()
    reconnect_id = UnicodeAttribute(null=True)  # the integration this link reconnects, if any
    created_at = NumberAttribute()
    link_expires_at = NumberAttribute()  # the link must be claimed before this (epoch seconds)
    claimed_at = NumberAttribute(null=True)
    session_hash = UnicodeAttribute(null=True)  # SHA-256 of the session cookie's secret
    session_expires_at = NumberAttribute(null=True)
    integration_id = UnicodeAttribute(null=True)  # what this session connected (its status page)
    expires_at = TTLAttribute()  # removal: after the link (or its session) has expired


class OAuthStateItem(_Bound, Model):
    """One authorization request in flight: the one-time ``state`` (by its SHA-256), the PKCE verifier
    and what the clinician chose. Consumed by one DeleteItem when the provider sends the browser back."""

    class Meta(_Meta):
        """Bound to ``Settings.oauth_states_table`` by :func:`bind`."""

    state_hash = UnicodeAttribute(hash_key=True)
    link_hash = UnicodeAttribute()  # the session that started it
    provider = UnicodeAttribute()
    flow = UnicodeAttribute()  # JSON: the client library's flow (PKCE verifier, nonce, redirect URI, scopes)
    choices = UnicodeAttribute()  # JSON: the settings the clinician chose before leaving for consent
    created_at = NumberAttribute()
    expires_at = TTLAttribute()


# -- Booking-platform intake ------------------------------------------------------------------------


class IntakeDueIndex(GlobalSecondaryIndex["PlatformIntakeItem"]):
    """Sparse: only polled sources, held cancels and pending fetch-backs carry ``due_bucket``."""

    class Meta:
        index_name = "due"
        projection = KeysOnlyProjection()

    due_bucket = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class PlatformIntakeItem(_Bound, Model):
    """A booking-platform source's settings and bookkeeping (``calsync.store.platform_intake`` lists the
    kinds of item)."""

    class Meta(_Meta):
        """Bound to ``Settings.platform_intake_table`` by :func:`bind`."""

    pk = UnicodeAttribute(hash_key=True)  # tenant#platform
    sk = UnicodeAttribute(range_key=True)  # kind, or kind#name
    body = UnicodeAttribute(null=True)  # JSON
    digest = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)  # deliveries: claimed | done
    lease_until = NumberAttribute(null=True)
    attempts = NumberAttribute(null=True)
    due_bucket = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    due = IntakeDueIndex()


# -- Reading calendars back (two-way sync) -------------------------------------------------------------


class ByIntegrationIndex(GlobalSecondaryIndex["WatchItem"]):
    """An integration's channels and subscriptions (stopping them, renewing them)."""

    class Meta:
        index_name = "by_integration"
        projection = AllProjection()

    integration_id = UnicodeAttribute(hash_key=True)


class WatchItem(_Bound, Model):
    """One push channel (Google) or subscription (Graph) on one watched calendar, keyed by the id calsync
    chose for it — what a notification names (``X-Goog-Channel-ID``, or the ``watch`` parameter of a Graph
    notification URL), so verifying one is a single strongly consistent read. The channel's secret is kept
    only as its SHA-256."""

    class Meta(_Meta):
        """Bound to ``Settings.watches_table`` by :func:`bind`."""

    watch_id = UnicodeAttribute(hash_key=True)
    integration_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    calendar = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    resource_id = UnicodeAttribute(null=True)  # Google resourceId, Graph subscription id (once answered)
    ends_at = NumberAttribute()  # when the provider ends the channel
    created_at = NumberAttribute()
    last_message = NumberAttribute(null=True)  # Google X-Goog-Message-Number: a replay is not newer
    expires_at = TTLAttribute(null=True)  # the item goes a day after the channel ends

    by_integration = ByIntegrationIndex()


class PullDueIndex(GlobalSecondaryIndex["PullItem"]):
    """Sparse: integrations whose next pull is due (CalDAV polling, the safety net, channel renewal)."""

    class Meta:
        index_name = "due"
        projection = KeysOnlyProjection()

    due_bucket = UnicodeAttribute(hash_key=True)
    next_pull_at = NumberAttribute(range_key=True)


class PullItem(_Bound, Model):
    """Per integration: its pull state (``item = "state"``: lease, queued job, due time, requested full
    read) and one sync position per watched calendar (``item = "cursor#<calendar tag>"``: token or delta
    link, the window it covers, the blocks known, a held removal)."""

    class Meta(_Meta):
        """Bound to ``Settings.pulls_table`` by :func:`bind`."""

    integration_id = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_expires_at = NumberAttribute(null=True)
    queued_at = NumberAttribute(null=True)  # a pull job is on the queue: further notifications add nothing
    again = NumberAttribute(null=True)  # 1: a pull was asked for while one ran: it runs once more
    full = NumberAttribute(null=True)  # 1: read every watched calendar in full (lost notifications)
    renew = NumberAttribute(null=True)  # 1: renew the channels now (Graph reauthorizationRequired)
    due_bucket = UnicodeAttribute(null=True)
    next_pull_at = NumberAttribute(null=True)
    last_pulled_at = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    calendar = UnicodeAttribute(null=True)  # cursor items: the calendar's id
    cursor = UnicodeAttribute(null=True)  # cursor items: sync token, delta link or CalDAV sync-token
    window_end = NumberAttribute(null=True)  # cursor items: the end of the window the cursor's read covered
    blocks = NumberAttribute(null=True)  # cursor items: busy blocks known on the calendar
    hold = UnicodeAttribute(null=True)  # cursor items: JSON of a held removal (calsync.domain.guard.Hold)

    due = PullDueIndex()


class ByOwnerStartIndex(GlobalSecondaryIndex["BusyBlockItem"]):
    """A clinician's busy time across all their integrations, by start: the availability query."""

    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_key = UnicodeAttribute(hash_key=True)  # tenant#practitioner
    start_utc = UnicodeAttribute(range_key=True)


class BusyBlockItem(_Bound, Model):
    """One busy block read from a watched calendar. ``slot`` is ``<calendar tag>#<source tag>#<block id>``, so
    every block of one calendar, and of one provider item, is one key-prefix query."""

    class Meta(_Meta):
        """Bound to ``Settings.busy_blocks_table`` by :func:`bind`."""

    integration_id = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)
    owner_key = UnicodeAttribute()
    block_id = UnicodeAttribute()
    start_utc = UnicodeAttribute()
    end_utc = UnicodeAttribute()
    status = UnicodeAttribute()
    all_day = NumberAttribute(null=True)
    start_date = UnicodeAttribute(null=True)
    end_date = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)  # only when the clinician shares titles
    attendees = UnicodeSetAttribute(null=True)  # only when the clinician shares attendees
    digest = UnicodeAttribute()
    ordering_key = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)  # a day after the busy time ended

    by_owner = ByOwnerStartIndex()


class ByBlockIndex(GlobalSecondaryIndex["ConflictItem"]):
    """Sparse: the conflicts of one busy block (it moved or went: they may be over)."""

    class Meta:
        index_name = "by_block"
        projection = KeysOnlyProjection()

    block_ref = UnicodeAttribute(hash_key=True)  # <integration>#<block id>, on conflict items only


class ScheduledIndex(GlobalSecondaryIndex["ConflictItem"]):
    """Sparse: a watched clinician's scheduled appointments by start (pieces of at most a day), so a busy
    block finds the appointments it overlaps in one small query."""

    class Meta:
        index_name = "scheduled"
        projection = IncludeProjection(["end_utc", "appointment_start", "appointment_end"])

    owner_key = UnicodeAttribute(hash_key=True)  # tenant#practitioner, on schedule items only
    start_utc = UnicodeAttribute(range_key=True)


class ConflictItem(_Bound, Model):
    """Conflicts and what finding them needs, per appointment (``pk`` = ``tenant#appointment``):

    * ``sk`` = ``<integration>#<block id>``: an announced conflict with that busy block;
    * ``sk`` = ``~schedule#<n>``: the appointment's times, kept while its clinician is watched (pieces of at
      most a day, indexed by ``scheduled``);

    and per clinician (``pk`` = ``~watched#tenant#practitioner``, ``sk`` = ``-``): the integrations that read
    their calendars back, so an appointment change of a clinician nobody watches costs one read."""

    class Meta(_Meta):
        """Bound to ``Settings.conflicts_table`` by :func:`bind`."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    block_ref = UnicodeAttribute(null=True)
    conflict_id = UnicodeAttribute(null=True)
    tenant_id = UnicodeAttribute(null=True)
    practitioner_id = UnicodeAttribute(null=True)
    announced = NumberAttribute(null=True)  # 1 once Conflict Detected was published
    detected_at = NumberAttribute(null=True)
    owner_key = UnicodeAttribute(null=True)
    start_utc = UnicodeAttribute(null=True)
    end_utc = UnicodeAttribute(null=True)
    appointment_start = UnicodeAttribute(null=True)
    appointment_end = UnicodeAttribute(null=True)
    integrations = UnicodeSetAttribute(null=True)  # watched markers
    expires_at = TTLAttribute(null=True)  # a month after the appointment ended

    by_block = ByBlockIndex()
    scheduled = ScheduledIndex()


ALL_MODELS: tuple[type[Model], ...] = (AppointmentItem, IntegrationItem, LedgerItem, FeedItem, FeedTokenItem,
                                       FeedEventItem, TenantItem, DisclosureItem, PlatformIntakeItem,
                                       ConnectLinkItem, OAuthStateItem, WatchItem, PullItem, BusyBlockItem,
                                       ConflictItem)


TABLE_SETTINGS: dict[type[Model], str] = {
    AppointmentItem: "appointments_table",
    IntegrationItem: "integrations_table",
    PolicyItem: "integrations_table",
    LedgerItem: "ledger_table",
    SweepTaskItem: "ledger_table",
    BackfillProgressItem: "ledger_table",
    FeedItem: "feeds_table",
    FeedTokenItem: "feed_tokens_table",
    FeedEventItem: "feed_events_table",
    TenantItem: "tenants_table",
    DisclosureItem: "disclosures_table",
    PlatformIntakeItem: "platform_intake_table",
    WatchItem: "watches_table",
    PullItem: "pulls_table",
    BusyBlockItem: "busy_blocks_table",
    ConflictItem: "conflicts_table",
    ConnectLinkItem: "connect_links_table",
    OAuthStateItem: "oauth_states_table",
}
"""Which setting names each model's table (``SweepTaskItem`` shares the Ledger table)."""

_bound = False
_shared: Connection | None = None
_shared_lock = threading.Lock()


def shared_connection() -> Connection:
    """The one pynamodb connection every model uses (created on first use, or by :func:`warm`)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            meta = _Meta
            _shared = Connection(region=meta.region, host=meta.host,
                                 connect_timeout_seconds=meta.connect_timeout_seconds,
                                 read_timeout_seconds=meta.read_timeout_seconds,
                                 max_retry_attempts=meta.max_retry_attempts,
                                 max_pool_connections=meta.max_pool_connections)
        return _shared


def bind(settings: Settings | None = None) -> None:
    """Points every model at the tables, region and endpoint of ``settings`` (the deployment's, from the
    environment, when None). Called on first use; call it again to rebind (tests, the local stack)."""
    global _bound, _shared
    chosen = settings or get_settings()
    for model, setting in TABLE_SETTINGS.items():
        model.Meta.table_name = getattr(chosen, setting)
        model.Meta.region = chosen.region
        model.Meta.host = chosen.dynamodb_endpoint
        model._connection = None
    _Meta.region, _Meta.host = chosen.region, chosen.dynamodb_endpoint
    with _shared_lock:
        _shared = None
    _bound = True


def warm() -> None:
    """Binds the models and creates the DynamoDB client now: what every invocation needs, done once at cold
    start (handlers call it at import) instead of on the first change."""
    if not _bound:
        bind()
    for model in TABLE_SETTINGS:
        model._get_connection()
    shared_connection().client  # noqa: B018 - creating it loads the service model


def create_all(**kwargs: Any) -> None:
    """Creates every table if missing (local stack and tests only; AWS gets them from template.yaml)."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True, **kwargs)
