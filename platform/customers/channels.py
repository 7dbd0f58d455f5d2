"""Where a customer met the company: one list for scores, scorecards and audits."""

from __future__ import annotations

from servicechain.platform.i18n import lazy_gettext as _

# code → label; codes are stored and accepted by the import and the API, labels are shown.
CHANNELS: dict[str, object] = {
    "phone": _("Phone"),
    "chat": _("Chat"),
    "email": _("Email"),
    "courier": _("Courier"),
    "store": _("Store"),
}
