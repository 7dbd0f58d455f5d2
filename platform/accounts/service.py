"""Sign-in, sessions, API tokens, password resets and invitations.

Sessions live in the database (so "sign out everywhere" works and any worker can serve any
request); the cookie holds a random value and the table only its hash. Failed sign-ins are
counted in the database per account and per address, so throttling holds across workers.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from servicechain.platform import audit, db, outbox
from servicechain.platform.i18n import gettext as _
from servicechain.platform.i18n import use_language
from servicechain.platform.lib import passwords
from servicechain.platform.lib.text import fold
from servicechain.platform.people.tables import Person
from servicechain.platform.security import (
    NOBODY,
    SCOPES,
    SESSION_LIFETIME,
    SESSION_TOUCH_EVERY,
    Actor,
    token_hash,
    utcnow,
)
from servicechain.platform.tables import ApiToken, LoginAttempt, OneTimeLink, UserSession
from servicechain.platform.web import DomainError, FormInvalid

THROTTLE_WINDOW = timedelta(minutes=15)
TOKEN_NAME = re.compile(r"^[\w .-]+$")
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 30
RESET_LINK_LIFETIME = timedelta(hours=2)
INVITE_LINK_LIFETIME = timedelta(days=14)


class Throttled(DomainError):
    status_code = 429


# --- who is asking --------------------------------------------------------------------------------


async def touch_sessions(session_ids: list[int]) -> None:
    now = utcnow()
    async with db.write():
        await UserSession.update(
            {UserSession.last_seen_at: now, UserSession.expires_at: now + SESSION_LIFETIME}
        ).where(UserSession.id.is_in(session_ids)).run()


async def actor_for_session(raw: str, *, defer_touch: list[int] | None = None) -> Actor:
    rows = await db.fetch(
        "SELECT s.id AS sid, s.last_seen_at, s.expires_at, p.id, p.full_name, p.role, p.language, p.department"
        " FROM user_session s JOIN person p ON p.id = s.person"
        " WHERE s.token_hash = {} AND p.active = {}",
        token_hash(raw),
        True,
    )
    if not rows:
        return NOBODY
    row = rows[0]
    now = utcnow()
    expires_at, last_seen = _aware(row["expires_at"]), _aware(row["last_seen_at"])
    if expires_at <= now:
        return NOBODY
    if now - last_seen > SESSION_TOUCH_EVERY:
        # Sliding expiry, written at most every few minutes rather than on every request.
        # Inside a read snapshot the caller collects the id and touches after it ends.
        if defer_touch is not None:
            defer_touch.append(row["sid"])
        else:
            await touch_sessions([row["sid"]])
    return Actor(
        kind="person", person_id=row["id"], role=row["role"], name=row["full_name"],
        language=row["language"], department_id=row["department"], session_id=row["sid"],
    )


async def actor_for_token(raw: str) -> Actor:
    row = await ApiToken.select().where(
        (ApiToken.token_hash == token_hash(raw)) & ApiToken.revoked_at.is_null()
    ).first().run()
    if row is None:
        return NOBODY
    now = utcnow()
    if row["last_used_at"] is None or now - _aware(row["last_used_at"]) > SESSION_TOUCH_EVERY:
        # Written at most every few minutes, so a busy integration does not write on every call.
        async with db.write():
            await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"]).run()
    scopes = frozenset(s for s in row["scopes"].split(",") if s)
    return Actor(kind="token", name=row["name"], token_id=row["id"], scopes=scopes)


def _aware(value):
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- sign in and out ---------------------------------------------------------------------------


@dataclass
class SignedIn:
    raw_token: str
    person_id: int
    language: str


async def find_person_by_identifier(identifier: str) -> dict | None:
    ident = identifier.strip()
    if not ident:
        return None
    if "@" in ident:
        return await Person.select().where(Person.email == ident.lower()).first().run()
    return await Person.select().where(Person.employee_number == ident).first().run()


async def _recent_failures(key: str) -> int:
    return await LoginAttempt.count().where((LoginAttempt.key == key) & (LoginAttempt.at > utcnow() - THROTTLE_WINDOW)).run()


async def sign_in(identifier: str, password: str, *, ip: str, user_agent: str, replaces_session: int | None = None) -> SignedIn:
    """Check credentials and open a new session (a new id every time: no session fixation).
    The session the browser held before (`replaces_session`), if any, ends: a cookie set
    before sign-in never works after it.

    Refuses with 429 after too many failures for the account or from the address.
    """
    errors: dict[str, list[str]] = {}
    if not identifier.strip():
        errors["identifier"] = [_("Enter your email or employee number.")]
    if not password:
        errors["password"] = [_("Enter your password.")]
    if errors:
        raise FormInvalid(errors)

    # The account is counted by who it is, not by how it was spelled: failures by email and by
    # employee number add up (otherwise each spelling would get its own allowance).
    person = await find_person_by_identifier(identifier)
    account_key = "account:" + fold(person["email"] or person["employee_number"] if person else identifier)
    address_key = "ip:" + ip
    # Count and record the attempt in one transaction, before the password is checked, so
    # parallel guesses cannot all slip under the limit; a success removes the record again.
    async with db.write():
        if db.engine().engine_type == "postgres":
            await db.fetch("SELECT pg_advisory_xact_lock(hashtext({}))", account_key)
        if await _recent_failures(account_key) >= MAX_FAILURES_PER_ACCOUNT or await _recent_failures(address_key) >= MAX_FAILURES_PER_ADDRESS:
            raise Throttled(_("Too many failed attempts. Wait 15 minutes and try again, or reset your password."))
        now = utcnow()
        recorded = await LoginAttempt.insert(LoginAttempt(key=account_key, at=now), LoginAttempt(key=address_key, at=now)).run()

    ok = await passwords.verify_password(person["password_hash"] if person else None, password)
    if not ok or person is None or not person["active"]:
        raise FormInvalid({"password": [_("The email, employee number or password is wrong.")]})

    raw = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.write():
        await UserSession.insert(
            UserSession(
                token_hash=token_hash(raw), person=person["id"], created_at=now, last_seen_at=now,
                expires_at=now + SESSION_LIFETIME, ip=ip[:64], user_agent=user_agent[:300],
            )
        ).run()
        await LoginAttempt.delete().where(
            (LoginAttempt.key == account_key) | LoginAttempt.id.is_in([row["id"] for row in recorded])
        ).run()
        if replaces_session is not None:
            await UserSession.delete().where(UserSession.id == replaces_session).run()
    return SignedIn(raw_token=raw, person_id=person["id"], language=person["language"])


async def sign_out(actor: Actor) -> None:
    if actor.session_id is None:
        return
    async with db.write():
        await UserSession.delete().where(UserSession.id == actor.session_id).run()


async def sign_out_everywhere(actor: Actor) -> int:
    """Ends every session of the actor, this one included."""
    async with db.write():
        count = await UserSession.count().where(UserSession.person == actor.person_id).run()
        await UserSession.delete().where(UserSession.person == actor.person_id).run()
        await audit.record(actor, "account.sign_out_everywhere", object_type="person", object_id=actor.person_id, sessions=count)
    return count


async def sessions_of(actor: Actor) -> list[dict]:
    return await UserSession.select().where(UserSession.person == actor.person_id).order_by(UserSession.last_seen_at, ascending=False).run()


async def set_language(actor: Actor, language: str) -> None:
    if actor.is_person:
        async with db.write():
            await Person.update({Person.language: language}).where(Person.id == actor.person_id).run()


# --- passwords, resets and invitations ------------------------------------------------------------


def check_new_password(password: str, confirm: str) -> None:
    errors: dict[str, list[str]] = {}
    if len(password) < passwords.MIN_LENGTH:
        errors["password"] = [_("Use at least %(n)s characters.", n=passwords.MIN_LENGTH)]
    elif password != confirm:
        errors["confirm"] = [_("The two passwords differ.")]
    if errors:
        raise FormInvalid(errors)


async def _issue_link(person_id: int, purpose: str, lifetime: timedelta) -> str:
    """A new link replaces the person's earlier unused ones: only the latest mail works."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    await OneTimeLink.update({OneTimeLink.used_at: now}).where(
        (OneTimeLink.person == person_id) & OneTimeLink.used_at.is_null()
    ).run()
    await OneTimeLink.insert(
        OneTimeLink(token_hash=token_hash(raw), person=person_id, purpose=purpose, created_at=now, expires_at=now + lifetime)
    ).run()
    return raw


