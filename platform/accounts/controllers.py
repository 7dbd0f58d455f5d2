"""Sign-in, sign-out, sessions, password reset, invitations and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from litestar.params import FromPath, FromQuery
from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from servicechain.platform import i18n
from servicechain.platform.accounts import service
from servicechain.platform.config import LANGUAGES, get_settings
from servicechain.platform.security import PUBLIC, actor_of
from servicechain.platform.web import (
    LANGUAGE_COOKIE,
    DomainError,
    FormInvalid,
    clear_session_cookie,
    client_ip,
    redirect,
    render,
    set_session_cookie,
)


def safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in would help phishing."""
    if not target:
        return "/"
    # Browsers read "\\" as "/" and drop tabs and newlines, so "/\\evil.example" or "/\t/evil.example"
    # would leave the site: refuse both outright.
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class AccountController(Controller):
    @get("/login", name="accounts:login", opt={"policy": PUBLIC})
    async def login_page(self, request: Request, next: FromQuery[str] = "/") -> Template:
        return render(request, "accounts/login.html", {"values": {}, "errors": {}, "next": safe_next(next)})

    @post("/login", name="accounts:sign_in", opt={"policy": PUBLIC})
    async def sign_in(self, request: Request) -> Any:
        form = await request.form()
        identifier, password = str(form.get("identifier", "")), str(form.get("password", ""))
        target = safe_next(str(form.get("next", "/")))
        try:
            signed = await service.sign_in(identifier, password, ip=client_ip(request.scope),
                                           user_agent=request.headers.get("user-agent", ""),
                                           replaces_session=actor_of(request).session_id)
        except (FormInvalid, service.Throttled) as exc:
            errors = exc.errors if isinstance(exc, FormInvalid) else {"password": [exc.message]}
            status = 429 if isinstance(exc, service.Throttled) else 422
            return render(request, "accounts/login.html", {"values": {"identifier": identifier}, "errors": errors, "next": target},
                          status_code=status)
        response = Redirect(path=target, status_code=303)
        set_session_cookie(response, signed.raw_token)
        response.set_cookie(LANGUAGE_COOKIE, signed.language, samesite="lax", secure=get_settings().secure_cookies, max_age=31536000)
        return response

    @post("/logout", name="accounts:sign_out", opt={"policy": "account.manage_own"})
    async def sign_out(self, request: Request) -> Response:
        await service.sign_out(actor_of(request))
        response = Redirect(path="/login", status_code=303)
        clear_session_cookie(response)
        return response

    @get("/account", name="accounts:account", opt={"policy": "account.manage_own"})
    async def account(self, request: Request) -> Template:
        actor = actor_of(request)
        return render(request, "accounts/account.html", {"sessions": await service.sessions_of(actor)})

    @post("/account/sign-out-everywhere", name="accounts:sign_out_everywhere", opt={"policy": "account.manage_own"})
    async def sign_out_everywhere(self, request: Request) -> Response:
        await service.sign_out_everywhere(actor_of(request))
        response = Redirect(path="/login", status_code=303)
        clear_session_cookie(response)
        return response

    @post("/language", name="accounts:language", opt={"policy": PUBLIC})
    async def switch_language(self, request: Request) -> Response:
        form = await request.form()
        language = str(form.get("language", ""))
        if language not in LANGUAGES:
            language = get_settings().default_language
        await service.set_language(actor_of(request), language)
        target = safe_next(str(form.get("next", "/")))
        response = Redirect(path=target, status_code=303)
        response.set_cookie(LANGUAGE_COOKIE, language, samesite="lax", secure=get_settings().secure_cookies, max_age=31536000)
        return response

    @get("/password/forgot", name="accounts:forgot", opt={"policy": PUBLIC})
    async def forgot_page(self, request: Request) -> Template:
        return render(request, "accounts/forgot.html", {"sent": False, "values": {}, "errors": {}})

    @post("/password/forgot", name="accounts:forgot_send", opt={"policy": PUBLIC})
    async def forgot(self, request: Request) -> Template:
        form = await request.form()
        await service.request_password_reset(str(form.get("identifier", "")), base_url(request), ip=client_ip(request.scope))
        return render(request, "accounts/forgot.html", {"sent": True, "values": {}, "errors": {}})

    @get("/password/reset/{token:str}", name="accounts:reset", opt={"policy": PUBLIC})
    async def reset_page(self, request: Request, token: FromPath[str]) -> Template:
        return await self._link_page(request, token, "reset")

    @post("/password/reset/{token:str}", name="accounts:reset_set", opt={"policy": PUBLIC})
    async def reset(self, request: Request, token: FromPath[str]) -> Any:
        return await self._use_link(request, token, "reset")

    @get("/invite/{token:str}", name="accounts:invite", opt={"policy": PUBLIC})
    async def invite_page(self, request: Request, token: FromPath[str]) -> Template:
        return await self._link_page(request, token, "invite")

    @post("/invite/{token:str}", name="accounts:invite_accept", opt={"policy": PUBLIC})
    async def accept_invite(self, request: Request, token: FromPath[str]) -> Any:
        return await self._use_link(request, token, "invite")

    async def _link_page(self, request: Request, token: str, purpose: str) -> Template:
        try:
            await service.link_for(token, purpose)
        except DomainError as exc:
            return render(request, "accounts/set_password.html", {"expired": exc.message, "purpose": purpose, "errors": {}}, status_code=410)
        return render(request, "accounts/set_password.html", {"expired": None, "purpose": purpose, "errors": {}})

    async def _use_link(self, request: Request, token: str, purpose: str) -> Any:
        form = await request.form()
        try:
            await service.use_link(token, purpose, str(form.get("password", "")), str(form.get("confirm", "")))
        except FormInvalid as exc:
            return render(request, "accounts/set_password.html", {"expired": None, "purpose": purpose, "errors": exc.errors}, status_code=422)
        except DomainError as exc:
            return render(request, "accounts/set_password.html", {"expired": exc.message, "purpose": purpose, "errors": {}}, status_code=410)
        return render(request, "accounts/login.html", {"values": {}, "errors": {}, "next": "/",
                                                       "notice": i18n.gettext("Your password is set. Sign in with it now.")})


class InvitationController(Controller):
    path = "/people/{person_id:int}/invite"

    @post("/", name="people:invite", opt={"policy": "people.invite"})
    async def invite(self, request: Request, person_id: FromPath[int]) -> Template:
        url = await service.invite(actor_of(request), person_id, base_url(request))
        from servicechain.platform.people.service import person_card

        card = await person_card(actor_of(request), person_id)
        return render(request, "accounts/invitation.html", {"url": url, **card})
