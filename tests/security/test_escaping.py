"""User text carrying HTML/JS is shown as text, never as live markup.

On a private copy, a payload goes into every free-text field people fill in: a department's and
a person's name and position, a thanks and its story, a goal's title, description and metric
and a check-in comment, an internal service's name, a rating comment and a follow-up's response,
a customer's score comment and the follow-up note, a pulse's title and an anonymous pulse
comment. Then the site is crawled by following links
(so pages added later, such as analytics and reports, are visited when a menu links them) as an
administrator, a manager and an employee. No page may carry a payload as a live tag, and each
payload must be found, escaped, on some page (proving the crawl saw where it is shown).
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.cast import EMAILS
from tests.conftest import sign_in
from tests.security.conftest import private_copy

LIVE = re.compile(r"<script>alert\(|<img src=x onerror|<svg onload", re.I)
SKIP = re.compile(r"^/(static|schema|logout|api)/?|/export|\.pdf$|\.csv$|\.xlsx$|/download")
PAGES_PER_PATTERN = 3


def payload(field: str) -> str:
    return f'<script>alert("xss-{field}")</script><img src=x onerror=alert(1)>"\'&'


FIELDS = ("dept", "person", "position", "thanks", "story", "goal", "goal-text", "metric", "check-in", "service",
          "rating", "response", "score", "score-note", "pulse", "pulse-comment")


@pytest.fixture(scope="module")
async def planted(cast):
    """Every payload saved through the services, as people would save it."""
    from servicechain.goals import service as goals
    from servicechain.internal_service import service as internal
    from servicechain.internal_service.tables import FollowUp, Rating
    from servicechain.platform import db
    from servicechain.platform.customers import service as customers
    from servicechain.platform.customers.tables import ScoreFollowUp
    from servicechain.platform.people import service as people
    from servicechain.platform.security import SYSTEM, utcnow
    from servicechain.recognition import service as recognition
    from tests.customers.helpers import item
    from tests.goals.helpers import goal_data
    from tests.internal_service import helpers as internal_helpers
    from tests.recognition.conftest import ensure_values
    from tests.surveys import helpers as surveys
    from servicechain.platform.surveys import service as pulse_service

    hr, manager, employee = cast.actor("hr"), cast.actor("manager"), cast.actor("employee")
    async with private_copy():
        department = await people.create_department(hr, {"code": "xss", "name_en": payload("dept"), "name_ru": payload("dept"),
                                                         "parent_id": str(cast.departments["support"])})
        await people.create_person(hr, {
            "full_name": payload("person"), "employee_number": "XSS-1", "email": "xss@security.test",
            "position": payload("position"), "language": "en", "role": "employee", "department_id": str(department),
            "manager_id": str(cast.ids["manager"])})
        await ensure_values()
        await recognition.give_recognition(cast.actor("outsider"), {
            "to": [EMAILS["employee"]], "values": ["customer"], "message": payload("thanks"), "story": payload("story")})
        goal = await goals.create_goal(employee, goal_data(cast, title=payload("goal"), description=payload("goal-text"),
                                                           metric=payload("metric"),
                                                           standalone_reason="A test of escaping, it stands alone."))
        await goals.change_status(employee, goal, "proposed")
        await goals.change_status(manager, goal, "agreed")
        await goals.add_check_in(employee, goal, {"value": "60", "confidence": "on_track", "comment": payload("check-in"),
                                                  "taken_on": goals.today().isoformat()})
        service_id = await internal_helpers.service(cast.departments["support"], payload("service"))
        async with db.write():
            rating = Rating(service=service_id, rater=cast.ids["outsider"], rater_department=cast.departments["warehouse"],
                            provider_department=cast.departments["support"], request_ref="XSS-1", overall=1, speed=1,
                            quality=1, courtesy=1, willingness=1, comment=payload("rating"), may_contact=True, rated_on=internal.today(),
                            created_at=utcnow())
            await rating.save().run()
            follow_up = FollowUp(rating=rating.id, provider_department=cast.departments["support"], status="open",
                                 created_at=utcnow())
            await follow_up.save().run()
        await internal.resolve_follow_up(manager, follow_up.id, {"response": payload("response"),
                                                                 "resolution": payload("response")})
        await customers.save_batch(SYSTEM, [item("xss-1", csat="1", comment=payload("score"))], source="xss",
                                   checksum="x" * 64, via="test")
        score_follow_up = await ScoreFollowUp.select(ScoreFollowUp.id).order_by(ScoreFollowUp.id, ascending=False).first().run()
        await customers.close_follow_up(manager, score_follow_up["id"], {"outcome": "called_back",
                                                                          "note": payload("score-note")})
        pulse_department = await surveys.department("Pulse", cast.departments["company"])
        respondents = await surveys.people(pulse_department, 5)
        pulse = await surveys.launch(hr, [pulse_department], title=payload("pulse"))
        await surveys.answer_all(pulse, respondents, comment=payload("pulse-comment"))
        await pulse_service.close_pulse(pulse)
        # The crawl visits only a few pages of each shape, and other tests leave many goals in the shared
        # database: the crawl starts at this goal's page too, so its text fields are always looked at.
        yield [f"/goals/{goal}"]


def pattern(path: str) -> str:
    return re.sub(r"/\d+", "/{n}", path)


async def crawl(client, limit: int, start: list[str]) -> dict[str, str]:
    """GET pages reachable by links from home (and `start`), at most a few per URL shape; url -> html."""
    seen: dict[str, str] = {}
    shapes: Counter[str] = Counter()
    queue = ["/", *start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = await client.get(url, follow_redirects=True)
        if not response.headers.get("content-type", "").startswith("text/html"):
            seen[url] = ""
            continue
        html = response.text
        seen[url] = html
        for href in re.findall(r'href="([^"]+)"', html):
            href = urldefrag(href.replace("&amp;", "&"))[0]
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not href.startswith("/") or SKIP.search(parts.path):
                continue
            shape = pattern(parts.path)
            if href not in seen and href not in queue and shapes[shape] < PAGES_PER_PATTERN:
                shapes[shape] += 1
                queue.append(href)
    return seen


async def test_payloads_in_every_free_text_field_are_escaped_on_every_page(client, planted):
    pages: dict[str, str] = {}
    for who, limit in (("admin@test.local", 220), ("manager@test.local", 120), ("employee@test.local", 60)):
        await sign_in(client, who)
        for url, html in (await crawl(client, limit, planted)).items():
            pages[f"{who} {url}"] = html
    assert len(pages) > 80, sorted(pages)
    live = [page for page, html in pages.items() if LIVE.search(html)]
    assert live == [], live
    shown = {field for field in FIELDS for html in pages.values() if f"xss-{field}&#34;" in html}
    assert shown == set(FIELDS), f"never shown: {set(FIELDS) - shown}"