RESETS_PER_ACCOUNT = 3
RESETS_PER_ADDRESS = 20
RESET_WINDOW = timedelta(hours=1)


async def request_password_reset(identifier: str, base_url: str, *, ip: str = "") -> None:
    """Queue a reset for the worker and answer the same for every identifier.

    The request does identical work whether the account exists or not (one throttle row,
    one job), so neither the answer nor its timing tells who works here; the worker looks
    the person up and mails the link. Beyond a few requests per account or many per
    address in an hour nothing more is queued, so the form cannot flood someone's inbox.
    """
    identifier = identifier.strip()[:254]
    if not identifier:
        return
    account_key, address_key = "reset:" + fold(identifier), "reset-ip:" + ip
    since = utcnow() - RESET_WINDOW
    async with db.write():
        account_count = await LoginAttempt.count().where((LoginAttempt.key == account_key) & (LoginAttempt.at > since)).run()
        address_count = await LoginAttempt.count().where((LoginAttempt.key == address_key) & (LoginAttempt.at > since)).run()
        now = utcnow()
        await LoginAttempt.insert(LoginAttempt(key=account_key, at=now), LoginAttempt(key=address_key, at=now)).run()
        if account_count >= RESETS_PER_ACCOUNT or address_count >= RESETS_PER_ADDRESS:
            return
        await outbox.schedule("accounts.password_reset", {"identifier": identifier, "base_url": base_url})


