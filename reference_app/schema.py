"""The one database schema (SQLAlchemy Core `MetaData`), shared by SQLite and PostgreSQL.

Times are integer Unix seconds (UTC): identical on both backends and cheap to compare.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

# BigInteger ids that are still SQLite rowid aliases (autoincrementing there too).
Id = BigInteger().with_variant(Integer(), "sqlite")

vaccines = Table(
    "vaccines",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("doses", SmallInteger, nullable=False),
    Column("min_days", Integer, nullable=True),
    Column("max_days", Integer, nullable=True),
    CheckConstraint("doses IN (1, 2)", name="vaccines_doses"),
)

centers = Table(
    "centers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("postcode", String(5), nullable=False),
    Column("department", String(3), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("opens_min", SmallInteger, nullable=False),
    Column("closes_min", SmallInteger, nullable=False),
    CheckConstraint("kind IN ('vaccination', 'teleconsultation')", name="centers_kind"),
    Index("centers_department", "department"),
)

center_vaccines = Table(
    "center_vaccines",
    metadata,
    Column("center_id", Id, ForeignKey("centers.id"), nullable=False),
    Column("vaccine", String(32), ForeignKey("vaccines.code"), nullable=False),
    PrimaryKeyConstraint("center_id", "vaccine"),
    Index("center_vaccines_vaccine", "vaccine", "center_id"),
)

slots = Table(
    "slots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("center_id", Id, ForeignKey("centers.id"), nullable=False),
    Column("vaccine", String(32), nullable=False),
    Column("dose", SmallInteger, nullable=False),
    Column("start_s", BigInteger, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("remaining", Integer, nullable=False),
    CheckConstraint("remaining >= 0 AND remaining <= capacity", name="slots_remaining"),
    CheckConstraint("dose IN (1, 2)", name="slots_dose"),
    Index("slots_search", "center_id", "vaccine", "dose", "start_s"),
)

patients = Table(
    "patients",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("email_index", String(64), nullable=False),
    # Each value is "kid.base64(nonce||ciphertext)": AES-GCM with the key id beside it.
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("birth_date", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("created_s", BigInteger, nullable=False),
    Index("patients_email_index", "email_index"),
)

# One per-patient data key, wrapped by a master key ("kid.payload"; `kid` repeated to find the
# rows a rotation has left). Erasing a patient deletes this row: their fields become noise.
patient_keys = Table(
    "patient_keys",
    metadata,
    Column("patient_id", Id, ForeignKey("patients.id"), primary_key=True),
    Column("kid", String(32), nullable=False),
    Column("wrapped", Text, nullable=False),
    Index("patient_keys_kid", "kid"),
)

# Facts about the keys the stored data depend on (no key material): "index_kid".
key_facts = Table(
    "key_facts",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patient_id", Id, ForeignKey("patients.id"), nullable=False),
    Column("center_id", Id, nullable=False),
    Column("vaccine", String(32), nullable=False),
    Column("dose1_slot_id", Id, ForeignKey("slots.id"), nullable=False),
    Column("dose2_slot_id", Id, ForeignKey("slots.id"), nullable=True),
    # The dose-2 window in force when this appointment was booked (rules change at runtime).
    Column("min_days", Integer, nullable=True),
    Column("max_days", Integer, nullable=True),
    Column("status", String(12), nullable=False),
    Column("created_s", BigInteger, nullable=False),
    Index("appointments_patient", "patient_id"),
)

# One row per held dose: the primary key is the "one booking per dose per patient" rule.
bookings = Table(
    "bookings",
    metadata,
    Column("patient_id", Id, nullable=False),
    Column("dose", SmallInteger, nullable=False),
    Column("slot_id", Id, ForeignKey("slots.id"), nullable=False),
    Column("appointment_id", Id, ForeignKey("appointments.id"), nullable=False),
    PrimaryKeyConstraint("patient_id", "dose"),
    Index("bookings_slot", "slot_id"),
    Index("bookings_appointment", "appointment_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("patient_id", Id, nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(10), nullable=False),  # "pending" | "done"
    Column("status_code", SmallInteger, nullable=True),
    Column("response", Text, nullable=True),
    Column("created_s", Float, nullable=False),
    PrimaryKeyConstraint("patient_id", "key"),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    Column("bucket", String(100), primary_key=True),  # "<scope>:<subject>:<minute>"
    Column("window_min", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
    Index("rate_limits_window", "window_min"),
)

waiting_room = Table(
    "waiting_room",
    metadata,
    Column("id", SmallInteger, primary_key=True),  # a single row, id = 1
    Column("enabled", SmallInteger, nullable=False),
    Column("rate_per_s", Float, nullable=False),
    Column("pass_lifetime_s", Float, nullable=False),
    Column(
        "cursor_s", Float, nullable=False
    ),  # unused since the numbered line (kept for old files)
)

# The queue itself is one row: tickets are numbered; ticket n is admitted at
# anchor_s + (n - anchor_n) / rate. Tickets and passes are signed, so nothing else is stored.
waiting_room_line = Table(
    "waiting_room_line",
    metadata,
    Column("id", SmallInteger, primary_key=True),  # a single row, id = 1
    Column("next_number", BigInteger, nullable=False),
    Column("anchor_number", Float, nullable=False),
    Column("anchor_s", Float, nullable=False),
)
