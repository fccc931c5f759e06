"""The on_webhook function's routes: one Powertools Router per family of webhooks.

* ``platforms`` — booking platforms (``/webhooks/platforms/...``, see ``calsync.platforms``).

A new family (calendar providers' push notifications) is a new Router module beside these, included in
``functions/on_webhook/app.py``. Routers stay thin: they translate API Gateway's request and response
shapes and call one service, importing it on first use so the function's cold start stays small.
"""