@outbox.job("accounts.password_reset")
async def _password_reset_job(payload: dict) -> None:
    await send_password_reset(payload["identifier"], payload["base_url"])


async def send_password_reset(identifier: str, base_url: str) -> None:
    """Mail a reset link if the account exists, is active and has an email; otherwise nothing."""
    person = await find_person_by_identifier(identifier)
    if person is None or not person["active"] or not person["email"]:
        return
    async with db.write():
        raw = await _issue_link(person["id"], "reset", RESET_LINK_LIFETIME)
        with use_language(person["language"]):  # the reader's language, not the requester's
            await outbox.enqueue_mail(
                person["email"],
                _("Reset your servicechain password"),
                _("Open this link within two hours to choose a new password: %(url)s", url=f"{base_url}/password/reset/{raw}"),
            )


async def link_for(raw: str, purpose: str) -> dict:
    row = await OneTimeLink.select().where((OneTimeLink.token_hash == token_hash(raw)) & (OneTimeLink.purpose == purpose)).first().run()
    if row is None or row["used_at"] is not None or _aware(row["expires_at"]) <= utcnow():
        raise DomainError(_("This link has expired or was already used. Ask for a new one."), status_code=410)
    return row


async def use_link(raw: str, purpose: str, password: str, confirm: str) -> int:
    """Set a password through a reset or invitation link; the link works once. All other
    sessions of the person end, since whoever held them may not be the owner."""
    check_new_password(password, confirm)
    new_hash = await passwords.hash_password(password)
    async with db.write():
        link = await link_for(raw, purpose)
        await OneTimeLink.update({OneTimeLink.used_at: utcnow()}).where(OneTimeLink.id == link["id"]).run()
        await Person.update({Person.password_hash: new_hash}).where(Person.id == link["person"]).run()
        await UserSession.delete().where(UserSession.person == link["person"]).run()
        person = await Person.select(Person.full_name).where(Person.id == link["person"]).first().run()
        actor = Actor(kind="person", person_id=link["person"], name=person["full_name"])
        await audit.record(actor, f"account.password_set_by_{purpose}", object_type="person", object_id=link["person"])
    return link["person"]


