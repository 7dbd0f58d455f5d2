"""Sign-in, sessions, throttling, resets and invitations, without HTTP."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta

import pytest

from servicechain.platform import audit, db, outbox
from servicechain.platform.accounts import service
from servicechain.platform.config import get_settings
from servicechain.platform.people import service as people
from servicechain.platform.people.tables import Person
from servicechain.platform.security import NotFound, Forbidden, utcnow
from servicechain.platform.tables import AuditEntry, LoginAttempt, OneTimeLink, OutboxMessage, UserSession
from servicechain.platform.web import DomainError, FormInvalid
from tests.accounts.helpers import forget_failed_sign_ins, mail_to, new_person
from tests.cast import EMAILS, PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture(autouse=True)
async def clean_throttle(database):
    yield
    await forget_failed_sign_ins()


async def sign_in(identifier: str, password: str = PASSWORD, ip: str = "192.0.2.10", **kw) -> service.SignedIn:
    return await service.sign_in(identifier, password, ip=ip, user_agent="pytest", **kw)


async def test_sign_in_by_email_in_any_case_or_by_employee_number(cast):
    by_email = await sign_in(" Employee@Test.Local ")
    by_number = await sign_in("T-005")
    assert by_email.person_id == by_number.person_id == cast.ids["employee"]
    assert by_email.raw_token != by_number.raw_token
    actor = await service.actor_for_session(by_number.raw_token)
    assert (actor.kind, actor.person_id, actor.role) == ("person", cast.ids["employee"], "employee")


async def test_sessions_are_stored_as_hashes_only(cast):
    signed = await sign_in(EMAILS["employee"])
    assert not await UserSession.exists().where(UserSession.token_hash == signed.raw_token).run()


async def test_wrong_password_is_refused_and_counted(cast):
    with pytest.raises(FormInvalid) as caught:
        await sign_in(EMAILS["employee"], "wrong-password")
    assert caught.value.errors == {"password": ["The email, employee number or password is wrong."]}
    assert await LoginAttempt.count().where(LoginAttempt.key == "account:employee@test.local").run() == 1
    assert await LoginAttempt.count().where(LoginAttempt.key == "ip:192.0.2.10").run() == 1


async def test_unknown_account_gets_the_same_answer_as_a_wrong_password(cast):
    with pytest.raises(FormInvalid) as caught:
        await sign_in("nobody@test.local", "whatever-password")
    assert caught.value.errors == {"password": ["The email, employee number or password is wrong."]}


async def test_empty_fields_are_named(cast):
    with pytest.raises(FormInvalid) as caught:
        await sign_in("  ", "")
    assert set(caught.value.errors) == {"identifier", "password"}
    assert await LoginAttempt.count().run() == 0


async def test_five_failures_lock_the_account_even_for_the_right_password(cast):
    person = await new_person(cast)
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(FormInvalid):
            await sign_in(person["email"], "wrong-password", ip=f"198.51.100.{_}")
    with pytest.raises(service.Throttled) as caught:
        await sign_in(person["email"])
    assert caught.value.status_code == 429
    assert "Too many failed attempts" in caught.value.message
    # The account is counted by who it is: any case of the email, or the employee number.
    with pytest.raises(service.Throttled):
        await sign_in(person["email"].upper())
    with pytest.raises(service.Throttled):
        await sign_in(person["number"])


async def test_failures_expire_after_the_window(cast):
    person = await new_person(cast)
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(FormInvalid):
            await sign_in(person["email"], "wrong-password")
    async with db.write():
        await LoginAttempt.update({LoginAttempt.at: utcnow() - service.THROTTLE_WINDOW - timedelta(seconds=1)}).where(
            LoginAttempt.id > 0).run()
    assert (await sign_in(person["email"])).person_id == person["id"]


async def test_many_failures_from_one_address_lock_that_address_only(cast):
    for i in range(service.MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(FormInvalid):
            await sign_in(f"guess{i}@test.local", "wrong-password", ip="203.0.113.66")
    with pytest.raises(service.Throttled):
        await sign_in(EMAILS["employee"], ip="203.0.113.66")
    assert (await sign_in(EMAILS["employee"], ip="203.0.113.67")).person_id == cast.ids["employee"]


async def test_success_clears_the_accounts_failures(cast):
    person = await new_person(cast)
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(FormInvalid):
            await sign_in(person["email"], "wrong-password")
    await sign_in(person["email"])
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(FormInvalid):
            await sign_in(person["email"], "wrong-password")
    assert (await sign_in(person["email"])).person_id == person["id"]


async def test_sign_in_ends_the_session_the_browser_held_before(cast):
    first = await sign_in(EMAILS["employee"])
    before = await service.actor_for_session(first.raw_token)
    second = await sign_in(EMAILS["hr"], replaces_session=before.session_id)
    assert (await service.actor_for_session(first.raw_token)).kind == "nobody"
    assert (await service.actor_for_session(second.raw_token)).person_id == cast.ids["hr"]


async def test_sign_out_ends_only_this_session(cast):
    person = await new_person(cast)
    one, two = await sign_in(person["email"]), await sign_in(person["email"])
    await service.sign_out(await service.actor_for_session(one.raw_token))
    assert (await service.actor_for_session(one.raw_token)).kind == "nobody"
    assert (await service.actor_for_session(two.raw_token)).person_id == person["id"]


async def test_sign_out_everywhere_ends_every_session_and_is_audited(cast):
    person = await new_person(cast)
    tokens = [(await sign_in(person["email"])).raw_token for _ in range(3)]
    other = await sign_in(EMAILS["employee"])
    actor = await service.actor_for_session(tokens[0])
    assert await service.sign_out_everywhere(actor) == 3
    for raw in tokens:
        assert (await service.actor_for_session(raw)).kind == "nobody"
    assert (await service.actor_for_session(other.raw_token)).person_id == cast.ids["employee"]
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert (entry["action"], entry["object_id"]) == ("account.sign_out_everywhere", str(person["id"]))


async def test_expired_session_is_refused(cast):
    signed = await sign_in(EMAILS["employee"])
    async with db.write():
        await UserSession.update({UserSession.expires_at: utcnow() - timedelta(seconds=1)}).where(
            UserSession.person == cast.ids["employee"]).run()
    assert (await service.actor_for_session(signed.raw_token)).kind == "nobody"


async def test_a_deactivated_persons_sessions_stop_working(cast):
    person = await new_person(cast)
    signed = await sign_in(person["email"])
    async with db.write():
        await Person.update({Person.active: False}).where(Person.id == person["id"]).run()
    assert (await service.actor_for_session(signed.raw_token)).kind == "nobody"
    with pytest.raises(FormInvalid):
        await sign_in(person["email"])


async def test_hr_marking_someone_as_left_ends_their_sessions(cast):
    person = await new_person(cast)
    signed = await sign_in(person["email"])
    await people.update_person(cast.actor("hr"), person["id"], {
        "full_name": "Тест Тестович", "employee_number": person["number"], "email": person["email"], "language": "en",
        "role": "employee", "department_id": str(cast.departments["support.line1"]), "left_on": "2020-01-31",
        "hired_on": "2019-01-01",
    })
    assert not await UserSession.exists().where(UserSession.person == person["id"]).run()
    assert (await service.actor_for_session(signed.raw_token)).kind == "nobody"


# --- password reset ------------------------------------------------------------------------------


def link_in(body: str, kind: str) -> str:
    match = re.search(rf"/{kind}/(\S+)", body)
    assert match, body
    return match.group(1)


async def test_reset_for_an_unknown_account_does_nothing_and_says_nothing(cast):
    queued = await OutboxMessage.count().run()
    assert await service.send_password_reset("stranger@test.local", "http://x") is None
    assert await OutboxMessage.count().run() == queued


async def test_reset_mail_in_the_readers_language_goes_through_the_outbox_to_an_eml_file(cast, tmp_path):
    person = await new_person(cast, language="ru")
    await service.send_password_reset(person["number"], "http://sc.test")
    [mail] = await mail_to(person["email"])
    assert mail["sent_at"] is None
    assert "http://sc.test/password/reset/" in mail["body"]
    assert "Open this link" not in mail["body"]  # written in the reader's language (ru), not the requester's

    assert await outbox.deliver_mail() >= 1
    [mail] = await mail_to(person["email"])
    assert mail["sent_at"] is not None
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in (get_settings().data_dir / "mail").glob("*.eml")]
    [message] = [m for m in messages if m["To"] == person["email"]]
    assert link_in(mail["body"], "password/reset") in message.get_content()


async def test_reset_link_sets_the_password_once_and_ends_other_sessions(cast):
    person = await new_person(cast)
    old_session = await sign_in(person["email"])
    await service.send_password_reset(person["email"], "http://sc.test")
    raw = link_in((await mail_to(person["email"]))[-1]["body"], "password/reset")

    assert await service.use_link(raw, "reset", NEW_PASSWORD, NEW_PASSWORD) == person["id"]
    assert (await service.actor_for_session(old_session.raw_token)).kind == "nobody"
    assert (await sign_in(person["email"], NEW_PASSWORD)).person_id == person["id"]
    with pytest.raises(FormInvalid):
        await sign_in(person["email"], PASSWORD)
    with pytest.raises(DomainError) as caught:
        await service.use_link(raw, "reset", "yet-another-password", "yet-another-password")
    assert caught.value.status_code == 410
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert entry["action"] == "account.password_set_by_reset"


async def test_reset_link_expires(cast):
    person = await new_person(cast)
    await service.send_password_reset(person["email"], "http://sc.test")
    raw = link_in((await mail_to(person["email"]))[-1]["body"], "password/reset")
    async with db.write():
        await OneTimeLink.update({OneTimeLink.expires_at: utcnow() - timedelta(seconds=1)}).where(
            OneTimeLink.person == person["id"]).run()
    with pytest.raises(DomainError) as caught:
        await service.use_link(raw, "reset", NEW_PASSWORD, NEW_PASSWORD)
    assert caught.value.status_code == 410
    assert (await sign_in(person["email"])).person_id == person["id"]  # the old password still works


async def test_reset_link_cannot_be_used_as_an_invitation(cast):
    person = await new_person(cast)
    await service.send_password_reset(person["email"], "http://sc.test")
    raw = link_in((await mail_to(person["email"]))[-1]["body"], "password/reset")
    with pytest.raises(DomainError):
        await service.link_for(raw, "invite")


@pytest.mark.parametrize(("password", "confirm", "field"), [("short", "short", "password"), (NEW_PASSWORD, "different-passphrase", "confirm")])
async def test_a_bad_new_password_changes_nothing_and_keeps_the_link(cast, password, confirm, field):
    person = await new_person(cast)
    await service.send_password_reset(person["email"], "http://sc.test")
    raw = link_in((await mail_to(person["email"]))[-1]["body"], "password/reset")
    with pytest.raises(FormInvalid) as caught:
        await service.use_link(raw, "reset", password, confirm)
    assert list(caught.value.errors) == [field]
    assert (await service.link_for(raw, "reset"))["used_at"] is None
    assert (await sign_in(person["email"])).person_id == person["id"]


async def test_no_reset_mail_for_someone_without_email_or_who_left(cast):
    without = await new_person(cast, email=None)
    queued = await OutboxMessage.count().run()
    await service.send_password_reset(without["number"], "http://sc.test")
    assert await OutboxMessage.count().run() == queued
    assert not await OneTimeLink.exists().where(OneTimeLink.person == without["id"]).run()


async def test_mail_queued_in_a_rolled_back_transaction_is_never_sent(cast):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.write():
            await outbox.enqueue_mail("ghost@test.local", "Never", "This change was rolled back.")
            raise Boom()
    await outbox.deliver_mail()
    assert await mail_to("ghost@test.local") == []
    assert not [p for p in (get_settings().data_dir / "mail").glob("*.eml") if "ghost@test.local" in p.read_text()]


# --- invitations ----------------------------------------------------------------------------------


async def test_hr_invites_someone_with_email_by_mail(cast):
    person = await new_person(cast, password=None)
    url = await service.invite(cast.actor("hr"), person["id"], "http://sc.test")
    [mail] = await mail_to(person["email"])
    assert url in mail["body"]
    raw = url.rsplit("/", 1)[1]
    await service.use_link(raw, "invite", NEW_PASSWORD, NEW_PASSWORD)
    assert (await sign_in(person["email"], NEW_PASSWORD)).person_id == person["id"]


async def test_hr_invites_someone_without_email_by_a_printed_link(cast):
    person = await new_person(cast, email=None, password=None)
    queued = await OutboxMessage.count().run()
    url = await service.invite(cast.actor("hr"), person["id"], "http://sc.test")
    assert url.startswith("http://sc.test/invite/")
    assert await OutboxMessage.count().run() == queued
    await service.use_link(url.rsplit("/", 1)[1], "invite", NEW_PASSWORD, NEW_PASSWORD)
    assert (await sign_in(person["number"], NEW_PASSWORD)).person_id == person["id"]
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert entry["action"] == "account.password_set_by_invite"


async def test_employee_cannot_invite(cast):
    person = await new_person(cast)
    with pytest.raises(Forbidden):
        await service.invite(cast.actor("employee"), person["id"], "http://sc.test")
    assert not await OneTimeLink.exists().where(OneTimeLink.person == person["id"]).run()


async def test_inviting_someone_unknown_is_not_found(cast):
    with pytest.raises(NotFound):
        await service.invite(cast.actor("hr"), 987654, "http://sc.test")


async def test_audit_chain_stays_intact_after_account_changes(cast):
    checked, problems = await audit.verify()
    assert checked > 0 and problems == []


async def test_parallel_wrong_passwords_cannot_slip_under_the_limit(database_copy):
    """Ten guesses at once: at most the limit are checked, the rest are throttled."""
    import asyncio

    from servicechain.platform.accounts.service import MAX_FAILURES_PER_ACCOUNT, Throttled, sign_in
    from servicechain.platform.web import FormInvalid as Invalid

    async def guess(n: int) -> str:
        try:
            await sign_in("employee@test.local", f"wrong-{n}", ip=f"10.9.0.{n}", user_agent="t")
        except Throttled:
            return "throttled"
        except Invalid:
            return "wrong"
        return "signed in"

    outcomes = await asyncio.gather(*(guess(n) for n in range(10)))
    assert outcomes.count("wrong") == MAX_FAILURES_PER_ACCOUNT
    assert outcomes.count("throttled") == 10 - MAX_FAILURES_PER_ACCOUNT
