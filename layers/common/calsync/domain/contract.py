"""The public contract: the ``Appointment Changed`` event an EHR puts on the calsync bus.

Each event carries the full current state of one appointment (never a diff), so processing is
idempotent and tolerant of duplicates and reordering. ``updated_at`` plus the optional integer
``version`` order the changes of one appointment; an older change than the one stored is dropped.

The JSON Schema in ``schemas/`` is exported from :class:`AppointmentChanged` (see
``calsync.domain.schema``, written by ``python -m calsync.cli.schema``) and a test keeps the two identical.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from calsync.core.errors import ContractError

SCHEMA_VERSION = 1
DETAIL_TYPE = "Appointment Changed"
SOURCE_PREFIX = "ehr."

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
Identifier = Annotated[str, Field(pattern=_ID_PATTERN, description="Opaque id: letters, digits, ._:@- (≤ 128)")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=4000)]


def _https_url(value: str) -> str:
    if not re.match(r"^https://[^\s/$.?#][^\s]*$", value):
        raise ValueError("must be an https:// URL")
    return value


HttpsUrl = Annotated[str, Field(max_length=2000), AfterValidator(_https_url)]


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as America/New_York") from None
    return value


IanaZone = Annotated[str, Field(max_length=64, examples=["America/Chicago"]), AfterValidator(_iana_zone)]


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
    address: Annotated[str, Field(max_length=500)] | None = None


class Client(_Part):
    """The patient. Protected health information: rendered only as the clinician's privacy settings allow."""

    id: Identifier
    internal_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    first_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    last_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class AppointmentChanged(_Part):
    """``detail`` of an ``Appointment Changed`` event (schema version 1)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        title="AppointmentChanged",
        json_schema_extra={"$id": "https://schemas.calsync.dev/appointment-changed/v1.json"},
    )

    schema_version: Literal[1]
    tenant_id: Identifier
    appointment_id: Identifier
    updated_at: AwareDatetime = Field(description="When the EHR last changed the appointment (RFC 3339, offset)")
    version: Annotated[int, Field(ge=0, le=2**53)] | None = Field(
        default=None, description="Optional counter that breaks ties between changes with the same updated_at"
    )
    status: AppointmentStatus
    start: AwareDatetime
    end: AwareDatetime
    timezone: IanaZone
    all_day: bool = False
    practitioner_id: Identifier
    practice: Practice
    location: Location | None = None
    visit_type: ShortText | None = None
    telehealth_url: HttpsUrl | None = None
    notes: LongText | None = None
    deep_link: HttpsUrl | None = None
    client: Client | None = None

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
        """A string that sorts like (updated_at, version): newer changes compare greater."""
        return ordering_key(self.updated_at, self.version)

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


def ordering_key(updated_at: dt.datetime, version: int | None) -> str:
    micros = int(updated_at.timestamp() * 1_000_000)
    return f"{micros:020d}#{(version if version is not None else 0):016d}"


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """Field paths and reasons of a pydantic error, without the offending values (they may be PHI)."""
    problems = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        path = ".".join(str(part) for part in item["loc"]) or "(event)"
        problems.append((path, str(item["msg"])))
    return problems


def parse_detail(detail: Any) -> AppointmentChanged:
    """Validates an event detail; raises :class:`ContractError` naming every bad field."""
    try:
        return AppointmentChanged.model_validate(detail)
    except ValidationError as error:
        raise ContractError("invalid Appointment Changed event", _problems(error)) from None


def parse_envelope(envelope: Any) -> AppointmentChanged:
    """Validates an EventBridge envelope whose detail-type is ``Appointment Changed``."""
    if not isinstance(envelope, dict):
        raise ContractError("event is not a JSON object")
    detail_type = envelope.get("detail-type")
    if detail_type != DETAIL_TYPE:
        raise ContractError("unexpected event", [("detail-type", f"expected '{DETAIL_TYPE}'")])
    source = envelope.get("source")
    if not isinstance(source, str) or not source.startswith(SOURCE_PREFIX):
        raise ContractError("unexpected event", [("source", f"expected '{SOURCE_PREFIX}<vendor>'")])
    return parse_detail(envelope.get("detail"))