async def invite(actor: Actor, person_id: int, base_url: str) -> str:
    """Create an invitation link; mail it when the person has an email. Returns the URL so
    HR can print it for people without email (couriers, pickers)."""
    from servicechain.platform.security import person_for

    person = await person_for(actor, person_id, write=True)
    if not person["active"]:
        raise DomainError(_("This person has left; they cannot be invited."))
    if person["password_hash"]:
        # An invitation link shown to HR would let HR set someone else's password.
        raise DomainError(_("This person already has a password. They can reset it with “Forgot your password?”."), status_code=409)
    async with db.write():
        raw = await _issue_link(person_id, "invite", INVITE_LINK_LIFETIME)
        url = f"{base_url}/invite/{raw}"
        if person["email"]:
            with use_language(person["language"]):
                await outbox.enqueue_mail(
                    person["email"], _("You are invited to servicechain"),
                    _("Open this link within 14 days to choose your password: %(url)s", url=url),
                )
        await audit.record(actor, "account.invite", object_type="person", object_id=person_id, by_mail=bool(person["email"]))
    return url


async def create_admin(email: str, password: str) -> int:
    """The first admin of an installation (CLI). Updates the password if the email exists."""
    email = email.strip().lower()
    if "@" not in email:
        raise DomainError(_("Enter a valid email address."))
    check_new_password(password, password)
    from servicechain.platform.lib.text import person_search_text

    new_hash = await passwords.hash_password(password)
    now = utcnow()
    async with db.write():
        existing = await Person.select(Person.id).where(Person.email == email).first().run()
        if existing:
            await Person.update({Person.password_hash: new_hash, Person.role: "admin", Person.active: True}).where(Person.id == existing["id"]).run()
            person_id = existing["id"]
        else:
            number = "ADMIN-" + secrets.token_hex(3).upper()
            person = Person(
                full_name=email, first_name=email.split("@")[0], employee_number=number, email=email, role="admin",
                search_name=person_search_text(email, number, email), password_hash=new_hash, created_at=now, updated_at=now,
            )
            await person.save().run()
            person_id = person.id
        from servicechain.platform.security import SYSTEM

        await audit.record(SYSTEM, "account.create_admin", object_type="person", object_id=person_id, email=email)
    return person_id


# --- API tokens ---------------------------------------------------------------------------------


def parse_scopes(raw: str | list[str]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    scopes = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes:
        raise FormInvalid({"scopes": [_("Choose at least one scope.")]})
    if unknown:
        raise FormInvalid({"scopes": [_("Unknown scope: %(scope)s. Known: %(known)s.", scope=", ".join(unknown), known=", ".join(SCOPES))]})
    return scopes


async def create_token(actor: Actor, name: str, scopes: str | list[str]) -> str:
    """Returns the token once; only its hash is stored."""
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = [_("Give the token a name of 1 to 100 characters.")]
    elif not TOKEN_NAME.match(name):
        # The name is part of the revoke URL and of CLI arguments.
        errors["name"] = [_("Use letters, digits, spaces, dots, dashes or underscores in the name.")]
    try:
        scope_list = parse_scopes(scopes)
    except FormInvalid as exc:
        errors.update(exc.errors)
        scope_list = []
    if not errors and await ApiToken.exists().where(ApiToken.name == name).run():
        errors["name"] = [_("A token with this name exists already.")]
    if errors:
        raise FormInvalid(errors)
    raw = "sc_" + secrets.token_urlsafe(32)
    async with db.write():
        await ApiToken.insert(
            ApiToken(name=name, token_hash=token_hash(raw), prefix=raw[:8], scopes=",".join(scope_list),
                     created_by=actor.person_id, created_at=utcnow())
        ).run()
        await audit.record(actor, "token.create", object_type="token", object_id=name, scopes=scope_list)
    return raw


async def revoke_token(actor: Actor, name: str) -> None:
    async with db.write():
        row = await ApiToken.select().where((ApiToken.name == name) & ApiToken.revoked_at.is_null()).first().run()
        if row is None:
            raise DomainError(_("No active token is named %(name)s.", name=name), status_code=404)
        await ApiToken.update({ApiToken.revoked_at: utcnow()}).where(ApiToken.id == row["id"]).run()
        await audit.record(actor, "token.revoke", object_type="token", object_id=name)


async def list_tokens() -> list[dict]:
    return await ApiToken.select().order_by(ApiToken.created_at, ascending=False).run()
