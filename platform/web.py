"""What every page needs: the template engine, rendering with htmx awareness, form errors,
the request middleware (actor, language, read snapshot, security headers), and the one
exception handler that turns errors into pages or the API's error shape."""

from __future__ import annotations

import ipaddress
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.plugins.htmx import HTMXTemplate
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from servicechain.platform import db, i18n
from servicechain.platform.config import LANGUAGES, REPO_ROOT, get_settings
from servicechain.platform.security import NOBODY, Actor, NotAuthenticated, can

log = logging.getLogger("servicechain")

TEMPLATE_DIR = REPO_ROOT / "templates"
SESSION_COOKIE = "sc_session"
LANGUAGE_COOKIE = "sc_lang"


# --- forms ------------------------------------------------------------------------------------


class FormInvalid(Exception):
    """Raised by services; carries {field: [messages]} already in the user's language."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class DomainError(Exception):
    """A rule refused the action; the message is for the user, in their language."""

    status_code = 422

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code:
            self.status_code = status_code


# --- templates --------------------------------------------------------------------------------


def _csp_safe_json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


ROLE_LABELS = {
    "employee": i18n.lazy_gettext("Employee"),
    "manager": i18n.lazy_gettext("Manager"),
    "hr": i18n.lazy_gettext("HR admin"),
    "executive": i18n.lazy_gettext("Executive"),
    "admin": i18n.lazy_gettext("Administrator"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def department_label(row: dict[str, Any]) -> str:
    from servicechain.platform.people.service import department_name

    return department_name(row)


def department_options(departments: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Tree order, indented by depth with no-break spaces so the select shows the tree."""
    return [(d["id"], "\u00a0\u00a0" * d["depth"] + d["name"]) for d in departments]


def people_options(people: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(p["id"], f"{p['full_name']} ({p['employee_number']})") for p in people]


def role_options(roles: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(r, role_label(r)) for r in roles]


# --- the site header ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    href: str
    label: Any  # lazy: translated when the header is drawn
    capability: str | None  # None: every signed-in person
    group: str  # "main": always in view; "more" and "admin": under the header's "More" menu
    prefixes: tuple[str, ...] = ()  # paths that make this the current page; default: href
    not_prefixes: tuple[str, ...] = ()

    def current(self, path: str) -> bool:
        if self.href == "/":
            return path == "/"
        if any(path.startswith(p) for p in self.not_prefixes):
            return False
        return any(path.startswith(p) for p in self.prefixes or (self.href.rstrip("/"),))


# Fifteen links (longer in Russian) wrapped the header onto two lines even at 1280 px: the
# everyday places stay in view, the rest sit under "More", administration last.
NAV_ITEMS = (
    NavItem("/", i18n.lazy_gettext("Home"), None, "main"),
    NavItem("/people/", i18n.lazy_gettext("People"), None, "main", not_prefixes=("/people/import",)),
    NavItem("/goals/", i18n.lazy_gettext("Goals"), "goals.view", "main"),
    NavItem("/recognition/", i18n.lazy_gettext("Recognition"), "recognition.view", "main", prefixes=("/recognition", "/rewards")),
    NavItem("/authority/", i18n.lazy_gettext("Authority"), "authority.view_own", "main"),
    NavItem("/departments/", i18n.lazy_gettext("Departments"), None, "more"),
    NavItem("/pulses/", i18n.lazy_gettext("Pulses"), "pulses.answer", "more"),
    NavItem("/internal-service/", i18n.lazy_gettext("Internal service"), "internal_service.view", "more"),
    NavItem("/quality/", i18n.lazy_gettext("Quality"), "quality.view", "more"),
    NavItem("/customers/", i18n.lazy_gettext("Customers"), "scores.view", "more"),
    NavItem("/analytics/", i18n.lazy_gettext("Analytics"), "analytics.view", "more"),
    NavItem("/reports/", i18n.lazy_gettext("Monthly reports"), "reports.read", "more"),
    NavItem("/people/import/", i18n.lazy_gettext("Import"), "people.import", "admin"),
    NavItem("/audit/", i18n.lazy_gettext("Audit log"), "audit.view", "admin"),
    NavItem("/admin/tokens/", i18n.lazy_gettext("API tokens"), "tokens.manage", "admin", prefixes=("/admin",)),
)


