"""Internal service over HTTP: rating from the round's list, the follow-up, the figures."""

from __future__ import annotations

from datetime import timedelta

from servicechain.internal_service import service
from servicechain.internal_service.tables import FollowUp, InternalService, Rating
from servicechain.platform.people.service import today
from servicechain.platform.tables import Notification
from tests.api.helpers import on_app_loop
from tests.conftest import post_form, text_of
from tests.internal_service import helpers as h


async def test_an_employee_rates_a_service_from_the_rounds_list(client, as_user, cast):
    await on_app_loop(client, h.open_round)
    svc = await on_app_loop(client, h.service, cast.departments["warehouse"], "HTTP: delivery slots")
    await as_user("employee")
    home = await client.get("/")
    assert "Rate internal services" in home.text
    listed = await client.get("/internal-service/round")
    assert listed.status_code == 200 and "HTTP: delivery slots" in listed.text
    assert f"/internal-service/services/{svc}/rate" in listed.text
    form = await client.get(f"/internal-service/services/{svc}/rate")
    assert form.status_code == 200 and 'name="willingness"' in form.text
    data = {**h.scores(4), "comment": "Quick and kind", "round_id": await on_app_loop(client, h.open_round)}
    saved = await post_form(client, f"/internal-service/services/{svc}/rate", data)
    assert saved.status_code == 303 and saved.headers["location"] == "/internal-service/round?rated=1"
    after = await client.get("/internal-service/round?rated=1")
    assert "Thank you: your rating was saved." in after.text
    assert f"/internal-service/services/{svc}/rate" not in after.text
    again = await post_form(client, f"/internal-service/services/{svc}/rate", data)
    assert again.status_code == 422 and "You have already rated this service in this round." in again.text
    count = await on_app_loop(client, Rating.count().where(Rating.service == svc).run)
    assert count == 1


async def test_a_bad_rating_re_renders_the_form_fragment_with_messages(client, as_user, cast):
    await on_app_loop(client, h.open_round)
    svc = await on_app_loop(client, h.service, cast.departments["warehouse"], "HTTP: returns")
    await as_user("employee")
    refused = await post_form(client, f"/internal-service/services/{svc}/rate", {**h.scores(4), "overall": "9"}, htmx=True)
    assert refused.status_code == 422
    assert "<html" not in refused.text and "Choose a score from 1 to 5." in refused.text
    assert await on_app_loop(client, Rating.count().where(Rating.service == svc).run) == 0


async def test_the_head_resolves_a_follow_up_and_the_rater_is_told(client, as_user, cast):
    svc = await on_app_loop(client, h.service, cast.departments["support"], "HTTP: answering the warehouse")
    await as_user("outsider")
    rated = await post_form(client, f"/internal-service/services/{svc}/rate",
                            {**h.scores(1), "comment": "Nobody picked up", "request_ref": "WH-12", "may_contact": "1"})
    assert rated.status_code == 303
    follow_up = await on_app_loop(client, FollowUp.select().where(FollowUp.provider_department == cast.departments["support"])
                                  .order_by(FollowUp.id, ascending=False).first().run)
    await as_user("manager")
    listed = await client.get("/internal-service/follow-ups")
    assert f"/internal-service/follow-ups/{follow_up['id']}" in listed.text
    page = await client.get(f"/internal-service/follow-ups/{follow_up['id']}")
    assert "Nobody picked up" in page.text and "WH-12" in page.text  # the rater agreed
    assert "Склад" not in page.text and "Warehouse" not in page.text, "never the rater or their department"
    empty = await post_form(client, f"/internal-service/follow-ups/{follow_up['id']}", {"response": "", "resolution": ""})
    assert empty.status_code == 422 and "Write what was done about it." in empty.text
    done = await post_form(client, f"/internal-service/follow-ups/{follow_up['id']}",
                           {"response": "The line was down", "resolution": "A backup number is on the wiki"})
    assert done.status_code == 303
    told = await on_app_loop(client, Notification.select().where(Notification.person == cast.ids["outsider"]).run)
    assert any("A backup number is on the wiki" in n["text"] for n in told)
    resolved = await client.get(f"/internal-service/follow-ups/{follow_up['id']}")
    assert "A backup number is on the wiki" in resolved.text and 'name="response"' not in resolved.text


