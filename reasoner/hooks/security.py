"""The EHR's JSON Web Token, checked as CDS Hooks 2.0 asks: a signature by a key of the configured
JWKS (``kid``), an accepted ``iss``, ``aud`` this service's endpoint, an unexpired ``exp``, an ``iat``,
and a ``jti`` not seen before (no replay). No key is ever fetched (no ``jku``): the JWKS is a file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from reasoner.errors import UsageError

#: The algorithms the specification names (ES384, RS384), and their 256-bit siblings.
ALGORITHMS = ("ES384", "RS384", "ES256", "RS256")
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
LEEWAY_SECONDS = 30


class TokenError(Exception):
    """The call's JWT is missing or not acceptable; the message says why (no token content)."""


@dataclass
class TokenChecker:
    jwks: jwt.PyJWKSet | None
    issuers: Sequence[str]
    insecure_dev: bool = False
    _seen: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_file(cls, path: Path | None, issuers: Sequence[str], insecure_dev: bool) -> TokenChecker:
        if path is None:
            if not insecure_dev:
                raise UsageError("the service needs --jwks (the EHR's public keys), or --insecure-dev for development")
            return cls(jwks=None, issuers=tuple(issuers), insecure_dev=True)
        if not issuers and not insecure_dev:
            raise UsageError("the service needs --issuer (the EHR's JWT issuer) with --jwks")
        try:
            jwks = jwt.PyJWKSet.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, jwt.PyJWKSetError) as exc:
            raise UsageError(f"{path}: not a usable JWKS file: {exc}") from exc
        return cls(jwks=jwks, issuers=tuple(issuers), insecure_dev=insecure_dev)

    def check(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The verified claims of the bearer token in ``authorization``; raises TokenError."""
        if not authorization:
            if self.insecure_dev:
                return {}
            raise TokenError("no Authorization bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenError("the Authorization header is not a bearer token")
        if self.jwks is None:
            return {}  # --insecure-dev without keys: nothing to check against
        return self._verify(token.strip(), audience)

    def _verify(self, token: str, audience: str) -> dict[str, Any]:
        assert self.jwks is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"malformed JWT: {exc}") from exc
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(f"JWT algorithm {header.get('alg')!r} not accepted (use one of {', '.join(ALGORITHMS)})")
        kid = header.get("kid")
        try:
            key = self.jwks[str(kid)]
        except KeyError as exc:
            raise TokenError(f"no key with kid {kid!r} in the configured JWKS") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=list(ALGORITHMS),
                audience=audience,
                issuer=list(self.issuers),
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"JWT rejected: {exc}") from exc
        self._remember(str(claims["jti"]), float(claims["exp"]))
        return claims

    def _remember(self, jti: str, expires: float) -> None:
        now = time.time()
        with self._lock:
            for old in [key for key, until in self._seen.items() if until + LEEWAY_SECONDS < now]:
                del self._seen[old]
            if jti in self._seen:
                raise TokenError("JWT rejected: its jti was already used (replay)")
            self._seen[jti] = expires
