"""The application: every route is registered here, and nowhere else."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from servicechain.internal_service.controllers import InternalServiceController
from servicechain.platform.customers.quality.controllers import QualityController
from servicechain.platform import db, outbox
from servicechain.platform.accounts.controllers import AccountController, InvitationController
from servicechain.platform.api.controllers import PeopleApi
from servicechain.platform.api.schema import openapi_config
from servicechain.goals.authority.api import AuthorityApi
from servicechain.goals.authority.controllers import AuthorityController
from servicechain.platform.config import REPO_ROOT, get_settings
from servicechain.goals.controllers import GoalController
from servicechain.platform.controllers import AuditController, TokenController, healthz, home
from servicechain.platform.lib.checked_request import CheckedRequest
from servicechain.platform.customers.api import CustomerScoresApi
from servicechain.platform.customers.controllers import CustomersController, ScoreImportController
from servicechain.platform.people.controllers import DepartmentController, PeopleController
from servicechain.platform.people.importing_controllers import ImportController
from servicechain.recognition.api import RecognitionApi
from servicechain.recognition.controllers import RecognitionController, RewardController
from servicechain.platform.security import check_every_route_has_policy, policy_guard
from servicechain.platform.surveys.controllers import PulseController
from servicechain.platform.reports.controllers import ReportController
from servicechain.platform.analytics.controllers import AnalyticsController
from servicechain.platform.web import EXCEPTION_HANDLERS, request_context_middleware, template_engine

STATIC_DIR = REPO_ROOT / "static"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

ROUTES = [
    healthz,
    home,
    AccountController,
    InvitationController,
    PeopleController,
    DepartmentController,
    ImportController,
    AuditController,
    TokenController,
    PeopleApi,
    RecognitionController,
    RewardController,
    RecognitionApi,
    AuthorityController,
    AuthorityApi,
    GoalController,
    InternalServiceController,
    PulseController,
    CustomersController,
    ScoreImportController,
    CustomerScoresApi,
    QualityController,
    ReportController,
    AnalyticsController,
]


def create_app(*, run_worker: bool = False) -> Litestar:
    settings = get_settings()
    # A deployed release never edits its templates in place (an upgrade restarts the workers), so
    # production skips the file check Jinja otherwise makes for every template of every page.
    template_engine.engine.auto_reload = not settings.is_production

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.start()
        stop = asyncio.Event()
        task = asyncio.create_task(outbox.run_worker(stop)) if run_worker else None
        try:
            yield
        finally:
            stop.set()
            if task:
                await task
            await db.stop()

    static = create_static_files_router(path="/static", directories=[STATIC_DIR], opt={"policy": "public"},
                                       include_in_schema=False, name="static")
    app = Litestar(
        route_handlers=[*ROUTES, static],
        guards=[policy_guard],
        middleware=[request_context_middleware],
        plugins=[HTMXPlugin()],
        request_class=CheckedRequest,  # no control characters in form or JSON texts, on either engine
        template_config=TemplateConfig(instance=template_engine),
        csrf_config=CSRFConfig(
            secret=settings.secret_key, cookie_name="sc_csrf", cookie_secure=settings.secure_cookies,
            cookie_samesite="lax", header_name="x-csrftoken", exclude=["^/api/"],
        ),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=openapi_config(),
        include_in_schema=False,  # HTML pages are not the API; platform.api documents itself
        request_max_body_size=MAX_UPLOAD_BYTES,
        lifespan=[lifespan],
        state=State({}),
        debug=False,
        logging_config=None,
    )
    check_every_route_has_policy([r for route in app.routes for r in getattr(route, "route_handlers", [])])
    return app


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
