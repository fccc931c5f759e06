"""Message authentication codes made and checked by KMS (an HMAC_256 key that never leaves KMS): connect
links are signed with it, so a tampered link is refused before anything is looked up.

The key is a deployment setting (``CALSYNC_CONNECT_LINK_KEY``: id, ARN or alias); its policy and the
functions' roles decide who may sign (the integration API) and who may only verify (the connect page).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from calsync.core.errors import ConfigurationError, StoreError
from calsync.core.settings import get_settings

ALGORITHM = "HMAC_SHA_256"


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3  # lazily: boto3 costs ~150 ms of cold start

    return boto3.client("kms")


def _key() -> str:
    key = get_settings().connect_link_key
    if not key:
        raise ConfigurationError("CALSYNC_CONNECT_LINK_KEY is not set: connect links cannot be signed")
    return key


def sign(message: bytes) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        mac: bytes = _client().generate_mac(KeyId=_key(), Message=message, MacAlgorithm=ALGORITHM)["Mac"]
    except (ClientError, BotoCoreError) as error:
        raise StoreError(f"KMS GenerateMac failed: {type(error).__name__}") from None
    return mac


def verify(message: bytes, mac: bytes) -> bool:
    """Whether ``mac`` is this key's MAC of ``message`` (KMS compares; a wrong one is simply False)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not mac or len(mac) > 64:
        return False
    try:
        return bool(_client().verify_mac(KeyId=_key(), Message=message, MacAlgorithm=ALGORITHM,
                                         Mac=mac)["MacValid"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "KMSInvalidMacException":
            return False
        raise StoreError(f"KMS VerifyMac failed: {error.response.get('Error', {}).get('Code')}") from None
    except BotoCoreError as error:
        raise StoreError(f"KMS VerifyMac failed: {type(error).__name__}") from None
