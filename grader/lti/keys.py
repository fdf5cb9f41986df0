"""The tool's own RSA key pair: made once per store, the private half kept in the store's
settings (never in the repository), the public half published as a JWKS at /lti/jwks.

Its `kid` is the key's RFC 7638 thumbprint, so the same key always has the same id and a new
key a new one (a platform that cached the old set fetches it again on an unknown kid)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
KEY_SETTING = "lti_tool_private_key"


def new_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode("ascii")


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class ToolKey:
    """Sign the tool's messages (deep linking responses, client assertions); publish the JWKS."""

    def __init__(self, private_pem: str) -> None:
        loaded = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError("the tool's key must be an RSA key")
        self._private = loaded
        numbers = loaded.public_key().public_numbers()
        self._n, self._e = _b64(numbers.n), _b64(numbers.e)
        # RFC 7638: SHA-256 of the required members, sorted, no spaces
        canonical = json.dumps({"e": self._e, "kty": "RSA", "n": self._n}, separators=(",", ":"), sort_keys=True)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode("ascii")

    def public_jwk(self) -> dict[str, str]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._private.public_key()))
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"})

    def client_assertion(self, client_id: str, audience: str, lifetime: int = 300) -> str:
        """The signed JWT a tool authenticates with at the platform's token endpoint (the LTI
        security framework's client-credentials grant, RFC 7523): issuer and subject are the
        tool's client id, the audience the token endpoint, a fresh jti each time."""
        now = int(time.time())
        return self.sign({"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex})


def tool_key(settings: "LtiStore") -> ToolKey:
    """The tool's key pair of this store: made on first use and kept in its settings."""
    found = settings.setting(KEY_SETTING)
    if found is None:
        found = settings.keep_setting(KEY_SETTING, new_private_key_pem())
    return ToolKey(found)


if TYPE_CHECKING:
    from grader.store.lti import LtiStore
