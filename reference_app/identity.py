"""Patient identity at rest: AES-GCM per field under a per-patient data key, that key wrapped
by a master key whose id is stored beside it; a keyed blind index for email lookup under its
own key; random bearer tokens stored only as hashes.

- master keys (`SURGE_DATA_KEY`, "kid:key,kid:key"): the first wraps new per-patient keys,
  every listed one unwraps; rows written before per-patient keys carry fields encrypted
  directly under a master key ("kid.payload"), which `surge app rotate-keys` migrates;
- per-patient keys: 32 random bytes each; fields under them are "_p.payload"; erasing the
  patient deletes the key (crypto-shredding);
- the blind-index key (`SURGE_INDEX_KEY`, "iid:key"), else derived from the last master key
  with its own id, which the database records, so a keyring that would change it is refused.

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
PATIENT_KEY_PREFIX = "_p"  # not alphanumeric, so never a master key id


class KeyUnavailable(LookupError):
    """A value was written under a key this keyring does not hold (the message has no data)."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"value encrypted with unknown key id {kid!r}")
        self.kid = kid


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


def _key_id(kid: str, raw: bytes, prefix: str) -> str:
    kid = kid or prefix + hashlib.sha256(raw).hexdigest()[:8]
    if not kid.isalnum():
        raise ValueError("key ids must be alphanumeric")
    return kid


def parse_index_key(spec: str) -> tuple[str, bytes]:
    """`SURGE_INDEX_KEY`: "iid:base64(32 bytes)" or a bare key (its id is derived)."""
    kid, sep, material = spec.strip().partition(":")
    if not sep:
        kid, material = "", spec.strip()
    raw = _decode_key(material)
    return _key_id(kid, raw, "i"), raw


@dataclass(frozen=True)
class Keyring:
    """Master keys by id; `current` (the first listed) wraps, every key unwraps and decrypts."""

    current: str
    keys: dict[str, AESGCM] = field(repr=False)
    index_key: bytes = field(repr=False)
    index_kid: str = ""
    index_derived: bool = True

    @classmethod
    def parse(cls, spec: str, index_spec: str | None = None) -> Keyring:
        """Parse "kid:key,kid:key" (first is current) or a single bare key (its id is derived);
        `index_spec` is the blind-index key (else one derived from the last master key)."""
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
            try:
                kid = _key_id(kid, raw, "k")
            except ValueError:
                raise ValueError("patient-data key ids must be alphanumeric") from None
            keys[kid] = AESGCM(raw)
            current = current or kid
        if index_spec and index_spec.strip():
            index_kid, index_raw = parse_index_key(index_spec)
            index_key = hmac.new(index_raw, b"surge blind index v2", hashlib.sha256).digest()
            derived = False
        else:
            # Derived from the LAST (oldest) master key, as before the index had its own key:
            # dropping that key changes it, which the database's recorded index id catches.
            index_key = hmac.new(raw, b"surge blind index v1", hashlib.sha256).digest()
            index_kid = "d" + hashlib.sha256(index_key).hexdigest()[:8]
            derived = True
        return cls(
            current=current,
            keys=keys,
            index_key=index_key,
            index_kid=index_kid,
            index_derived=derived,
        )

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
            raise KeyUnavailable(kid)
        blob = base64.urlsafe_b64decode(payload)
        return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()

    def wrap(self, patient_key: bytes, patient_id: int) -> str:
        """A per-patient key under the current master key, bound to its patient."""
        return self.encrypt(
            base64.urlsafe_b64encode(patient_key).decode(), _wrap_context(patient_id)
        )

    def unwrap(self, wrapped: str, patient_id: int) -> bytes:
        return base64.urlsafe_b64decode(self.decrypt(wrapped, _wrap_context(patient_id)))

    def blind_index(self, email: str) -> str:
        """Keyed hash of the normalised email: equality lookups without storing plaintext."""
        normalised = email.strip().lower().encode()
        return hmac.new(self.index_key, normalised, hashlib.sha256).hexdigest()


def _wrap_context(patient_id: int) -> str:
    return f"patient-key:{patient_id}"


def new_patient_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(patient_key: bytes, value: str, context: str) -> str:
    """A field under a per-patient key: `_p.base64(nonce || ciphertext)`."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(patient_key).encrypt(nonce, value.encode(), context.encode())
    return f"{PATIENT_KEY_PREFIX}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(patient_key: bytes, stored: str, context: str) -> str:
    blob = base64.urlsafe_b64decode(stored.partition(".")[2])
    plain = AESGCM(patient_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
    return plain.decode()


def key_id_of(stored: str) -> str:
    """The key id a stored value names (`_p` for a per-patient key)."""
    return stored.partition(".")[0]


def new_token(prefix: str = "pt") -> str:
    return f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def hash_token(token: str) -> str:
    """Tokens are high-entropy, so one SHA-256 is enough (no per-request key stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison for bearer secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())
