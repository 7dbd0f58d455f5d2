"""Tables of the platform itself: sign-in, tokens, audit, background work, notifications."""

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from servicechain.platform.people.tables import Person


class UserSession(Table, tablename="user_session"):
    """A signed-in browser. Only a hash of the cookie value is stored."""

    token_hash = Varchar(length=64, unique=True)
    person = ForeignKey(references=Person, index=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz()
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=300, default="")


class LoginAttempt(Table, tablename="login_attempt"):
    """Failed sign-ins, kept in the database so throttling holds across workers."""

    key = Varchar(length=300, index=True)  # "account:<identifier>" or "ip:<address>"
    at = Timestamptz(index=True)


class ApiToken(Table, tablename="api_token"):
    name = Varchar(length=100, unique=True)
    token_hash = Varchar(length=64, unique=True)
    prefix = Varchar(length=16)
    scopes = Varchar(length=500)  # comma-separated
    created_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class OneTimeLink(Table, tablename="one_time_link"):
    """Password reset and invitation links; only the hash of the token is kept."""

    token_hash = Varchar(length=64, unique=True)
    person = ForeignKey(references=Person, index=True)
    purpose = Varchar(length=16)  # "reset" | "invite"
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class AuditEntry(Table, tablename="audit_entry"):
    """Append-only. `entry_hash` chains over `payload_hash`, so a payload can be redacted
    (an erasure request) without breaking the chain, while any edit or deletion shows."""

    seq = Integer(unique=True)
    at = Timestamptz(index=True)
    actor_person = ForeignKey(references=Person, null=True, default=None, index=True)
    actor_label = Varchar(length=300, default="")
    action = Varchar(length=100, index=True)
    object_type = Varchar(length=50, index=True, default="")
    object_id = Varchar(length=100, default="")
    summary = Varchar(length=500, default="")
    payload = JSON(default="{}")
    payload_hash = Varchar(length=64)
    prev_hash = Varchar(length=64)
    entry_hash = Varchar(length=64)
    redacted = Boolean(default=False)


class OutboxMessage(Table, tablename="outbox_message"):
    """Mail waiting to be sent, written in the same transaction as the change that caused it."""

    to_email = Varchar(length=254)
    subject = Varchar(length=300)
    body = Text()
    created_at = Timestamptz()
    available_at = Timestamptz(index=True)
    attempts = Integer(default=0)
    sent_at = Timestamptz(null=True, default=None, index=True)
    locked_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")


class Notification(Table, tablename="notification"):
    person = ForeignKey(references=Person, index=True)
    text = Varchar(length=500)
    link = Varchar(length=300, default="")
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)


class Job(Table, tablename="job"):
    """Scheduled and background work. A worker claims a row by setting `locked_until`;
    a crashed worker's claim simply expires."""

    kind = Varchar(length=100, index=True)
    payload = JSON(default="{}")
    run_at = Timestamptz(index=True)
    unique_key = Varchar(length=200, null=True, default=None, unique=True)
    attempts = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None, index=True)
    last_error = Text(default="")


class SystemFlag(Table, tablename="system_flag"):
    """Facts about the installation itself, e.g. that this database holds the demo."""

    key = Varchar(length=100, unique=True)
    value = Varchar(length=500, default="")