def main_menu(actor: Actor, path: str) -> dict[str, Any]:
    """The header's links for this person, by group, each as (href, label, is current page);
    `more_current` marks the "More" menu when the current page is inside it."""
    groups: dict[str, list[tuple[str, str, bool]]] = {"main": [], "more": [], "admin": []}
    if not actor.is_person:
        return {**groups, "more_current": False}
    for item in NAV_ITEMS:
        if item.capability is None or can(actor, item.capability):
            groups[item.group].append((item.href, str(item.label), item.current(path)))
    more_current = any(current for group in ("more", "admin") for _, _, current in groups[group])
    return {**groups, "more_current": more_current}


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Jinja's newstyle wrappers do the %-formatting themselves, so these return raw text.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: i18n.translations(i18n.current_language()).gettext(s),
        lambda s, p, n: i18n.translations(i18n.current_language()).ngettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: i18n.pgettext(c, s),
    )
    env.globals.update(
        current_language=i18n.current_language,
        languages=LANGUAGES,
        language_name=i18n.language_name,
        can=can,
        format_date=i18n.format_date,
        format_datetime=i18n.format_datetime,
        format_number=i18n.format_number,
        money=i18n.format_money,
        to_json=_csp_safe_json,
        main_menu=main_menu,
    )
    env.globals.update(role_label=role_label, department_label=department_label)
    env.filters.update(department_options=department_options, people_options=people_options, role_options=role_options)
    env.filters.update(date=i18n.format_date, datetime=i18n.format_datetime, number=i18n.format_number, money=i18n.format_money)
    return env


ENVIRONMENT = build_environment()
template_engine = JinjaTemplateEngine.from_environment(ENVIRONMENT)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    fragment: str | None = None,
    trigger_event: str | None = None,
) -> Template:
    """A whole page, or for htmx requests its fragment when one is named."""
    context = dict(context or {})
    context.setdefault("actor", request.scope.get("user") or NOBODY)
    if getattr(request, "htmx", False) and fragment:
        if trigger_event:
            return HTMXTemplate(
                template_name=fragment, context=context, status_code=status_code, media_type=MediaType.HTML,
                trigger_event=trigger_event, after="swap",
            )
        return Template(template_name=fragment, context=context, status_code=status_code, media_type=MediaType.HTML)
    # Explicit: a handler annotated `-> Any` would otherwise send the page as JSON.
    return Template(template_name=template, context=context, status_code=status_code, media_type=MediaType.HTML)


def redirect(request: Request, path: str) -> Response:
    """POST-redirect-GET, or an htmx client redirect."""
    if getattr(request, "htmx", False):
        return Response(content=None, status_code=204, headers={"HX-Redirect": path})
    return Redirect(path=path, status_code=303)




