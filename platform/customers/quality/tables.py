"""Quality checks: QA scorecards of calls and chats, and mystery-shopper audits.

Both are judged on the six criteria of the articles (:data:`CRITERIA`). A scorecard points at
the weight set it was scored with (weight sets are never changed, only superseded), and keeps
the employee's department as it was on the day of the contact, so a new weight set or a later
reorganisation does not move old figures. An audit answer copies its item's criterion and kind,
so editing a checklist later does not change old audits either.
"""

from piccolo.columns import Boolean, Date, Float, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from servicechain.platform.people.tables import Department, Person

# The six criteria of the articles, in the order they are shown.
CRITERIA = ("politeness", "culture", "objections", "needs", "knowledge", "options")
MAX_SCORE = 5  # a criterion is scored 0-5, or left out as "not applicable"


class WeightSet(Table, tablename="quality_weight_set"):
    """The criteria's weights from ``created_at`` until the next set; never updated."""

    politeness = Integer(default=1)
    culture = Integer(default=1)
    objections = Integer(default=1)
    needs = Integer(default=1)
    knowledge = Integer(default=1)
    options = Integer(default=1)
    created_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()


class Reviewer(Table, tablename="quality_reviewer"):
    """A person HR names a QA reviewer for a department and everything below it (the quality
    team's analysts): they score and see scorecards there, and record mystery-shopper audits."""

    person = ForeignKey(references=Person, index=True)
    department = ForeignKey(references=Department, index=True)
    created_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()


class Scorecard(Table, tablename="quality_scorecard"):
    """One reviewed call recording or chat transcript. ``score_*`` is 0-5, or NULL for "not
    applicable"; ``score`` is the weighted result on 0-100, computed when saved."""

    employee = ForeignKey(references=Person, index=True)
    department = ForeignKey(references=Department, null=True, default=None, index=True)
    reviewer = ForeignKey(references=Person, null=True, default=None, index=True)
    weight_set = ForeignKey(references=WeightSet)
    channel = Varchar(length=16)
    reference = Varchar(length=200, default="")
    link = Varchar(length=500, default="")
    contact_on = Date(index=True)
    score_politeness = Integer(null=True, default=None)
    score_culture = Integer(null=True, default=None)
    score_objections = Integer(null=True, default=None)
    score_needs = Integer(null=True, default=None)
    score_knowledge = Integer(null=True, default=None)
    score_options = Integer(null=True, default=None)
    comment_politeness = Text(default="")
    comment_culture = Text(default="")
    comment_objections = Text(default="")
    comment_needs = Text(default="")
    comment_knowledge = Text(default="")
    comment_options = Text(default="")
    summary = Text(default="")
    score = Float()
    created_at = Timestamptz()


class ScorecardComment(Table, tablename="quality_scorecard_comment"):
    """The one thread under a scorecard: the employee's answer and the replies to it."""

    scorecard = ForeignKey(references=Scorecard, index=True)
    author = ForeignKey(references=Person, null=True, default=None)
    body = Text()
    created_at = Timestamptz()


class Checklist(Table, tablename="quality_checklist"):
    """What a mystery shopper checks on one channel, optionally at one location (a department
    such as a dark store or pickup point, and everything below it)."""

    name_en = Varchar(length=200)
    name_ru = Varchar(length=200)
    channel = Varchar(length=16)
    location = ForeignKey(references=Department, null=True, default=None, index=True)
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ChecklistItem(Table, tablename="quality_checklist_item"):
    """One question; ``kind`` is "yes_no" or "scale" (0-5); retired items stay for old audits."""

    checklist = ForeignKey(references=Checklist, index=True)
    position = Integer(default=0)
    text_en = Varchar(length=300)
    text_ru = Varchar(length=300)
    criterion = Varchar(length=16)
    kind = Varchar(length=8, default="yes_no")
    active = Boolean(default=True)


class Audit(Table, tablename="quality_audit"):
    """One mystery-shopper visit or contact; ``score`` is the share of points earned, 0-100."""

    checklist = ForeignKey(references=Checklist, index=True)
    channel = Varchar(length=16)
    department = ForeignKey(references=Department, index=True)
    visited_on = Date(index=True)
    shopper = Varchar(length=200)
    notes = Text(default="")
    score = Float()
    recorded_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()


class AuditAnswer(Table, tablename="quality_audit_answer"):
    """An answer, with its item's criterion and kind as they were; ``points`` is 0-1."""

    audit = ForeignKey(references=Audit, index=True)
    item = ForeignKey(references=ChecklistItem, index=True)
    criterion = Varchar(length=16)
    kind = Varchar(length=8)
    value = Integer()
    points = Float()
