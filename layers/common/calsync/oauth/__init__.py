"""OAuth access tokens for the Google and Microsoft providers.

    memory     access tokens held in process memory until shortly before they expire (the warm path)
    secret     the integration's secret in Secrets Manager: read with its version, written by compare-and-swap
    source     the token source the providers use: memory first, one refresh at a time per integration
    google     refresh through google-auth, over httpx
    microsoft  refresh through msal (delegated, with the msal token cache kept in the secret) or
               client credentials (organisation mode)

google-auth and msal are imported only when a token must be refreshed, never at module import.
"""
