"""Practice privacy policies: what a tenant allows its calendars to show, above each clinician's choices.

A policy can only take detail away. :func:`restrict` turns a clinician's settings into the settings a
calendar actually gets, and says why each field is shown or removed (:class:`FieldDecision`), so support
and compliance questions ("why does Dr Lee's calendar show only Busy?") have an answer:

1. **busy-only** — an appointment the EHR marks sensitive, a visit type the practice lists as sensitive
   (substance-use treatment, sexual health, psychotherapy, ...), a patient who opted out, or an
   appointment beyond the policy's detail horizon is shown as a neutral title and nothing about the
   patient: no client, visit type, notes, telehealth or EHR link, no location (the practice's name only
   if the policy allows it);
   A visit that ended more than the policy's ``past_busy_after_days`` ago is busy-only too (retention of
   what was pushed: nothing about a past visit stays in a personal calendar for years);
2. **destination caps** — the most revealing client display each kind of destination may get: personal
   consumer accounts (gmail.com, outlook.com, iCloud, any domain the practice does not list as covered by
   its agreements) and subscription feeds versus the practice's own managed Google Workspace domain or
   Microsoft tenant;
3. **the clinician's settings** — whatever is left.

The most restrictive rule wins for every field; no rule can add a field the clinician switched off.
``calsync.domain.privacy.render`` applies it; nothing else decides what a calendar shows.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import ClientDisplay, Integration, PrivacySettings, Provider

TEMPLATE_FIELDS = ("client", "visit_type", "practice", "location")
"""What a title template may name; a field the effective settings hide renders as nothing."""
DISPLAY_ORDER = (ClientDisplay.NONE, ClientDisplay.INTERNAL_ID, ClientDisplay.INITIALS, ClientDisplay.FIRST_NAME,
                 ClientDisplay.FULL_NAME)
"""Client displays from least to most revealing."""
CONSUMER_DOMAINS = frozenset({"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
                              "icloud.com", "me.com", "mac.com"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SEPARATORS = " ·-|:,/–—"
"""Text a hidden field takes along when it would start the title."""


class DestinationKind(StrEnum):
    MANAGED = "managed"    # the practice's own Workspace domain or Microsoft tenant, listed in its policy
    CONSUMER = "consumer"  # a personal account, or anything the practice does not list as covered
    FEED = "feed"          # a subscription URL: whoever holds the link reads it


def _template(value: str | None) -> str | None:
    if value is None:
        return None
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    try:
        names = [name for _, name, spec, conversion in string.Formatter().parse(value) if name is not None
                 and not spec and not conversion]
        parsed = list(string.Formatter().parse(value))
    except ValueError:
        raise ValueError("must be text with {field} placeholders") from None
    if any(spec or conversion for _, name, spec, conversion in parsed if name is not None):
        raise ValueError("placeholders take no format specification")
    unknown = sorted(set(names) - set(TEMPLATE_FIELDS))
    if unknown or not names:
        raise ValueError(f"may name only {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}")
    return value


def _names(values: frozenset[str]) -> frozenset[str]:
    if any(_CONTROL.search(v) or not v.strip() or len(v) > 200 for v in values):
        raise ValueError("entries must be non-empty text without control characters (at most 200 characters)")
    return frozenset(v.strip().casefold() for v in values)


def _domains(values: frozenset[str]) -> frozenset[str]:
    if any(not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", v) for v in values):
        raise ValueError("entries must be DNS names or Microsoft tenant ids")
    return frozenset(v.lower() for v in values)


class PrivacyPolicy(BaseModel):
    """One practice's (tenant's) rules. Every field's default removes nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensitive_visit_types: Annotated[frozenset[str], AfterValidator(_names)] = frozenset()
    opted_out_clients: Annotated[frozenset[str], AfterValidator(lambda v: frozenset(v))] = frozenset()
    busy_title: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")] = "Busy"
    busy_shows_practice: bool = False
    managed_domains: Annotated[frozenset[str], AfterValidator(_domains)] = frozenset()
    caps: dict[DestinationKind, ClientDisplay] = Field(default_factory=dict)
    detail_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    past_busy_after_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    """Retention of what was pushed: this many days after a visit ends, its event shows only busy."""
    title_template: Annotated[str | None, Field(max_length=200), AfterValidator(_template)] = None

    def rules_in_force(self) -> tuple[str, ...]:
        """The names of the rules that differ from their default (which removes nothing), sorted."""
        return tuple(sorted(name for name, spec in type(self).model_fields.items()
                            if getattr(self, name) != spec.get_default(call_default_factory=True)))


NO_POLICY = PrivacyPolicy()
"""A practice without a policy: only the EHR's own marks (``sensitive``, ``client.opted_out``) apply."""


@dataclass(frozen=True)
class FieldDecision:
    """Whether one field reaches the calendar, and the rule that decided it."""

    field: str
    shown: bool
    rule: str


