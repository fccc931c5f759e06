"""A Microsoft Graph (calendars) and Microsoft identity platform simulator, for what calsync uses and what
two-way sync and the connect page need. Start it with ``MicrosoftGraphSimulator().start()`` (HTTPS:
trust :attr:`ca_bundle`).

Python API (all on the simulator object; see each module for the semantics kept):

* setup: ``register_client(client_id, secret, redirect_uris=())``, ``add_user(user, tenant) -> default
  calendar id``, ``add_calendar(user, name=None) -> id``, ``connect(user, client_id, tenant,
  scopes=(Calendars.ReadWrite,)) -> refresh token``, ``admin_consent(tenant, client_id, granted=True)``;
  addresses ``url``, ``api_base``, ``login_base``, ``authority(tenant)``.
* clinician console (:mod:`.console`): ``create_event``, ``update_event``/``edit``, ``move_event``,
  ``delete_event``, ``move_occurrence``, ``cancel_occurrence``, ``occurrences``, ``occurrence_id``,
  ``weekly(start, count=|until=)``.
* delta (:mod:`.delta`): ``expire_delta_tokens(user=None, code="syncStateNotFound")``; subscriptions
  (:mod:`.subscriptions`): ``subscriptions.allow_http_loopback``, ``subscriptions.max_minutes``,
  ``subscriptions.validation_timeout``, ``active_subscriptions(user)``, ``lifecycle(id, event)``, and
  ``push`` (the outbox: ``drop``, ``duplicate``, ``delay``, ``reorder``, ``hold``/``release``, ``trust``,
  ``deliveries``, ``wait_idle``).
* OAuth (:mod:`.identity`, :mod:`devstack.sims.authorize`): ``authorizations.auto_consent``,
  ``authorizations.signed_in``, ``authorizations.require_pkce``, ``revoke(user)``,
  ``expire_access_tokens()``, ``tokens_in(text)``, ``issued_refresh_tokens(user)``.
* inspection and faults (:mod:`devstack.sims.http`): ``events(user, calendar)``, ``calendars(user)``,
  ``requests``, ``calls(method, path_contains)``, ``api_requests()``, ``token_requests()``, ``inject(...)``,
  ``duplicate_transaction``, ``clock.advance(seconds)``, ``reset()``.
"""

from devstack.sims.microsoft.simulator import MicrosoftGraphSimulator

__all__ = ["MicrosoftGraphSimulator"]
