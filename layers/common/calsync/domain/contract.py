"""The public contract: the ``Appointment Changed`` event an EHR puts on the calsync bus.

Each event carries the full current state of one appointment (never a diff), so processing is
idempotent and tolerant of duplicates and reordering.

**Order.** The changes of one appointment are totally ordered by :func:`ordering_key`: ``updated_at`` (to
the microsecond), then the optional integer ``version`` (absent counts as 0), then the SHA-256 digest of
the change's content (:func:`content_digest`). A change that sorts before the stored one is dropped; an
equal key is the same content again (a duplicate, accepted so that a redelivery can finish a first
attempt that crashed midway). The digest only breaks ties: two different changes stamped with the same
``updated_at`` and ``version`` (second-resolution clocks do that) converge on the same winner in the
stored snapshot and in every calendar, whatever order they arrive in. Which one wins is arbitrary but
fixed; an EHR that needs a particular one to win gives it a later ``updated_at`` or a higher ``version``.

**Rules beyond the JSON Schema** (the schema cannot express them; :func:`parse_detail` checks them):

* ``updated_at`` may be at most :data:`MAX_CLOCK_SKEW` ahead of the receiving clock. A change stamped
  further ahead (a vendor clock bug) would win over every real change after it, the cancellation too,
  until that time came; it is refused as malformed and dead-lettered with its reason instead.
* ``timezone`` must name a zone of the IANA tz database as shipped in the ``tzdata`` package (canonical
  names and their aliases; not ``localtime``, ``posix/…``, ``right/…`` or ``Factory``); the schema checks
  only the shape of the name.
* ``end`` follows ``start`` by at most 31 days; all-day appointments start and end at local midnights.

**Versions.** ``schema_version`` 2 adds what a practice's privacy policy needs: ``sensitive`` (the EHR
marks the appointment — e.g. substance-use treatment under 42 CFR Part 2 — so calendars show only busy)
and ``client.opted_out`` (the patient asked not to be named on calendars). Version 1 events are accepted
unchanged and read as not sensitive and not opted out; a version 1 event carrying a version 2 field is
refused (a sender that means it must say so).

The JSON Schemas in ``schemas/`` (``appointment-changed.v1.json``, ``.v2.json``) are exported from
:class:`AppointmentChanged` (see
``calsync.domain.schema``, written by ``python -m calsync.cli.schema``) and a test keeps the two identical.
It carries everything else: RFC 3339 date-time strings (not numbers; years 2000–2999, at most six
fraction digits, so distinct timestamps never collapse into one), strict types, and text without
control characters (``calsync.domain.text``; ``notes`` alone may hold tabs and line breaks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from calsync.core.errors import ContractError
from calsync.domain.text import multi_line, multi_line_text, printable, single_line, single_line_text

SCHEMA_VERSION = 2
"""The newest version; every version in :data:`SCHEMA_VERSIONS` is accepted."""
SCHEMA_VERSIONS = (1, 2)
V2_FIELDS = ("sensitive", "client.opted_out")
"""What version 2 added (``calsync.domain.schema`` leaves them out of the version 1 schema)."""
DETAIL_TYPE = "Appointment Changed"
SOURCE_PREFIX = "ehr."

MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far ahead of the receiving clock ``updated_at`` may be. Five minutes is the skew AWS itself allows
a signed request (an EHR whose clock is further off cannot call PutEvents at all), far more than
NTP-synchronised clocks drift, and it bounds what a fast clock can do: a change stamped ahead wins
over real changes made at most this long after it."""
RECEIVED_AT = "received_at"
"""Validation context key: the receiving clock's time; :func:`parse_detail` sets it."""

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
Identifier = Annotated[str, StringConstraints(pattern=_ID_PATTERN), BeforeValidator(single_line),
                       Field(description="Opaque id: letters, digits, ._:@- (≤ 128)")]
