"""Online key rotation, in short batches that each commit on their own, while the app serves.

`rotate_data_keys` brings every patient under the current (first) master key: it re-wraps the
per-patient keys wrapped by an older master key, and migrates rows from before per-patient keys
(fields sealed directly under a master key) to a per-patient key of their own. Each row is
updated only if it still holds what was read (compare-and-set), so a concurrent erasure or a
second rotator never loses data; killed midway, a batch rolls back whole and a rerun carries
on. When it reports `left == 0`, no row needs any key but the current one: the others can be
dropped from `SURGE_DATA_KEY`.

`rotate_index` recomputes every live patient's email blind index under this keyring's index
key (from the decrypted email) and records that key's id; rerunning it is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select, update

from reference_app.database import writing
from reference_app.identity import PATIENT_KEY_PREFIX, Keyring, key_id_of
from reference_app.patient_keys import (
    identity,
    load,
    record_index_key,
    sealed_identity,
    without_key,
)
from reference_app.retention import is_live
from reference_app.schema import patient_keys, patients

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class RotationProgress:
    rewrapped: int
    migrated: int
    left: int  # rows still needing a key other than the current one


def _rewrap_batch(engine: Engine, keyring: Keyring, batch: int) -> int:
    with writing(engine) as conn:
        rows = conn.execute(
            select(patient_keys.c.patient_id, patient_keys.c.wrapped)
            .where(patient_keys.c.kid != keyring.current)
            .order_by(patient_keys.c.patient_id)
            .limit(batch)
        ).all()
        for patient_id, wrapped in rows:
            fresh = keyring.wrap(keyring.unwrap(wrapped, patient_id), patient_id)
            conn.execute(
                update(patient_keys)
                .where(patient_keys.c.patient_id == patient_id, patient_keys.c.wrapped == wrapped)
                .values(kid=keyring.current, wrapped=fresh)
            )
    return len(rows)


def _migrate_batch(engine: Engine, keyring: Keyring, batch: int) -> int:
    with writing(engine) as conn:
        rows = (
            conn.execute(
                select(patients)
                .where(without_key(), is_live())
                .order_by(patients.c.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        for row in rows:
            key, sealed = sealed_identity(identity(keyring, None, row))
            done = conn.execute(
                update(patients)
                .where(patients.c.id == row["id"], patients.c.email == row["email"])
                .values(**sealed)
            )
            if done.rowcount:
                conn.execute(
                    insert(patient_keys).values(
                        patient_id=row["id"],
                        kid=keyring.current,
                        wrapped=keyring.wrap(key, row["id"]),
                    )
                )
    return len(rows)


def left_to_rotate(engine: Engine, keyring: Keyring) -> int:
    with writing(engine) as conn:
        stale = conn.execute(
            select(func.count())
            .select_from(patient_keys)
            .where(patient_keys.c.kid != keyring.current)
        ).scalar_one()
        legacy = conn.execute(
            select(func.count()).select_from(patients).where(without_key(), is_live())
        ).scalar_one()
    return int(stale) + int(legacy)


def rotate_data_keys(
    engine: Engine,
    keyring: Keyring,
    batch: int = DEFAULT_BATCH,
    pause_s: float = 0.0,
    on_batch: Callable[[RotationProgress], None] | None = None,
) -> RotationProgress:
    """Re-wrap, then migrate, batch by batch, until no row needs an older key."""
    if batch < 1:
        raise ValueError("the batch size must be >= 1")
    rewrapped = migrated = 0
    for step, counter in ((_rewrap_batch, "rewrapped"), (_migrate_batch, "migrated")):
        while True:
            done = step(engine, keyring, batch)
            if counter == "rewrapped":
                rewrapped += done
            else:
                migrated += done
            if on_batch is not None and done:
                on_batch(RotationProgress(rewrapped, migrated, -1))
            if done < batch:
                break
            if pause_s > 0:
                time.sleep(pause_s)  # leave the database to the serving app between batches
    return RotationProgress(rewrapped, migrated, left_to_rotate(engine, keyring))


def rotate_index(engine: Engine, keyring: Keyring, batch: int = DEFAULT_BATCH) -> int:
    """Re-index every live patient's email under `keyring`'s index key; returns the count."""
    done, after = 0, 0
    while True:
        with writing(engine) as conn:
            rows = (
                conn.execute(
                    select(patients)
                    .where(is_live(), patients.c.id > after)
                    .order_by(patients.c.id)
                    .limit(batch)
                )
                .mappings()
                .all()
            )
            for row in rows:
                key = load(conn, keyring, row["id"])
                email = identity(keyring, key, row)["email"]
                conn.execute(
                    update(patients)
                    .where(patients.c.id == row["id"])
                    .values(email_index=keyring.blind_index(email))
                )
        done += len(rows)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    with writing(engine) as conn:
        record_index_key(conn, keyring)
    return done


def stored_key_ids(engine: Engine) -> set[str]:
    """Every master key id some live row still needs (for checking a key can be dropped)."""
    with writing(engine) as conn:
        wrapping = set(conn.execute(select(patient_keys.c.kid).distinct()).scalars())
        legacy = {
            key_id_of(value)
            for value in conn.execute(select(patients.c.email).where(is_live())).scalars()
        }
    return (wrapping | legacy) - {PATIENT_KEY_PREFIX}


def rotate_command(
    database_url: str, batch: int, pause_s: float, index: bool, say: Callable[[str], None]
) -> dict:
    """`surge app rotate-keys` / `rotate-index-key`: keys from the environment, progress lines
    through `say`, the final counts returned."""
    from reference_app.database import make_engine
    from reference_app.settings import load_keyring_spec, normalize_database_url

    keyring = Keyring.parse(*load_keyring_spec())
    engine = make_engine(normalize_database_url(database_url), pool_size=2)
    try:
        if index:
            return {
                "reindexed": rotate_index(engine, keyring, batch),
                "index_kid": keyring.index_kid,
            }

        def progress(p: RotationProgress) -> None:
            say(f"rotate-keys: {p.rewrapped} re-wrapped, {p.migrated} migrated")

        done = rotate_data_keys(engine, keyring, batch, pause_s, progress)
        return {
            "current_key": keyring.current,
            "rewrapped": done.rewrapped,
            "migrated": done.migrated,
            "left": done.left,
            "key_ids_in_use": sorted(stored_key_ids(engine)),
            "index_key": "derived from the last data key: pin it in SURGE_INDEX_KEY before "
            "dropping that key (docs/app.md#keys)"
            if keyring.index_derived
            else "SURGE_INDEX_KEY",
        }
    finally:
        engine.dispose()