# --- request middleware ------------------------------------------------------------------------

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def client_ip(scope: Scope) -> str:
    """The peer address, or the forwarded one when the peer is a trusted proxy."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    settings = get_settings()
    if not settings.trusted_proxies or not peer:
        return peer
    try:
        peer_addr = ipaddress.ip_address(peer)
    except ValueError:
        return peer
    if not any(peer_addr in net for net in settings.trusted_proxies):
        return peer
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            # The right-most address not belonging to a trusted proxy is the client.
            for hop in reversed(hops):
                try:
                    if not any(ipaddress.ip_address(hop) in net for net in settings.trusted_proxies):
                        return hop
                except ValueError:
                    return peer
    return peer


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    from servicechain.platform.accounts import service as accounts

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path = scope["path"]
        if b"%00" in scope.get("query_string", b""):
            # A NUL in a query parameter is never meant (PostgreSQL refuses it in any text):
            # a search for "abc%00" is a search for "abc".
            scope["query_string"] = scope["query_string"].replace(b"%00", b"")
        # GETs run in one read snapshot: on SQLite, one connection for the whole request
        # (sign-in check included) instead of one per query. /healthz asks the database
        # itself, so a failing snapshot must not turn it into an error page.
        snapshot = scope["method"] in ("GET", "HEAD") and not path.startswith("/static/") and path != "/healthz"
        token_actor: Actor | None = None
        if path.startswith("/api/"):
            # Tokens are checked before the snapshot: their last-use stamp is a write.
            auth = _header(scope, b"authorization") or ""
            token_actor = await accounts.actor_for_token(auth[7:].strip()) if auth.lower().startswith("bearer ") else NOBODY
        stale_sessions: list[int] = []
        try:
            if snapshot:
                async with db.read():
                    await handle(scope, receive, send, token_actor, stale_sessions)
            else:
                await handle(scope, receive, send, token_actor, None)
        finally:
            if stale_sessions:
                await accounts.touch_sessions(stale_sessions)

    async def handle(scope: Scope, receive: Receive, send: Send, token_actor: Actor | None, stale_sessions: list[int] | None) -> None:
        path = scope["path"]
        actor: Actor = NOBODY
        if token_actor is not None:
            actor = token_actor
        elif not path.startswith("/static/"):
            raw = _cookie(scope, SESSION_COOKIE)
            if raw:
                actor = await accounts.actor_for_session(raw, defer_touch=stale_sessions)
        scope["user"] = actor  # type: ignore[typeddict-unknown-key]

        language = actor.language if actor.is_person else None
        language = language or _cookie(scope, LANGUAGE_COOKIE)
        if language not in LANGUAGES:
            language = i18n.negotiate(_header(scope, b"accept-language"))
        token = i18n.set_language(language or get_settings().default_language)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if get_settings().is_production:
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                if not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        # On an error the language stays set: Litestar's exception middleware renders the error
        # page (a refused CSRF token, say) outside this one, in the same context, and the page
        # must speak the person's language. Each request runs in a task of its own, so nothing
        # leaks into the next.
        await app(scope, receive, send_with_headers)
        i18n._current_language.reset(token)

    return middleware


def set_session_cookie(response: Response, raw: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=get_settings().secure_cookies,
        max_age=int(timedelta(days=14).total_seconds()), path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


# --- errors ---------------------------------------------------------------------------------


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def api_error(status: int, detail: str, errors: list[dict[str, Any]] | None = None, headers=None) -> Response:
    return Response(content={"detail": detail, "errors": errors or []}, status_code=status, media_type="application/json", headers=headers)


_BOUND = re.compile(r"Expected `(?:int|float)` (>=|<=|>|<) (-?\d+)")


def _validation_message(raw: str) -> str:
    """Litestar/msgspec explain bad parameters in English developer terms; say it in the user's language."""
    if bound := _BOUND.match(raw):
        op, n = bound.group(1), int(bound.group(2))
        n = n + 1 if op == ">" else n - 1 if op == "<" else n
        return i18n.gettext("Enter a number of at least %(n)s.", n=n) if op in (">=", ">") else i18n.gettext("Enter a number of at most %(n)s.", n=n)
    if raw.startswith(("Expected `int`", "Expected `float`")):
        return i18n.gettext("Enter a whole number.") if "int" in raw[:15] else i18n.gettext("Enter a number.")
    if raw.startswith("Expected `bool"):
        return i18n.gettext("Write true or false.")
    if raw.startswith("Missing required"):
        return i18n.gettext("This is required.")
    if raw.startswith("Expected `"):
        return i18n.gettext("This value is not valid.")
    return raw  # our own messages arrive translated already


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    out = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            out.append({"field": str(item.get("key") or item.get("source") or ""),
                        "message": _validation_message(str(item.get("message", "")))})
    return out


def _unique_violation(exc: BaseException) -> bool:
    for error in (exc, exc.__cause__, exc.__context__):
        if error is None:
            continue
        if type(error).__name__ == "UniqueViolationError":  # asyncpg
            return True
        if isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error):
            return True
    return False


def _nul_in_text(exc: BaseException) -> bool:
    """PostgreSQL stores no NUL character in text (SQLite would); a request carrying one is
    refused as invalid input rather than failing as a server error."""
    for error in (exc, exc.__cause__, exc.__context__):
        if error is not None and type(error).__name__ in ("CharacterNotInRepertoireError", "UntranslatableCharacterError"):
            return True
    return False


def _db_unavailable(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    if isinstance(exc, (ConnectionError, OSError)):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        # "locked": a writer held the file past the busy timeout (a restore, a stuck process).
        return any(s in str(exc) for s in ("unable to open", "disk I/O", "readonly database", "database is locked"))
    return bool(names & {"ConnectionDoesNotExistError", "CannotConnectNowError", "InterfaceError", "TooManyConnectionsError"})


def exception_handler(request: Request, exc: Exception) -> Response:
    response = _error_response(request, exc)
    # A path no route matches (404, 405) is answered before any middleware runs, so the
    # security headers are set here too; the middleware leaves headers already present alone.
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name.decode(), value.decode())
    return response


