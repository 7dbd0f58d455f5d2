"""ASGI entry point for uvicorn workers: `servicechain.platform.asgi:app`."""

import os

from servicechain.platform.app import create_app

app = create_app(run_worker=os.environ.get("SERVICECHAIN_RUN_WORKER") == "1")
