"""servicechain: one import package whose subpackages live in top-level folders.

`platform/` deliberately has no ``__init__.py`` (a regular package there would shadow the
standard library's ``platform`` whenever the repository root is on ``sys.path``), so it is a
namespace portion. An editable install maps ``servicechain.platform`` to that folder but its
finder only resolves regular packages; adding the repository root to our search path lets the
import system find the namespace portion itself.
"""

import os

__path__.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # type: ignore[name-defined]

# Piccolo finds its configuration by module name; ours lives inside the package so the
# installed `servicechain` command finds it from any working directory.
os.environ.setdefault("PICCOLO_CONF", "servicechain.piccolo_conf")
