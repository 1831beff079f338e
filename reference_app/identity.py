"""Patient identity at rest: AES-GCM per field with a key id beside each value, a keyed blind
index for email lookup, and random bearer tokens stored only as hashes.

Keys are parsed once at startup (`Keyring.parse`), never per request, and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TOKEN_BYTES = 32  # 256 bits of randomness per patient token


def generate_data_key() -> str:
    """A fresh key in the `SURGE_DATA_KEY` format: `kid:base64(32 random bytes)`."""
    return f"k{secrets.token_hex(4)}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()}"


def _decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raw = b""
    if len(raw) == KEY_BYTES:
        return raw
    if len(text) < 16:
        raise ValueError(
            "patient-data key too short: use 32 random bytes in base64 (see `surge app keygen`)"
        )
    # A passphrase-like key: stretch it once at startup (never per request).
    return hashlib.pbkdf2_hmac("sha256", text.encode(), b"surge-data-key", 200_000)


@dataclass(frozen=True)
class Keyring:
    """Data keys by id; `current` (the first listed) encrypts, every key decrypts."""

    current: str
    keys: dict[str, AESGCM] = field(repr=False)
    index_key: bytes = field(repr=False)

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Parse "kid:key,kid:key" (first is current) or a single bare key (its id is derived)."""
        entries = [part.strip() for part in spec.split(",") if part.strip()]
        if not entries:
            raise ValueError("empty patient-data key")
        keys: dict[str, AESGCM] = {}
        current = ""
        raw = b""
        for entry in entries:
            kid, sep, material = entry.partition(":")
            if not sep:
                kid, material = "", entry
            raw = _decode_key(material)
            if not kid:
                kid = "k" + hashlib.sha256(raw).hexdigest()[:8]
            if not kid.isalnum():
                raise ValueError("patient-data key ids must be alphanumeric")
            keys[kid] = AESGCM(raw)
            current = current or kid
        # The blind index is keyed by the LAST (oldest) key so lookups survive rotation:
        # rotate by putting the new key first and keeping the old ones after it.
        index_key = hmac.new(raw, b"surge blind index v1", hashlib.sha256).digest()
        return cls(current=current, keys=keys, index_key=index_key)

    @property
    def pass_key(self) -> bytes:
        """Key for waiting-room passes (shared by every worker that has the same data key)."""
        return hmac.new(self.index_key, b"surge waiting-room pass v1", hashlib.sha256).digest()

    def encrypt(self, value: str, context: str) -> str:
        """`kid.base64(nonce || ciphertext)`; `context` (the field name) is authenticated."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.current].encrypt(nonce, value.encode(), context.encode())
        return f"{self.current}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, context: str) -> str:
        kid, _, payload = stored.partition(".")
        cipher = self.keys.get(kid)
        if cipher is None:
            raise LookupError(f"value encrypted with unknown key id {kid!r}")
        blob = base64.urlsafe_b64decode(payload)
        return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()

    def blind_index(self, email: str) -> str:
        """Keyed hash of the normalised email: equality lookups without storing plaintext."""
        normalised = email.strip().lower().encode()
        return hmac.new(self.index_key, normalised, hashlib.sha256).hexdigest()


def new_token(prefix: str = "pt") -> str:
    return f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def hash_token(token: str) -> str:
    """Tokens are high-entropy, so one SHA-256 is enough (no per-request key stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison for bearer secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())
