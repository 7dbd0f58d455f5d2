"""Company values, peer recognition, manager rewards, reward budgets and preferences.

Feeds page by recognition id (newest first): recognitions are written in time order, so the
id is a keyset that needs no second column and no OFFSET. The composite indexes the feeds
read are created in the migration (Piccolo declares single-column indexes only).
"""

from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from servicechain.platform.people.tables import Department, Person

VISIBILITIES = ("public", "private")
REWARD_KINDS = ("bonus", "gift", "day_off", "praise", "learning", "responsibility")
# Kinds that cost money and so draw on the manager's budget; the others have no amount.
MONEY_KINDS = ("bonus", "gift", "learning")
REACTIONS = ("thanks", "applause", "heart")


class CompanyValue(Table, tablename="company_value"):
    """A value people are thanked for. Retired values stay, so old recognitions keep their names."""

    code = Varchar(length=40, unique=True)
    name_en = Varchar(length=120)
    name_ru = Varchar(length=120)
    description_en = Varchar(length=500, default="")
    description_ru = Varchar(length=500, default="")
    position = Integer(default=0)
    retired_at = Timestamptz(null=True, default=None)


class Recognition(Table, tablename="recognition"):
    sender = ForeignKey(references=Person, index=True)
    message = Text()
    story = Text(default="")  # the inspiring-service story: what happened, for which customer
    case_ref = Varchar(length=100, default="")
    public = Boolean(default=True)
    created_at = Timestamptz(index=True)
    via_token = Varchar(length=100, default="")  # the API token that posted it, if any


class RecognitionRecipient(Table, tablename="recognition_recipient"):
    """One row per recipient, with their department on the day: department feeds read history."""

    recognition = ForeignKey(references=Recognition, index=True)
    person = ForeignKey(references=Person)
    department = ForeignKey(references=Department, null=True, default=None)
    public = Boolean(default=True)


class RecognitionValue(Table, tablename="recognition_value"):
    recognition = ForeignKey(references=Recognition, index=True)
    value = ForeignKey(references=CompanyValue)
    public = Boolean(default=True)


class RecognitionReaction(Table, tablename="recognition_reaction"):
    recognition = ForeignKey(references=Recognition, index=True)
    person = ForeignKey(references=Person)
    kind = Varchar(length=16)
    key = Varchar(length=80, unique=True)  # "<recognition>:<person>:<kind>": one of each per person
    created_at = Timestamptz()


class RewardBudget(Table, tablename="reward_budget"):
    """What a manager may spend on rewards with a value from `starts_on` to `ends_on` inclusive."""

    manager = ForeignKey(references=Person, index=True)
    starts_on = Date()
    ends_on = Date()
    amount = BigInt()  # kopecks
    set_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()


class Reward(Table, tablename="reward"):
    giver = ForeignKey(references=Person, index=True)
    recipient = ForeignKey(references=Person, index=True)
    kind = Varchar(length=20)
    amount = BigInt(null=True, default=None)  # kopecks, for kinds that cost money
    reason = Text()
    value = ForeignKey(references=CompanyValue, null=True, default=None)
    recognition = ForeignKey(references=Recognition, null=True, default=None)
    goal_id = Integer(null=True, default=None)  # goals are another domain: a plain id
    from_budget = ForeignKey(references=RewardBudget, null=True, default=None, index=True)
    # The recipient's ranking of this kind when it was given (1 = favourite, null = unranked).
    preference_rank = Integer(null=True, default=None)
    # The recipient's department on the day: the metric per department reads history, as feeds do.
    department = ForeignKey(references=Department, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(index=True)


class RewardPreference(Table, tablename="reward_preference"):
    """A person's ranking of reward kinds, most valued first, as comma-separated kinds."""

    person = ForeignKey(references=Person, unique=True)
    ranking = Varchar(length=200, default="")
    note = Varchar(length=1000, default="")
    updated_at = Timestamptz()
