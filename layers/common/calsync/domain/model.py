"""Domain types shared by the engine, the store and the providers (no I/O here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from calsync.core.errors import ConfigurationError
from calsync.domain import integration_values as values
from calsync.domain.contract import field_problems


class ClientDisplay(StrEnum):
    """How the client (patient) is named on the clinician's calendar."""

    NONE = "none"
    INTERNAL_ID = "internal_id"
    INITIALS = "initials"
    FIRST_NAME = "first_name"
    FULL_NAME = "full_name"


class PrivacySettings(BaseModel):
    """What a clinician chose to see. Defaults are the least revealing choice that is still useful:
    the client's internal id (meaningful to the clinician, meaningless to anyone else), the location and
    practice (not patient data), and a deep link that needs an EHR login to reveal anything."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_display: ClientDisplay = ClientDisplay.INTERNAL_ID
    show_visit_type: bool = False
    show_location: bool = True
    show_notes: bool = False
    show_practice_name: bool = True
    show_deep_link: bool = True
    show_telehealth_link: bool = False
    private_visibility: bool = True
    reminder_minutes: int | None = Field(
        default=None, ge=0, le=40320,
        description="A reminder this many minutes before the start; none when unset (40320: Google's maximum)",
    )


class Provider(StrEnum):
    CALDAV = "caldav"
    GOOGLE = "google"
    MICROSOFT = "microsoft"
    ICS = "ics"


class Direction(StrEnum):
    PUSH = "push"
    PULL = "pull"
    TWO_WAY = "two_way"

    @property
    def pushes(self) -> bool:
        return self in (Direction.PUSH, Direction.TWO_WAY)


class IntegrationStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    PAUSED = "paused"
    ERROR = "error"
    DISCONNECTED = "disconnected"


class SyncWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    past_days: int = Field(default=30, ge=0, le=3650)
    future_days: int = Field(default=365, ge=1, le=3650)

    def contains(self, start: dt.datetime, now: dt.datetime) -> bool:
        return now - dt.timedelta(days=self.past_days) <= start <= now + dt.timedelta(days=self.future_days)


def _entering(check: values.Check) -> AfterValidator:
    return AfterValidator(values.when_entering(check))


def _published(pattern: str, max_length: int | None = None) -> Any:
    """The shape a value must have as it enters, in the published JSON Schema (the integration API's document)
    as well; it is checked by :func:`_entering`, so an item stored before a rule existed still loads."""
    return Field(json_schema_extra={"pattern": pattern, **({"maxLength": max_length} if max_length else {})})


_ID_SHAPE = _published(f"^{values.IDENTIFIER.pattern}$")
_LINE_SHAPE = _published(values.LABEL_PATTERN, values.SHORT_TEXT)
_Id = Annotated[str, _ID_SHAPE,
                _entering(values.matches(values.IDENTIFIER, "an identifier: letters, digits, ._:@- (≤ 128)"))]
_Label = Annotated[str, _LINE_SHAPE, _entering(values.single_line())]


class Integration(BaseModel):
    """One clinician's connection to one calendar.

    Every value is checked as it enters (``calsync.domain.integration_values``): built here, and again
    by the store before it is written; one read back from the table is taken as it was stored."""

    model_config = ConfigDict(extra="forbid")

    integration_id: Annotated[str, _entering(values.matches(values.INTEGRATION_ID,
                                                              "letters, digits, _.:@- (≤ 128)"))]
    tenant_id: _Id
    practitioner_id: Annotated[str, _entering(values.matches(values.OWNER,
                                                              "an identifier, or practice:<identifier>"))]
    provider: Provider
    calendar_id: str = Field(description="CalDAV collection URL, Google calendar id, or Graph calendar id")
    direction: Direction = Direction.PUSH
    window: SyncWindow = SyncWindow()
    privacy: PrivacySettings = PrivacySettings()
    practice_filter: Annotated[frozenset[Annotated[str, _ID_SHAPE]],
                               _entering(values.matches(values.IDENTIFIER, "practice ids"))] = frozenset()
    practice_scope: _Id | None = Field(
        default=None,
        description="When set, the integration follows every appointment of this practice (front-desk "
        "feeds) instead of the practitioner's own",
    )
    location_filter: Annotated[frozenset[Annotated[str, _LINE_SHAPE]], _entering(values.single_line())] = Field(
        default=frozenset(), description="Location names to include (empty: all); for per-location feeds"
    )
    status: IntegrationStatus = IntegrationStatus.PENDING
    status_reason: _Label | None = None
    last_synced_at: dt.datetime | None = None
    last_error: _Label | None = None
    secret_ref: Annotated[str, _entering(values.matches(values.SECRET_REF, "a Secrets Manager name or ARN"))] | None = (
        Field(default=None, description="Secrets Manager ARN or name holding credentials"))
    account: Annotated[str, _entering(values.single_line())] | None = Field(
        default=None, max_length=320, description="The calendar account's address (e.g. clinician@clinic.example): "
        "which kind of destination it is, for the practice's privacy policy")
    options: dict[str, str] = Field(default_factory=dict, description="Provider-specific, non-secret settings "
                                    "(an allowlist per provider: calsync.domain.integration_values.OPTIONS)")

    @model_validator(mode="after")
    def _provider_values(self, info: ValidationInfo) -> Integration:
        """The calendar id and the options, which depend on the provider."""
        if not values.entering(info):
            return self
        problems = values.option_problems(self.provider.value, self.options)
        try:
            values.CALENDAR_IDS[self.provider.value](self.calendar_id)
        except ValueError as error:
            problems.insert(0, f"calendar_id: {error}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def subscribes_to(self, practitioner_id: str, practice_id: str, location_name: str | None) -> bool:
        """Whether an appointment with these attributes belongs on this integration's calendar."""
        if self.practice_scope is not None:
            in_scope = practice_id == self.practice_scope
        else:
            in_scope = practitioner_id == self.practitioner_id
        return (
            in_scope
            and (not self.practice_filter or practice_id in self.practice_filter)
            and (not self.location_filter or (location_name is not None and location_name in self.location_filter))
        )

    @property
    def owner_key(self) -> str:
        """The subscription key the engine looks integrations up by (see ``store.integrations``)."""
        if self.practice_scope is not None:
            return f"{self.tenant_id}#practice:{self.practice_scope}"
        return f"{self.tenant_id}#{self.practitioner_id}"

    @property
    def accepts_pushes(self) -> bool:
        return self.direction.pushes and self.status in (IntegrationStatus.PENDING, IntegrationStatus.ACTIVE)


def checked(integration: Integration) -> Integration:
    """``integration`` validated again, as it is about to be stored (a field may have been set after it
    was built)."""
    return validated(integration.model_dump())


def validated(fields: Mapping[str, Any]) -> Integration:
    """An integration from ``fields``; :class:`ConfigurationError` names each bad field and why, never a
    value (pydantic's own message would quote it)."""
    try:
        return Integration.model_validate(fields)
    except ValidationError as error:
        problems = field_problems(error, whole="integration")
        raise ConfigurationError("invalid integration settings: "
                                 + "; ".join(f"{path}: {reason}" for path, reason in problems)) from None
