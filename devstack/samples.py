"""The sample clinicians ``make serve`` connects, each to every kind of calendar calsync writes: a Radicale
calendar (CalDAV), the Google Calendar simulator, the Microsoft Graph simulator and a private ICS feed on
the local HTTP API. So one change sent on the bus shows up in all four places.

Imports calsync (through the connect helpers), so it is used only once the deployment's environment is
in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from devstack import sample_day
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.deployment import Deployment
from devstack.oauth_clinicians import OAuthClinician, connect_google, connect_microsoft

USERNAMES = {sample_day.OKAFOR: "okafor", sample_day.LINDQVIST: "lindqvist"}


@dataclass(frozen=True)
class SampleClinician:
    practitioner_id: str
    caldav: CalDavClinician
    google: OAuthClinician | None
    microsoft: OAuthClinician | None
    feed_url: str


def seed(deployment: Deployment, tenant_id: str = sample_day.TENANT) -> list[SampleClinician]:
    """Connects Dr Okafor and Dr Lindqvist (their privacy choices from the sample day) everywhere."""
    from calsync.services.feeds import create_feed

    seeded = []
    for practitioner, username in USERNAMES.items():
        privacy = sample_day.PRIVACY[practitioner]
        caldav = connect_caldav(deployment.stack, tenant_id=tenant_id, practitioner_id=practitioner, privacy=privacy,
                                username=username)
        google = microsoft = None
        if deployment.google is not None:
            google = connect_google(deployment.stack, deployment.google, tenant_id=tenant_id,
                                    practitioner_id=practitioner, privacy=privacy)
        if deployment.microsoft is not None:
            microsoft = connect_microsoft(deployment.stack, deployment.microsoft, tenant_id=tenant_id,
                                          practitioner_id=practitioner, privacy=privacy)
        _, issued = create_feed(tenant_id, practitioner, privacy=privacy, base_url=deployment.api.base_url)
        assert issued.url is not None
        seeded.append(SampleClinician(practitioner, caldav, google, microsoft, issued.url))
    return seeded


NEWCOMER = "dr-newcomer"


@dataclass(frozen=True)
class Newcomer:
    """A clinician not connected yet, with an account at every provider, to try the connect page with."""

    practitioner_id: str
    connect_url: str
    google_user: str | None
    microsoft_user: str | None
    icloud_username: str
    icloud_password: str


def newcomer(deployment: Deployment, tenant_id: str = sample_day.TENANT) -> Newcomer:
    """Accounts for Dr Newcomer (Google and Microsoft simulators, a Radicale login standing in for iCloud)
    and a connect link for them, as the EHR's backend would ask for one."""
    from calsync.services.connect import links

    username, password = "newcomer", "abcd-efgh-ijkl-mnop"
    deployment.stack.radicale.add_user(username, password)
    google_user = microsoft_user = None
    if deployment.google is not None:
        google_user = deployment.google.add_user("dr.newcomer@gmail.example")
    if deployment.microsoft is not None:
        microsoft_user = "dr.newcomer@northside.example"
        deployment.microsoft.add_user(microsoft_user, "northside-directory")
    link = links.create(tenant_id, NEWCOMER)
    return Newcomer(NEWCOMER, link.url, google_user, microsoft_user, username, password)
