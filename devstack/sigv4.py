"""AWS Signature Version 4, verified the way API Gateway verifies an ``AWS_IAM`` route.

The local HTTP API knows a few local identities (access key id → secret, and who that is); a request
signed by any SigV4 client (botocore, ``curl --aws-sigv4``, awscurl) with one of them passes, anything
else is refused as API Gateway refuses it (403). Only the ``Authorization`` header form is accepted
(no presigned query strings), for service ``execute-api``, with a timestamp within 15 minutes.

Reference: the SigV4 signing process (canonical request → string to sign → HMAC chain over date,
region, service and ``aws4_request``); see ``tests/unit/test_local_api.py`` for requests signed by
botocore, an independent implementation, passing here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW = dt.timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM} Credential=(?P<key>[^/]+)/(?P<date>\d{{8}})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")


class SignatureError(Exception):
    """Why a request's signature was refused (the message is safe to return: it names no secret)."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


def verify(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, *,
           secrets: Mapping[str, str], region: str, now: dt.datetime | None = None) -> str:
    """The access key id of a correctly signed request; raises :class:`SignatureError` otherwise.

    ``headers`` have lower-case names; ``secrets`` maps access key id → secret access key.
    """
    found = _AUTHORIZATION.match(headers.get("authorization", "").strip())
    if found is None:
        raise SignatureError("Missing Authentication Token")
    key = found["key"]
    secret = secrets.get(key)
    if secret is None:
        raise SignatureError("The security token included in the request is invalid.")
    if found["service"] != SERVICE or found["region"] != region:
        raise SignatureError(f"Credential should be scoped to a valid region and service {SERVICE}.")
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureError("Missing or malformed X-Amz-Date.") from None
    if stamp[:8] != found["date"] or abs((now or dt.datetime.now(dt.UTC)) - signed_at) > MAX_SKEW:
        raise SignatureError("Signature expired or not yet valid.")
    signed = found["headers"].split(";")
    if "host" not in signed or any(name not in headers for name in signed):
        raise SignatureError("SignedHeaders must include host and name only headers that were sent.")
    scope = f"{found['date']}/{found['region']}/{found['service']}/aws4_request"
    expected = signature(method, path, query, {name: headers[name] for name in signed}, body, secret=secret,
                         stamp=stamp, scope=scope)
    if not hmac.compare_digest(expected, found["signature"]):
        raise SignatureError("The request signature we calculated does not match the signature you provided.")
    return key


def signature(method: str, path: str, query: str, signed_headers: Mapping[str, str], body: bytes, *, secret: str,
              stamp: str, scope: str) -> str:
    """The hex signature of a request over exactly ``signed_headers`` (lower-case names)."""
    names = sorted(signed_headers)
    canonical = "\n".join([
        method.upper(),
        quote(path or "/", safe="/-_.~"),
        _canonical_query(query),
        "".join(f"{name}:{' '.join(signed_headers[name].strip().split())}\n" for name in names),
        ";".join(names),
        signed_headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest(),
    ])
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    date, region, service, terminal = scope.split("/")
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, terminal):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _canonical_query(query: str) -> str:
    pairs = sorted((quote(name, safe="-_.~"), quote(value, safe="-_.~"))
                   for name, value in parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{name}={value}" for name, value in pairs)
