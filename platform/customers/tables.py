"""Customer scores and the follow-ups of low ones.

A score keeps the department and the employee as they were on the day it was given (resolved
through the assignment history when it is stored), so a later reorganisation or transfer never
moves old scores between teams. ``source`` + ``external_id`` is unique (a raw index in the
migration): the same score sent twice is recognised, by ``fingerprint``, as the same.
"""

from piccolo.columns import Boolean, Bytea, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from servicechain.platform.people.tables import Department, Person

OUTCOMES = ("called_back", "resolved", "compensated")
STATUSES = ("open", "closed")


class CustomerScore(Table, tablename="customer_score"):
    source = Varchar(length=100)
    external_id = Varchar(length=200)
    given_on = Date()
    channel = Varchar(length=16)
    case_ref = Varchar(length=200, default="")
    department = ForeignKey(references=Department)
    employee = ForeignKey(references=Person, null=True, default=None)
    csat = Integer(null=True, default=None)  # 1–5
    csat_good = Boolean(null=True, default=None)  # a good/bad scale instead of 1–5
    nps = Integer(null=True, default=None)  # 0–10
    low = Boolean(default=False)  # CSAT ≤ 3, "bad" or NPS ≤ 6: it opened a follow-up
    comment = Text(default="")
    # A hash of the content as sent, so a replay is told apart from a changed score.
    fingerprint = Varchar(length=32, default="")
    created_at = Timestamptz()


class ScoreFollowUp(Table, tablename="customer_follow_up"):
    """Opened by a low score for the team's manager at the time (or a chosen person)."""

    score = ForeignKey(references=CustomerScore)
    department = ForeignKey(references=Department)
    assignee = ForeignKey(references=Person, null=True, default=None)
    due_at = Timestamptz()
    status = Varchar(length=12, default="open")
    outcome = Varchar(length=16, default="")
    note = Text(default="")
    # The authority use that made it right; no foreign key: authority is another app's table.
    authority_use = Integer(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    closed_by = Integer(null=True, default=None)
    reminded_at = Timestamptz(null=True, default=None)  # the overdue reminder went out
    created_at = Timestamptz()


class ScoreUpload(Table, tablename="customer_score_upload"):
    """A scores file between the steps of the web import; only its uploader may open it, and it
    is deleted a day after upload (the file may hold customers' comments)."""

    token = Varchar(length=64, unique=True)
    uploader = ForeignKey(references=Person)
    filename = Varchar(length=255)
    sheet = Varchar(length=100, default="")
    source = Varchar(length=100, default="")
    content = Bytea()
    created_at = Timestamptz()
    applied_at = Timestamptz(null=True, default=None)
    result = Text(default="")