ShortText = Annotated[str, single_line_text(1, 200), BeforeValidator(single_line)]
Name = Annotated[str, single_line_text(1, 100), BeforeValidator(single_line)]
Address = Annotated[str, single_line_text(max_length=500), BeforeValidator(single_line)]
InternalId = Annotated[str, single_line_text(1, 64), BeforeValidator(single_line)]
LongText = Annotated[str, multi_line_text(4000), BeforeValidator(multi_line),
                     Field(description="May hold tabs and line breaks (LF or CRLF), no other control characters")]

_HTTPS_URL_PATTERN = r"^https://[^\s\x00-\x1f\x7f-\x9f/$.?#][^\s\x00-\x1f\x7f-\x9f]*$"
_HTTPS_URL = re.compile(_HTTPS_URL_PATTERN.removeprefix("^").removesuffix("$"))


def _https_url(value: Any) -> Any:
    if isinstance(value, str) and not _HTTPS_URL.fullmatch(single_line(value).strip()):
        raise ValueError("must be an https:// URL without spaces or control characters")
    return value


HttpsUrl = Annotated[str, StringConstraints(max_length=2000, pattern=_HTTPS_URL_PATTERN), BeforeValidator(_https_url)]

RFC3339_PATTERN = (r"^2[0-9]{3}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
                   r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
"""RFC 3339 ``date-time`` with years 2000–2999 and at most microseconds: more fraction digits would be
truncated, so two distinct timestamps would compare equal."""
_RFC3339 = re.compile(RFC3339_PATTERN.removeprefix("^").removesuffix("$"))
_YEARS = range(2000, 3000)


def _rfc3339(value: Any) -> Any:
    """Only RFC 3339 strings (a datetime passes: code that builds a model in Python); pydantic alone would
    also take epoch numbers, numeric strings, a space for ``T`` and times without seconds."""
    if isinstance(value, dt.datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time string with an offset, years 2000-2999, "
                     "at most 6 fraction digits (e.g. 2026-11-23T14:02:10.512Z)")


def _in_years(value: dt.datetime) -> dt.datetime:
    if value.year not in _YEARS:
        raise ValueError("must be in the years 2000-2999")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_years),
                      Field(json_schema_extra={"pattern": RFC3339_PATTERN})]


def _not_ahead(value: dt.datetime, info: ValidationInfo) -> dt.datetime:
    """The clock rule: only when the receiving clock is given (:func:`parse_detail`); a stored snapshot is
    read back without it."""
    received_at = info.context.get(RECEIVED_AT) if isinstance(info.context, dict) else None
    if isinstance(received_at, dt.datetime) and value > received_at + MAX_CLOCK_SKEW:
        minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        raise ValueError(f"is more than {minutes} minutes ahead of the receiving clock")
    return value


_NOT_ZONES = frozenset({"Factory"})  # tzdata's placeholder for "no zone configured"


@lru_cache(maxsize=1)
def iana_zone_names() -> frozenset[str]:
    """Every zone name the ``tzdata`` package ships (canonical names and aliases). The package, not the
    machine's ``/usr/share/zoneinfo`` (which also holds ``localtime``, ``posix/…`` and ``right/…``), so
    Lambda and the tests accept the same names."""
    names = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(names) - _NOT_ZONES


def _iana_zone(value: str) -> str:
    if value not in iana_zone_names():
        raise ValueError("must be an IANA time zone name such as America/New_York")
    return value


_ZONE_SHAPE = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
IanaZone = Annotated[str, StringConstraints(max_length=64, pattern=_ZONE_SHAPE), AfterValidator(_iana_zone),
                     Field(examples=["America/Chicago"], description="A zone name of the IANA tz database "
                           "(canonical or alias, as the tzdata package ships them)")]


