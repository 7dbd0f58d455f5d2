"""The yardstick: a bare Litestar + Jinja app that renders the same finished HTML our page
produced, with no database, sessions or middleware. `bench/web.py` compares against it."""

import os
from pathlib import Path

from jinja2 import Environment
from litestar import Litestar, get
from litestar.response import Template
from litestar.template.config import TemplateConfig
from litestar.plugins.jinja import JinjaTemplateEngine

PAGES = Path(os.environ["BENCH_PAGES_DIR"])
env = Environment(autoescape=True)
env.globals["pages"] = {p.stem: p.read_text() for p in PAGES.glob("*.html")}
env.from_string("")  # warm
TEMPLATE = "{{ pages[name] | safe }}"


@get("/{name:str}")
async def page(name: str) -> Template:
    return Template(template_str=TEMPLATE, context={"name": name})


app = Litestar([page], template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(env)))
