"""OAuth access tokens for the Google and Microsoft providers.

    memory     access tokens held in process memory until shortly before they expire (the warm path)
    token_secret  the integration's secret in Secrets Manager: read with its version, written by
               compare-and-swap
    source     the token source (``calsync.http.bearer.TokenSource``): memory first, one refresh at a time
    google     refresh through google-auth, over httpx
    microsoft  refresh through msal (delegated, with the msal token cache kept in the secret) or
               client credentials (organisation mode)

google-auth and msal are imported only when a token must be refreshed, never at module import. Token
endpoints are deployment settings handed in by ``calsync.services.writers``, never integration data.
"""
