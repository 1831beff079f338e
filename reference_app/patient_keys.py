"""Per-patient data keys: each patient's identity fields are sealed under their own key, which
is stored wrapped by a master key. Deleting that key (`shred`) makes the fields undecryptable
wherever copies of them survive (dead tuples, WAL, free pages, backups); rotating the master key
re-wraps these keys instead of re-encrypting every field.

The blind-index key's id is recorded in `key_facts` the first time the app starts on a database;
a keyring that would index emails under another key is refused (`IndexKeyMismatch`) instead of
silently failing every email lookup.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, Engine, delete, exists, insert, select
from sqlalchemy.sql.elements import ColumnElement

from reference_app.database import insert_statement, writing
from reference_app.identity import (
    PATIENT_KEY_PREFIX,
    Keyring,
    key_id_of,
    new_patient_key,
    seal,
    unseal,
)
from reference_app.schema import key_facts, patient_keys, patients

IDENTITY_FIELDS = ("first_name", "last_name", "birth_date", "email", "phone")
INDEX_KID = "index_kid"
ERASED_PREFIX = "erased:"  # the token hash of an erased patient's tombstone row


class IndexKeyMismatch(ValueError):
    """The database's emails are indexed under another blind-index key than this keyring's."""


def sealed_identity(person: Mapping[str, object]) -> tuple[bytes, dict[str, str]]:
    """A fresh per-patient key and the identity fields sealed under it."""
    key = new_patient_key()
    return key, {name: seal(key, str(person[name]), name) for name in IDENTITY_FIELDS}


def store(conn: Connection, keyring: Keyring, patient_id: int, key: bytes) -> None:
    conn.execute(
        insert(patient_keys).values(
            patient_id=patient_id, kid=keyring.current, wrapped=keyring.wrap(key, patient_id)
        )
    )


def load(conn: Connection, keyring: Keyring, patient_id: int) -> bytes | None:
    """The patient's key, or None when they have none (erased, or not migrated yet).

    Raises KeyUnavailable when it is wrapped by a master key this keyring lacks."""
    wrapped = conn.execute(
        select(patient_keys.c.wrapped).where(patient_keys.c.patient_id == patient_id)
    ).scalar_one_or_none()
    return None if wrapped is None else keyring.unwrap(wrapped, patient_id)


def identity(keyring: Keyring, key: bytes | None, row: Mapping[str, str]) -> dict[str, str]:
    """Decrypt the identity fields of a patient row, per-patient sealed or (not yet migrated)
    under a master key. Raises KeyUnavailable, or LookupError for sealed fields without key."""
    out = {}
    for name in IDENTITY_FIELDS:
        stored = row[name]
        if key_id_of(stored) == PATIENT_KEY_PREFIX:
            if key is None:
                raise LookupError("the patient's data key is gone (erased)")
            out[name] = unseal(key, stored, name)
        else:
            out[name] = keyring.decrypt(stored, name)
    return out


def shred(conn: Connection, patient_id: int) -> bool:
    """Delete the patient's key: their sealed fields can no longer be decrypted anywhere."""
    done = conn.execute(delete(patient_keys).where(patient_keys.c.patient_id == patient_id))
    return bool(done.rowcount)


def without_key() -> ColumnElement[bool]:
    """`WHERE` clause: patient rows that have no per-patient key."""
    return ~exists().where(patient_keys.c.patient_id == patients.c.id)


def check_index_key(engine: Engine, keyring: Keyring) -> None:
    """Record this keyring's blind-index id (on first use, or while no patient is indexed);
    refuse one that differs from the id the stored emails are indexed under."""
    with writing(engine) as conn:
        recorded = conn.execute(
            select(key_facts.c.value).where(key_facts.c.name == INDEX_KID)
        ).scalar_one_or_none()
        if recorded == keyring.index_kid:
            return
        indexed = conn.execute(
            select(patients.c.id).where(~patients.c.token_hash.startswith(ERASED_PREFIX)).limit(1)
        ).first()
        if recorded is None or indexed is None:  # several workers may get here at once
            conn.execute(delete(key_facts).where(key_facts.c.name == INDEX_KID))
            conn.execute(
                insert_statement(conn, key_facts)
                .values(name=INDEX_KID, value=keyring.index_kid)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            return
    how = (
        "derived from the last key of SURGE_DATA_KEY (was the oldest key dropped?)"
        if keyring.index_derived
        else "from SURGE_INDEX_KEY"
    )
    raise IndexKeyMismatch(
        f"patient emails are indexed under blind-index key {recorded!r} but this keyring's "
        f"is {keyring.index_kid!r} ({how}): restore the key, or re-index with "
        "`surge app rotate-index-key` (see docs/app.md#keys)"
    )


def record_index_key(conn: Connection, keyring: Keyring) -> None:
    conn.execute(delete(key_facts).where(key_facts.c.name == INDEX_KID))
    conn.execute(insert(key_facts).values(name=INDEX_KID, value=keyring.index_kid))
