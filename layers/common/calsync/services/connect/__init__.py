"""Connecting a clinician's calendar, and the EHR's integration API over it.

    links       connect links: made for the EHR (signed, single use, short-lived), checked and claimed
    session     the browser session a claimed link opens (cookie), and its CSRF token
    apps        the deployment's OAuth clients and the exact redirect URIs
    oauth       Google and Microsoft: consent with PKCE, then the calendar, the secret and the integration
    caldav      iCloud and other CalDAV servers: discovery, a test write and delete, then the same
    setup       what every path ends with: the secret (under the tenant), the integration, the first sync
    pages       the connect page's steps, as views the web layer renders
    disconnect  stop, revoke, forget: nothing usable is left behind
    api         the integration API's use cases (tenant from the caller, never the body)
"""