def _exactly_one(value: Any) -> Any:
    if type(value) is not int or value not in SCHEMA_VERSIONS:  # a Literal alone takes True and 1.0
        raise ValueError(f"must be one of the integers {', '.join(map(str, SCHEMA_VERSIONS))}")
    return value


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    COMPLETED = "completed"
    DELETED = "deleted"

    @property
    def removes_event(self) -> bool:
        """Cancelled and deleted appointments disappear from calendars; the others stay."""
        return self in (AppointmentStatus.CANCELLED, AppointmentStatus.DELETED)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Practice(_Part):
    id: Identifier
    name: ShortText | None = None


class Location(_Part):
    name: ShortText | None = None
    address: Address | None = None


class Client(_Part):
    """The patient. Protected health information: rendered only as the clinician's privacy settings allow."""

    id: Identifier
    internal_id: InternalId | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    opted_out: StrictBool = Field(default=False, description="Schema version 2: the patient asked not to be "
                                  "named on calendars (calendars show only busy)")


class AppointmentChanged(_Part):
    """``detail`` of an ``Appointment Changed`` event (schema versions 1 and 2)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        title="AppointmentChanged",
        json_schema_extra={"$id": "https://schemas.calsync.dev/appointment-changed/v2.json"},
    )

    schema_version: Annotated[Literal[1, 2], BeforeValidator(_exactly_one)]
    tenant_id: Identifier
    appointment_id: Identifier
    updated_at: Annotated[Timestamp, AfterValidator(_not_ahead)] = Field(
        description="When the EHR last changed the appointment (RFC 3339, offset); at most "
        f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes ahead of the receiving clock")
    version: Annotated[StrictInt, Field(ge=0, le=2**53)] | None = Field(
        default=None, description="Optional counter that breaks ties between changes with the same updated_at"
    )
    status: AppointmentStatus
    start: Timestamp
    end: Timestamp
    timezone: IanaZone
    all_day: StrictBool = False
    practitioner_id: Identifier
    practice: Practice
    location: Location | None = None
    visit_type: ShortText | None = None
    telehealth_url: HttpsUrl | None = None
    notes: LongText | None = None
    deep_link: HttpsUrl | None = None
    client: Client | None = None
    sensitive: StrictBool = Field(default=False, description="Schema version 2: the EHR marks the appointment "
                                  "sensitive (calendars show only busy, whatever the clinician chose)")

    @model_serializer(mode="wrap")
    def _as_its_version(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A version 1 change is written as version 1 (without version 2's fields), so it reads back."""
        data: dict[str, Any] = handler(self)
        if self.schema_version == 1:
            data.pop("sensitive", None)
            if isinstance(data.get("client"), dict):
                data["client"].pop("opted_out", None)
        return data

    @model_validator(mode="after")
    def _fields_of_its_version(self) -> AppointmentChanged:
        if self.schema_version == 1:
            used = ["sensitive"] if "sensitive" in self.model_fields_set else []
            if self.client is not None and "opted_out" in self.client.model_fields_set:
                used.append("client.opted_out")
            if used:
                raise ValueError(f"{', '.join(used)} came with schema_version 2: send schema_version 2")
        return self

    @model_validator(mode="after")
    def _times_make_sense(self) -> AppointmentChanged:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > dt.timedelta(days=31):
            raise ValueError("an appointment may last at most 31 days")
        if self.all_day:
            zone = ZoneInfo(self.timezone)
            for moment in (self.start, self.end):
                local = moment.astimezone(zone)
                if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
                    raise ValueError("all-day start and end must be local midnights in the appointment's timezone")
        return self

    # -- derived values -------------------------------------------------------------------------------

    @property
    def order_key(self) -> str:
        """A string that sorts like (updated_at, version, content digest): see :func:`ordering_key`."""
        return ordering_key(self.updated_at, self.version, content_digest(self))

    @property
    def key(self) -> str:
        """``tenant#appointment``: see :func:`appointment_key`."""
        return appointment_key(self.tenant_id, self.appointment_id)

    @property
    def start_date(self) -> dt.date:
        return self.start.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def end_date(self) -> dt.date:
        """For all-day appointments: the exclusive end date."""
        return self.end.astimezone(ZoneInfo(self.timezone)).date()