@dataclass(frozen=True)
class Restricted:
    """The settings a calendar actually gets for one appointment, and the reasons."""

    settings: PrivacySettings
    busy_only: bool
    busy_title: str
    title_template: str | None
    decisions: tuple[FieldDecision, ...]


_SETTING_OF = {"visit_type": "show_visit_type", "location": "show_location", "notes": "show_notes",
               "practice": "show_practice_name", "deep_link": "show_deep_link", "telehealth": "show_telehealth_link"}
FIELDS = ("client", *_SETTING_OF)


def destination_kind(integration: Integration, policy: PrivacyPolicy) -> DestinationKind:
    """Which kind of destination an integration writes to. Unknown means consumer: the stricter cap."""
    if integration.provider is Provider.ICS:
        return DestinationKind.FEED
    listed = policy.managed_domains
    candidates = {integration.options.get("tenant_id", "").lower()}
    if integration.account and "@" in integration.account:
        candidates.add(integration.account.rsplit("@", 1)[1].lower())
    if integration.provider is Provider.CALDAV and integration.calendar_id.startswith("https://"):
        host = integration.calendar_id.split("/")[2].split(":")[0].lower()
        candidates.update({host, ".".join(host.split(".")[-2:])})
    candidates.discard("")
    if candidates & CONSUMER_DOMAINS:
        return DestinationKind.CONSUMER
    return DestinationKind.MANAGED if candidates & listed else DestinationKind.CONSUMER


def _busy_reason(appointment: AppointmentChanged, policy: PrivacyPolicy, now: dt.datetime) -> str | None:
    if appointment.sensitive:
        return "the EHR marks the appointment sensitive"
    if appointment.visit_type and appointment.visit_type.strip().casefold() in policy.sensitive_visit_types:
        return "policy: sensitive visit type"
    client = appointment.client
    if client is not None and client.opted_out:
        return "the EHR marks the patient as opted out of calendar details"
    if client is not None and client.id in policy.opted_out_clients:
        return "policy: the patient opted out of calendar details"
    if policy.detail_days is not None and appointment.start > now + dt.timedelta(days=policy.detail_days):
        return f"policy: details only for the next {policy.detail_days} days"
    if (policy.past_busy_after_days is not None
            and appointment.end + dt.timedelta(days=policy.past_busy_after_days) <= now):
        return f"policy: past visits show only busy {policy.past_busy_after_days} days after they end"
    return None


def restrict(settings: PrivacySettings, policy: PrivacyPolicy | None, appointment: AppointmentChanged,
             destination: DestinationKind, now: dt.datetime) -> Restricted:
    """The clinician's ``settings`` after the practice's ``policy`` for this appointment and destination."""
    decisions: dict[str, FieldDecision] = {}
    values = settings.model_dump()
    busy = _busy_reason(appointment, policy or NO_POLICY, now)  # the EHR's own marks apply without a policy
    for field, setting in _SETTING_OF.items():
        if not values[setting]:
            decisions[field] = FieldDecision(field, False, f"clinician: {setting} is off")
        elif busy and not (field == "practice" and (policy or NO_POLICY).busy_shows_practice):
            values[setting] = False
            decisions[field] = FieldDecision(field, False, busy)
        else:
            decisions[field] = FieldDecision(field, True, f"clinician: {setting} is on")
    display = settings.client_display
    client_rule = f"clinician: client shown as {display.value}"
    if display is ClientDisplay.NONE:
        client_rule = "clinician: client display is none"
    elif busy:
        display, client_rule = ClientDisplay.NONE, busy
    elif policy is not None and destination in policy.caps:
        cap = policy.caps[destination]
        if DISPLAY_ORDER.index(cap) < DISPLAY_ORDER.index(display):
            display = cap
            client_rule = f"policy: {destination.value} destinations show the client as {cap.value} at most"
    values["client_display"] = display
    decisions["client"] = FieldDecision("client", display is not ClientDisplay.NONE, client_rule)
    if busy:
        values["private_visibility"] = True
    return Restricted(
        settings=PrivacySettings.model_validate(values),
        busy_only=busy is not None,
        busy_title=policy.busy_title if policy is not None else "Busy",
        title_template=policy.title_template if policy is not None and not busy else None,
        decisions=tuple(decisions[field] for field in FIELDS),
    )


def fill_template(template: str, parts: dict[str, str | None]) -> str:
    """``template`` with each field that has a value; an empty field takes the text before it with it."""
    out: list[str] = []
    pending = ""
    for literal, name, _, _ in string.Formatter().parse(template):
        pending += literal
        if name is None:
            continue
        value = parts.get(name)
        if value:
            out.append(pending if out else pending.lstrip(SEPARATORS))
            out.append(value)
        pending = ""
    if out and pending:
        out.append(pending)
    return "".join(out).strip()