async def test_the_matrix_drills_down_with_htmx_and_the_scorecard_draws_a_chart(client, as_user, cast):
    await as_user("hr")
    page = await client.get("/internal-service/matrix")
    assert page.status_code == 200 and 'id="matrix"' in page.text
    fragment = await client.get(f"/internal-service/matrix?raters={cast.departments['support']}&providers=",
                                headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "<table" in fragment.text
    assert 'name="round"' in page.text and "Last 12 months, every rating" in page.text
    round_id = await on_app_loop(client, h.closed_round)
    in_round = await client.get(f"/internal-service/matrix?raters=&providers=&round={round_id}", headers={"HX-Request": "true"})
    assert in_round.status_code == 200 and "in the round “Long ago”" in text_of(in_round.text)
    assert f'value="{round_id}" selected' in in_round.text
    assert (await client.get("/internal-service/matrix?round=999999")).status_code == 404
    card = await client.get(f"/internal-service/departments/{cast.departments['warehouse']}")
    assert card.status_code == 200 and "<svg" in card.text and "<style" not in card.text


async def test_a_head_adds_a_service_and_bad_input_changes_nothing(client, as_user, cast):
    await as_user("manager")
    refused = await post_form(client, "/internal-service/services/new",
                              {"provider_id": str(cast.departments["support"]), "name_en": "", "name_ru": ""})
    assert refused.status_code == 422 and "Give the service a name in both languages." in refused.text
    created = await post_form(client, "/internal-service/services/new",
                              {"provider_id": str(cast.departments["support"]), "name_en": "HTTP: scripts review",
                               "name_ru": "Проверка скриптов", "for_all": "1"})
    assert created.status_code == 303
    catalogue = await client.get("/internal-service/")
    assert "HTTP: scripts review" in text_of(catalogue.text)


async def _rated_provider(cast) -> int:
    division = await h.department("HTTP division", cast.departments["company"])
    provider = await h.department("HTTP provider", division)
    raters_department = await h.department("HTTP raters", cast.departments["company"])
    svc = await h.service(provider, "HTTP: well rated")
    raters = await h.people(raters_department, 6)
    # A month no other test rates in: other tests' small figures in the same month of other
    # divisions would make this one the company's complement, and rightly hide it.
    on = today().replace(day=1) - timedelta(days=17 * 30)
    await h.ratings(svc, [(r, raters_department, 5) for r in raters], on=on)
    await service.decide_figures()  # what the worker does after the ratings: pages read its figures
    return provider


async def test_a_scorecard_with_enough_raters_shows_the_mean_criteria_and_the_chart(client, as_user, cast):
    provider = await on_app_loop(client, _rated_provider, cast)
    await as_user("ceo")
    card = await client.get(f"/internal-service/departments/{provider}")
    text = text_of(card.text)
    assert card.status_code == 200 and "Willingness to help" in text and "5.00" in text
    assert "<circle" in card.text and "<svg" in card.text  # one month rated: a marker, no line yet


async def _rated_again(provider: int, company: int) -> None:
    """Two more ratings of the provider's service, the worker not yet run."""
    svc = (await InternalService.select(InternalService.id).where(InternalService.provider == provider).first().run())["id"]
    raters_department = await h.department("HTTP later raters", company)
    await h.ratings(svc, [(r, raters_department, 1) for r in await h.people(raters_department, 2)])


async def test_a_scorecard_behind_the_ratings_shows_the_decided_figures_and_says_what_is_being_counted(client, as_user, cast):
    provider = await on_app_loop(client, _rated_provider, cast)
    await as_user("ceo")
    before = text_of((await client.get(f"/internal-service/departments/{provider}")).text)
    await on_app_loop(client, _rated_again, provider, cast.departments["company"])
    behind = text_of((await client.get(f"/internal-service/departments/{provider}")).text)
    assert "2 newer ratings are being counted" in behind
    assert "5.00" in behind, "the figures the worker decided, not the live summary"
    await on_app_loop(client, service.decide_figures)
    after = text_of((await client.get(f"/internal-service/departments/{provider}")).text)
    assert "newer rating" not in after and "newer rating" not in before


async def test_hr_closes_the_open_round_and_a_rating_sent_after_is_refused_in_place(client, as_user, cast):
    round_id = await on_app_loop(client, h.open_round)
    svc = await on_app_loop(client, h.service, cast.departments["warehouse"], "HTTP: closing early")
    await as_user("hr")
    listed = await client.get("/internal-service/rounds")
    assert f"/internal-service/rounds/{round_id}/close" in listed.text and "hx-confirm" in listed.text
    closed = await post_form(client, f"/internal-service/rounds/{round_id}/close")
    assert closed.status_code == 303 and closed.headers["location"] == "/internal-service/rounds?closed=1"
    page = text_of((await client.get("/internal-service/rounds?closed=1")).text)
    assert "The round is closed: it no longer accepts ratings." in page and "Closed early on" in page
    again = await post_form(client, f"/internal-service/rounds/{round_id}/close")
    assert again.status_code == 422 and "This round is already closed." in again.text
    await as_user("employee")
    refused = await post_form(client, f"/internal-service/services/{svc}/rate", {**h.scores(4), "round_id": round_id})
    assert refused.status_code == 422 and "This survey round is closed; ratings are no longer accepted." in refused.text
    assert await on_app_loop(client, Rating.count().where(Rating.service == svc).run) == 0
    assert "Rate internal services" not in (await client.get("/")).text
