"""The waiting room's signed tickets and passes.

Neither is stored: a ticket carries its number in the line and a pass its number and expiry,
each signed with an HMAC under a key every worker derives from the data key. Checking one is
CPU work only, and any change to a number or an expiry breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MAX_TOKEN_CHARS = 200


def _sign(key: bytes, *parts: str) -> str:
    return hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def ticket_for(number: int, pass_key: bytes) -> str:
    nonce = secrets.token_hex(8)
    return f"wt_{number}.{nonce}.{_sign(pass_key, 'ticket', str(number), nonce)}"


def ticket_number(ticket: str, pass_key: bytes) -> int | None:
    """The number of a ticket this room signed, else None (constant-time comparison)."""
    if len(ticket) > MAX_TOKEN_CHARS or not ticket.startswith("wt_"):
        return None
    parts = ticket[3:].split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    number, nonce, mac = parts
    if not hmac.compare_digest(mac, _sign(pass_key, "ticket", number, nonce)):
        return None
    return int(number)


def pass_for(number: int, expires_s: float, pass_key: bytes) -> str:
    expires = str(int(expires_s * 1000))
    return f"wp_{number}.{expires}.{_sign(pass_key, 'pass', str(number), expires)}"


def pass_is_valid(token: str, pass_key: bytes, now_s: float) -> bool:
    if len(token) > MAX_TOKEN_CHARS or not token.startswith("wp_"):
        return False
    parts = token[3:].split(".")
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        return False
    number, expires, mac = parts
    if not hmac.compare_digest(mac, _sign(pass_key, "pass", number, expires)):
        return False
    return now_s * 1000 < int(expires)
