"""For the `piccolo` command run from the repository root; the app itself uses
servicechain.piccolo_conf (set as PICCOLO_CONF by the servicechain package)."""

from servicechain.piccolo_conf import APP_REGISTRY, DB  # noqa: F401
