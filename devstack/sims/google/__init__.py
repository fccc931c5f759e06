"""A Google Calendar API v3 and Google OAuth simulator, for what calsync uses and what two-way sync and
the connect page need. Start it with ``GoogleCalendarSimulator().start()`` (or as a context manager).

Python API (all on the simulator object; see each module for the semantics kept):

* setup: ``register_client(client_id, secret, redirect_uris=())``, ``add_user(user, time_zone="UTC")``,
  ``connect(user, client_id, scopes=(calendar.events,)) -> refresh token``, ``add_calendar(user, id)``,
  ``remove_calendar(id)``; addresses ``url``, ``api_base``, ``token_uri``, ``authorize_uri``,
  ``revoke_uri``, ``client_config(client_id, secret, redirect_uris)``.
* clinician console (:mod:`.console`): ``create_event``, ``update_event``/``edit``, ``move_event``,
  ``delete_event``, ``move_instance``, ``cancel_instance``, ``instances``, ``instance_id``.
* sync (:mod:`.listing`): ``expire_sync_tokens(calendar_id=None)``; push (:mod:`.channels`):
  ``channels.allow_http_loopback``, ``watch_channels()``, ``expire_channel(id)``, and ``push`` (the
  outbox: ``drop``, ``duplicate``, ``delay``, ``reorder``, ``hold``/``release``, ``trust``,
  ``deliveries``, ``wait_idle``).
* OAuth (:mod:`.oauth`, :mod:`devstack.sims.authorize`): ``authorizations.auto_consent``,
  ``authorizations.signed_in``, ``authorizations.require_pkce``, ``revoke(user)``,
  ``expire_access_tokens()``, ``tokens_in(text)``, ``issued_refresh_tokens(user)``.
* inspection and faults (:mod:`devstack.sims.http`): ``events(calendar_id)``, ``calendars(user)``,
  ``requests``, ``calls(method, path_contains)``, ``api_requests()``, ``token_requests()``, ``inject(...)``,
  ``clock.advance(seconds)``, ``reset()``.
"""

from devstack.sims.google.simulator import GoogleCalendarSimulator

__all__ = ["GoogleCalendarSimulator"]
