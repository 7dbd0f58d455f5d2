"""Fill Russian translations from a JSON file, safely while others do the same.

    .venv/bin/python scripts/translate.py FILE.json

FILE.json maps an English msgid to its Russian text; a plural message maps its singular msgid to
a list of three forms (one, few, many); a message with a context is keyed "context\\x04msgid".
Holding a lock on the catalog, the script re-extracts every string (`make messages`), fills in
what the file gives, writes the catalog and compiles it. Several people working on one tree
can therefore translate their own strings without overwriting each other's.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "locale" / "ru" / "LC_MESSAGES" / "messages.po"
LOCK = ROOT / "locale" / ".lock"


def main(path: str) -> int:
    from babel.messages.pofile import read_po, write_po

    given: dict[str, str | list[str]] = json.loads(Path(path).read_text(encoding="utf-8"))
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "-s", "messages"], cwd=ROOT, check=True)
        with CATALOG.open("rb") as handle:
            catalog = read_po(handle, locale="ru")
        filled, unknown = 0, []
        for key, text in given.items():
            context, _, msgid = key.rpartition("\x04")
            message = catalog.get(msgid, context=context or None)
            if message is None:
                unknown.append(key)
                continue
            if isinstance(message.id, (list, tuple)):
                if not isinstance(text, list) or len(text) != 3:
                    raise SystemExit(f"{msgid!r} is plural: give three Russian forms")
                message.string = tuple(text)
            else:
                message.string = text
            filled += 1
        with CATALOG.open("wb") as handle:
            write_po(handle, catalog, ignore_obsolete=True)
        subprocess.run(["make", "-s", "compile-messages"], cwd=ROOT, check=True)
    print(f"{filled} translations filled")
    for key in unknown:
        print(f"not in the code (yet): {key!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
