"""Engagement pulses: templates, pulses, who takes part, and answers that name nobody.

Anonymity is decided by what these tables can and cannot say:

- ``PulseParticipant`` knows who was asked and whether they answered (for reminders and one
  answer per person). It holds no answer, no time and no link to one.
- ``PulseSealedAnswer`` is the buffer of a running pulse: each answer encrypted with a key only
  the application holds (derived from ``SERVICECHAIN_SECRET_KEY``), under a random id. It is
  written in the same transaction as the participant's "answered" mark, so a crash never leaves
  one without the other; that transaction shares its id (PostgreSQL's ``xmin``) with the mark,
  but what it links to is a sealed blob nobody reading the tables can open.
- ``PulseAnswer`` holds the answers in the open, written only when the pulse closes, all of a
  pulse's answers in one transaction, in random order, each under a random UUID: no sequence,
  no time, no row order or transaction id that follows the order people answered in. An answer
  carries only its department from the tree snapshotted at launch (``PulseDepartment``),
  generalised at close so every department an answer names stands for at least the pulse's
  minimum group size of answers.
- ``PulseSummary`` adds up each snapshot department's answers (sums per item, the eNPS
  histogram), written in the same closing transaction, so results read a few hundred rows
  instead of every answer.
"""

from piccolo.columns import UUID, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from servicechain.platform.people.tables import Department, Person

TRAITS = ("company", "people", "goals", "reward")


class SurveyTemplate(Table, tablename="survey_template"):
    """A questionnaire. The default ships with the product; HR edits copies of it."""

    name_en = Varchar(length=200)
    name_ru = Varchar(length=200)
    is_default = Boolean(default=False)
    based_on = Integer(null=True, default=None)
    active = Boolean(default=True)
    created_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()


class SurveyItem(Table, tablename="survey_item"):
    """A statement answered on 1-5, mapped to one of the four traits (:data:`TRAITS`)."""

    template = ForeignKey(references=SurveyTemplate, index=True)
    position = Integer()
    trait = Varchar(length=16)
    text_en = Varchar(length=500)
    text_ru = Varchar(length=500)


class Pulse(Table, tablename="pulse"):
    """One survey run. Items, the audience, the department tree and the minimum group size are
    copied at launch, so nothing done later changes what an answer can reveal."""

    title = Varchar(length=200)
    template = ForeignKey(references=SurveyTemplate, null=True, default=None)
    opens_on = Date()
    closes_on = Date(index=True)
    min_group_size = Integer()
    audience_all = Boolean(default=True)
    status = Varchar(length=16, default="open", index=True)  # open, closed
    invited = Integer(default=0)
    answers = Integer(default=0)  # answers published at close
    discarded = Integer(default=0)  # answers dropped at close: fewer than the minimum in all
    created_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)


class PulseItem(Table, tablename="pulse_item"):
    pulse = ForeignKey(references=Pulse, index=True)
    position = Integer()
    trait = Varchar(length=16)
    text_en = Varchar(length=500)
    text_ru = Varchar(length=500)


class PulseAudience(Table, tablename="pulse_audience"):
    """The departments (with everything below them) a pulse was launched for, when not everyone."""

    pulse = ForeignKey(references=Pulse, index=True)
    department = ForeignKey(references=Department)


class PulseDepartment(Table, tablename="pulse_department"):
    """The department tree as it was at launch: the only way to cut a pulse's results."""

    pulse = ForeignKey(references=Pulse, index=True)
    source = Integer()  # the department's id at launch
    parent = Integer(null=True, default=None)  # a pulse_department id
    name_en = Varchar(length=200)
    name_ru = Varchar(length=200)
    path = Varchar(length=1000)  # pulse_department ids, "/1/4/9/"
    depth = Integer(default=0)


class PulseParticipant(Table, tablename="pulse_participant"):
    """Who was asked, and whether they have answered: never what, never when."""

    pulse = ForeignKey(references=Pulse, index=True)
    person = ForeignKey(references=Person, index=True)
    department = ForeignKey(references=PulseDepartment)
    answered = Boolean(default=False)
    reminded_on = Date(null=True, default=None)


class PulseSealedAnswer(Table, tablename="pulse_sealed_answer"):
    """A running pulse's answer, encrypted; opened and deleted when the pulse closes."""

    id = UUID(primary_key=True)
    pulse = ForeignKey(references=Pulse, index=True)
    sealed = Text()


class PulseAnswer(Table, tablename="pulse_answer"):
    """One published answer: no person, no time, a random id, a snapshot department."""

    id = UUID(primary_key=True)
    pulse = ForeignKey(references=Pulse, index=True)
    department = ForeignKey(references=PulseDepartment, index=True)
    scores = Text()  # JSON {item position: 1-5}
    enps = Integer()
    comment = Text(default="")


class PulseSummary(Table, tablename="pulse_summary"):
    """The counts behind one snapshot department's own published answers: how many, per item
    the sum and count of scores, and the eNPS histogram. One row per department, written when
    the pulse closes, so results read a few hundred rows instead of every answer."""

    pulse = ForeignKey(references=Pulse, index=True)
    department = ForeignKey(references=PulseDepartment)
    n = Integer()
    items = Text()  # JSON {position: [sum, count]}
    enps = Text()  # JSON [count of 0, …, count of 10]