def _error_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ValidationException):
        if _is_api(request):
            return api_error(422, i18n.gettext("The request is not valid."), _validation_errors(exc))
        return _error_page(request, 422, i18n.gettext("The request is not valid."))
    if isinstance(exc, DomainError):
        if _is_api(request):
            return api_error(exc.status_code, exc.message)
        return _error_page(request, exc.status_code, exc.message)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        if status == 400 and _is_api(request):
            # Litestar answers a body it cannot decode with 400 and an English developer message;
            # the API documents 422 in its one error shape, in the caller's language.
            sent_json = "json" in request.headers.get("content-type", "") or "JSON" in str(exc.detail)
            return api_error(422, i18n.gettext("The body is not valid JSON.") if sent_json
                             else i18n.gettext("The request is not valid."))
        if status == 401 and not _is_api(request):
            target = "/login?next=" + quote(request.url.path + (("?" + request.url.query) if request.url.query else ""))
            return redirect(request, target)
        message = {
            401: i18n.gettext("Sign in to continue."),
            403: i18n.gettext("You do not have permission to do this."),
            404: i18n.gettext("This page does not exist, or you may not see it."),
            405: i18n.gettext("This action is not allowed here."),
            413: i18n.gettext("What you sent is larger than the server accepts. Split the file into smaller ones and try again."),
            429: i18n.gettext("Too many attempts. Please wait and try again."),
        }.get(status, exc.detail if isinstance(exc.detail, str) else "")
        headers = dict(getattr(exc, "headers", None) or {})
        if isinstance(exc, NotAuthenticated) or status == 401:
            message = i18n.gettext("A valid API token is required.") if _is_api(request) else message
            headers.setdefault("WWW-Authenticate", "Bearer")  # RFC 6750: say which scheme to use
        if status == 403 and "CSRF" in str(exc.detail):
            message = i18n.gettext("Your form expired. Reload the page and try again.")
        if _is_api(request):
            return api_error(status, message, headers=headers or None)
        return _error_page(request, status, message)
    if _unique_violation(exc):
        # Two requests raced past a service's "already exists?" check; the database's unique
        # constraint kept the data right, and the person only needs to try again.
        message = i18n.gettext("Someone saved the same thing at the same moment. Reload the page and try again.")
        if _is_api(request):
            return api_error(409, message)
        return _error_page(request, 409, message)
    if _nul_in_text(exc):
        message = i18n.gettext("The text contains an invisible NUL character, which cannot be saved. Remove it and try again.")
        if _is_api(request):
            return api_error(422, message)
        return _error_page(request, 422, message)
    if _db_unavailable(exc):
        log.warning("database unavailable: %s", exc)
        return _unavailable(request)
    log.exception("unhandled error on %s", request.url.path)
    if _is_api(request):
        return api_error(500, i18n.gettext("Something went wrong on our side."))
    return _error_page(request, 500, i18n.gettext("Something went wrong on our side."))


RETRY_AFTER_S = 30


def _unavailable(request: Request) -> Response:
    """The database is out of reach: 503 in the reader's language, asking to come back.

    The account's language cannot be read now, so an unknown reader gets the language cookie
    (set at sign-in) or the browser's. Nothing here touches the database, and the app keeps no
    broken state: the next request after the database returns is served normally."""
    if not getattr(request.scope.get("user"), "is_person", False):
        language = _cookie(request.scope, LANGUAGE_COOKIE)
        if language not in LANGUAGES:
            language = i18n.negotiate(_header(request.scope, b"accept-language")) or get_settings().default_language
        i18n.set_language(language)  # this request's context only: the error page is rendered after the middleware
    message = i18n.gettext("The service is temporarily unavailable. Try again in a minute.")
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if _is_api(request):
        return api_error(503, message, headers=headers)
    context = {"status": 503, "message": message, "actor": request.scope.get("user") or NOBODY,
               "retry_after": RETRY_AFTER_S, "again": request.url.path if request.method == "GET" else "/"}
    if getattr(request, "htmx", False):
        return Template(template_name="errors/_message.html", context=context, status_code=503, headers=headers,
                        media_type=MediaType.HTML)
    # Refresh: the browser reloads the page by itself (no script under our CSP).
    headers["Refresh"] = str(RETRY_AFTER_S) if request.method == "GET" else f"{RETRY_AFTER_S}; url=/"
    return Template(template_name="errors/unavailable.html", context=context, status_code=503, headers=headers,
                    media_type=MediaType.HTML)


def _error_page(request: Request, status: int, message: str) -> Response:
    context = {"status": status, "message": message, "actor": request.scope.get("user") or NOBODY}
    if getattr(request, "htmx", False):
        return Template(template_name="errors/_message.html", context=context, status_code=status, media_type=MediaType.HTML)
    return Template(template_name="errors/page.html", context=context, status_code=status, media_type=MediaType.HTML)


EXCEPTION_HANDLERS = {Exception: exception_handler, NotFoundException: exception_handler}