def appointment_key(tenant_id: str, appointment_id: str) -> str:
    """Where an appointment is kept and how the ledger names it: ``tenant#appointment``."""
    return f"{tenant_id}#{appointment_id}"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ordering_key(updated_at: dt.datetime, version: int | None, digest: str = "") -> str:
    """The total order of one appointment's changes as a string that sorts like it:
    ``<microseconds since 1970, 20 digits>#<version, 16 digits>#<content digest>``.

    Microseconds are counted exactly (a float timestamp would round neighbours together). Without
    ``digest`` it is the lowest key of that (updated_at, version), which is also how keys stored before the
    digest was added compare: below every key of the same time and version that has one."""
    micros = (updated_at - _EPOCH) // dt.timedelta(microseconds=1)
    key = f"{micros:020d}#{(version if version is not None else 0):016d}"
    return f"{key}#{digest}" if digest else key


def content_digest(appointment: AppointmentChanged) -> str:
    """SHA-256 (first 128 bits, hex) of the change's canonical JSON: the fields as validated, absent and
    null alike left out, times as UTC instants to the microsecond (an offset is spelling, not content),
    keys sorted, no whitespace, UTF-8. Equal exactly when the content is; stable across the stored
    snapshot's round trip."""
    content = appointment.model_dump(mode="json", exclude_none=True)
    if not content.get("sensitive"):  # version 2's flags, when off, leave the digest of a version 1 change as it was
        content.pop("sensitive", None)
    if isinstance(content.get("client"), dict) and not content["client"].get("opted_out"):
        content["client"].pop("opted_out", None)
    for name in _TIMES:
        content[name] = getattr(appointment, name).astimezone(dt.UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


_TIMES = ("updated_at", "start", "end")


def field_problems(error: ValidationError, whole: str = "(event)") -> list[tuple[str, str]]:
    """Field paths and reasons of a pydantic error, without the offending values (they may be PHI);
    ``whole`` names a problem of the object as a whole."""
    problems = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        path = ".".join(str(part) for part in item["loc"]) or whole
        problems.append((path, str(item["msg"])))
    return problems


def parse_stored(raw: bytes | str) -> AppointmentChanged:
    """A snapshot read back from the store (JSON of a validated change). One stored before today's text
    rules may hold control characters: it is read with them replaced by spaces (line breaks kept in the
    notes), so what renders it can never meet one, and a stored snapshot never becomes unreadable."""
    try:
        return AppointmentChanged.model_validate_json(raw)
    except ValidationError:
        return AppointmentChanged.model_validate(_printable(json.loads(raw)))


def _printable(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        return printable(value, keep_line_breaks=key == "notes")
    if isinstance(value, dict):
        return {name: _printable(item, name) for name, item in value.items()}
    return value


def parse_detail(detail: Any, now: dt.datetime | None = None) -> AppointmentChanged:
    """Validates an event detail received at ``now`` (default: the current time); raises
    :class:`ContractError` naming every bad field."""
    received_at = now or dt.datetime.now(dt.UTC)
    try:
        return AppointmentChanged.model_validate(detail, context={RECEIVED_AT: received_at})
    except ValidationError as error:
        raise ContractError("invalid Appointment Changed event", field_problems(error)) from None


def parse_envelope(envelope: Any, now: dt.datetime | None = None) -> AppointmentChanged:
    """Validates an EventBridge envelope whose detail-type is ``Appointment Changed``."""
    if not isinstance(envelope, dict):
        raise ContractError("event is not a JSON object")
    detail_type = envelope.get("detail-type")
    if detail_type != DETAIL_TYPE:
        raise ContractError("unexpected event", [("detail-type", f"expected '{DETAIL_TYPE}'")])
    source = envelope.get("source")
    if not isinstance(source, str) or not source.startswith(SOURCE_PREFIX):
        raise ContractError("unexpected event", [("source", f"expected '{SOURCE_PREFIX}<vendor>'")])
    return parse_detail(envelope.get("detail"), now)
