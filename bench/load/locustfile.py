"""The morning rush: demo people sign in and go about their day, and a helpdesk records uses of
authority through the JSON API. Run by bench/load.py, which prepares the plan (who signs in,
their goals, grants and dashboards) and checks the database afterwards; on its own:

    LOAD_PLAN=plan.json LOAD_OUT=out.json locust -f bench/load/locustfile.py --headless \
        -u 200 -r 5 -t 100s -H http://127.0.0.1:8121

Each virtual user is a different demo person (every demo person signs in with the demo
password). Every page view is followed by 1-3 s of thinking; a form post goes straight after
the page that holds the form, as a person's click would. Every write carries a marker unique to
this run and user (a check-in comment, a thanks message, a rating's request reference, an
authority use's case reference and request id), and the user notes each marker with what the
server said: bench/load.py counts the markers in the database afterwards, so a write the server
confirmed and lost, or stored twice, shows up.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time

from locust import FastHttpUser, between, events, task

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read()) if os.environ.get("LOAD_PLAN") else None
OUT = os.environ.get("LOAD_OUT")

# What every user noted, written to LOAD_OUT when the run ends.
samples: list[tuple[str, float, bool, float]] = []  # (request name, milliseconds, ok, when it started: unix s)
all_on: list[float] = []  # when the last user had been started (and had signed in): the ramp's end
writes: dict[str, dict[str, str]] = {"check_in": {}, "thanks": {}, "rating": {}, "authority_web": {}, "authority_api": {}}
_people = itertools.count()
_helpdesks = itertools.count()

SERVICE_LINK = re.compile(r'href="/internal-service/services/(\d+)/rate"')


@events.request.add_listener
def _sample(request_type, name, response_time, response_length, exception, **_kw):
    samples.append((name, response_time, exception is None, time.time() - response_time / 1000))


@events.spawning_complete.add_listener
def _all_on(user_count, **_kw):
    all_on.append(time.time())


@events.quitting.add_listener
def _write_out(environment, **_kw):
    if OUT:
        with open(OUT, "w", encoding="utf-8") as out:
            json.dump({"samples": samples, "writes": writes, "all_on": all_on[:1]}, out)


def _marker(kind: str, who: int, n: int) -> str:
    return f"{PLAN['run']}-{kind}-{who}-{n}"


class Person(FastHttpUser):
    """Someone from the demo company: signs in once, then home, goals and check-ins, thanks,
    a rating, an authority use (when they hold a grant) and a dashboard, in random order."""

    weight = 19
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.index = next(_people)
        self.me = PLAN["people"][self.index % len(PLAN["people"])]
        self.n = 0
        self.thanked = 0
        self.csrf = ""
        # Each person at their own computer: the server runs behind a reverse proxy that says
        # who the client is (bench/load.py trusts loopback as that proxy), so per-address sign-in
        # throttling sees 200 addresses, not one.
        address = f"10.1.{self.index // 250 % 250}.{1 + self.index % 250}"
        send = self.client.request

        def request(method, url, headers=None, **kwargs):
            return send(method, url, headers={**(headers or {}), "X-Forwarded-For": address}, **kwargs)

        self.client.request = request
        self.client.get("/login", name="sign-in page")
        self.csrf = self._cookie("sc_csrf")
        with self.client.post("/login", data={"identifier": self.me["login"], "password": PLAN["password"], "next": "/"},
                              headers=self._headers(), name="sign in", allow_redirects=False, catch_response=True) as response:
            if response.status_code != 303:
                response.failure(f"sign-in answered {response.status_code}")
        self.wait()

    # --- helpers -------------------------------------------------------------------------------

    def _cookie(self, name: str) -> str:
        return next((c.value for c in self.client.cookiejar if c.name == name), "")

    def _headers(self, htmx: bool = False) -> dict[str, str]:
        headers = {"x-csrftoken": self.csrf or self._cookie("sc_csrf")}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def _next(self, kind: str) -> str:
        self.n += 1
        return _marker(kind, self.index, self.n)

    def _post(self, url: str, data, name: str, kind: str, marker: str):
        """A form post as htmx sends it; the outcome is noted against the marker. Success is the
        fragment (200) or a client redirect (204) anywhere but to the sign-in page."""
        writes[kind][marker] = "sent"  # the run may end before the answer comes
        with self.client.post(url, data=data, headers=self._headers(htmx=True), name=name, allow_redirects=False,
                              catch_response=True) as response:
            headers = response.headers or {}
            signed_out = "/login" in (headers.get("HX-Redirect") or headers.get("Location") or "")
            if response.status_code in (200, 204) and not signed_out:
                writes[kind][marker] = "ok"
            else:
                # Not confirmed: it may or may not have been written (a timeout), so it is only
                # allowed, not required, to be in the database.
                writes[kind][marker] = f"failed {response.status_code}"
                response.failure(f"{name}: {response.status_code} {(response.text or '')[:200]}")
            return response

    # --- flows -----------------------------------------------------------------------------------

    @task(4)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(3)
    def goals_and_check_in(self) -> None:
        self.client.get("/goals/", name="my goals")
        if not self.me["goals"]:
            return
        goal = random.choice(self.me["goals"])
        self.wait()
        self.client.get(f"/goals/{goal}", name="goal page")
        marker = self._next("checkin")
        self._post(f"/goals/{goal}/check-ins", {"value": str(random.randint(1, 100)), "confidence": random.choice(
            ["on_track", "at_risk"]), "taken_on": PLAN["today"], "comment": marker}, "check-in", "check_in", marker)

    @task(2)
    def thanks(self) -> None:
        self.client.get("/recognition/", name="recognition feed")
        self.wait()
        self.client.get("/recognition/new", name="thanks form")
        colleague = self.me["colleague"]
        # Typing a name into the picker (search as you type), then choosing the colleague.
        self.client.get("/recognition/picker", params={"find": colleague["name"][:5]}, name="thanks picker",
                        headers={"HX-Request": "true"})
        if self.thanked >= PLAN["thanks_per_day"]:
            return  # a person may thank this many a day: a longer run must not count the refusal as an error
        self.thanked += 1
        marker = self._next("thanks")
        self._post("/recognition/new", {"to": colleague["login"], "values": random.choice(PLAN["values"]),
                                        "message": f"Thank you for today ({marker})", "visibility": "public"},
                   "thanks", "thanks", marker)

    @task(1)
    def rate_a_service(self) -> None:
        # The round's checklist when a round is open; otherwise a service the department receives,
        # rated for a particular request, as the round page suggests.
        response = self.client.get("/internal-service/round", name="rating round")
        services = SERVICE_LINK.findall(response.text or "") or [str(s) for s in self.me["services"]]
        if not services:
            return
        service = random.choice(services)
        self.wait()
        self.client.get(f"/internal-service/services/{service}/rate", name="rating form")
        marker = self._next("rating")
        scores = {name: str(random.randint(3, 5)) for name in ("overall", "speed", "quality", "courtesy", "willingness")}
        response = self._post(f"/internal-service/services/{service}/rate",
                              {**scores, "comment": "", "request_ref": marker, "round_id": ""}, "rating", "rating", marker)
        if response.status_code == 204 and (response.headers or {}).get("HX-Redirect"):
            self.client.get(response.headers["HX-Redirect"], name="rating round")

    @task(1)
    def use_authority(self) -> None:
        if not self.me["scopes"]:
            self.client.get("/authority/", name="my authority")
            return
        self.client.get("/authority/", name="my authority")
        marker = self._next("use")
        scope = random.choice(self.me["scopes"])
        response = self._post("/authority/uses", {"scope_id": str(scope["id"]), "amount": scope["amount"], "case_ref": marker,
                                                  "customer": "", "action": "goodwill compensation"},
                              "authority use (form)", "authority_web", marker)
        if response.status_code == 204 and (response.headers or {}).get("HX-Redirect"):
            self.client.get(response.headers["HX-Redirect"], name="my authority")

    @task(2)
    def dashboard(self) -> None:
        name, page = self.me["dashboard"]
        self.client.get(page, name=name)


class Helpdesk(FastHttpUser):
    """The helpdesk integration: asks what an agent may do, then records the use with a request
    id; one call in five is retried with the same body (a lost answer), which must not record
    the use twice."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.index = next(_helpdesks)
        self.n = 0
        self.auth = {"Authorization": f"Bearer {PLAN['token']}"}

    @task
    def record(self) -> None:
        agent = random.choice(PLAN["agents"])
        self.client.get("/api/v1/authority/", params={"employee": agent["login"]}, headers=self.auth, name="api: authority")
        self.n += 1
        marker = _marker("api", self.index, self.n)
        body = {"employee": agent["login"], "scope": agent["scope"], "amount": agent["amount"], "case_ref": marker,
                "request_id": marker, "note": "compensation from the helpdesk"}
        writes["authority_api"][marker] = "sent"
        for attempt in range(2 if random.random() < 0.2 else 1):
            name = "api: record use" if attempt == 0 else "api: record use (retry)"
            with self.client.post("/api/v1/authority/uses", json=body, headers=self.auth, name=name, catch_response=True) as response:
                if response.status_code in (200, 201):
                    writes["authority_api"][marker] = "ok"
                else:
                    if writes["authority_api"][marker] != "ok":
                        writes["authority_api"][marker] = f"failed {response.status_code}"
                    response.failure(f"{name}: {response.status_code} {(response.text or '')[:200]}")
