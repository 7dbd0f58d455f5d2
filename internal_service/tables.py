"""Internal service: what departments provide each other, and how the receivers rate it.

Ratings keep the rater's and the provider's department as they were on the day of the rating,
so moving people or services later does not move old figures between cells of the matrix.
"""

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from servicechain.platform.people.tables import Department, Person

CRITERIA = ("speed", "quality", "courtesy", "willingness")


class InternalService(Table, tablename="internal_service"):
    """One service a department provides; ``for_all`` or the departments in ServiceAudience."""

    provider = ForeignKey(references=Department, index=True)
    name_en = Varchar(length=200)
    name_ru = Varchar(length=200)
    description_en = Text(default="")
    description_ru = Text(default="")
    for_all = Boolean(default=True)
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ServiceAudience(Table, tablename="internal_service_audience"):
    """A department (and everything below it) the service is provided to."""

    service = ForeignKey(references=InternalService, index=True)
    department = ForeignKey(references=Department, index=True)


class RatingRound(Table, tablename="internal_service_round"):
    """A survey round HR launches; the minimum group size is copied at launch so figures of a
    round keep the protection they were collected under."""

    title = Varchar(length=200)
    opens_on = Date()
    closes_on = Date()
    min_group_size = Integer()
    created_by = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()
    # HR may close a round before ``closes_on``; from then on it refuses ratings.
    closed_at = Timestamptz(null=True, default=None)
    closed_by = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.set_null)


class Rating(Table, tablename="internal_service_rating"):
    """One person's rating of a service. Unique per (rater, service, request) when a request is
    named, else per (rater, service, round): partial unique indexes in the migration."""

    service = ForeignKey(references=InternalService, index=True)
    rater = ForeignKey(references=Person, index=True)
    rater_department = ForeignKey(references=Department, index=True)
    provider_department = ForeignKey(references=Department, index=True)
    round = ForeignKey(references=RatingRound, null=True, default=None, index=True)
    request_ref = Varchar(length=100, null=True, default=None)
    overall = Integer()
    speed = Integer()
    quality = Integer()
    courtesy = Integer()
    willingness = Integer()
    comment = Text(default="")
    may_contact = Boolean(default=False)
    rated_on = Date(index=True)
    created_at = Timestamptz()


class FollowUp(Table, tablename="internal_service_follow_up"):
    """Opened by a low rating for the head of the rated department; never names the rater."""

    rating = ForeignKey(references=Rating, unique=True)
    provider_department = ForeignKey(references=Department, index=True)
    status = Varchar(length=16, default="open", index=True)
    response = Text(default="")
    resolution = Text(default="")
    resolved_by = ForeignKey(references=Person, null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class MonthlySummary(Table, tablename="internal_service_monthly"):
    """The ratings of one month, one rater department, one providing department, one service and
    one round (0: rated by request, outside rounds), added up. Kept in the transaction that
    saves each rating (``summary.add_rating``), rebuilt from the ratings after bulk loads
    (``summary.rebuild``); the matrix, scorecards and the index read it instead of every rating.

    ``raters`` lists the distinct people behind the row as ",12,40,": suppression needs to know
    who they are when a figure stands for fewer than the minimum, and a figure made of several
    rows has at least as many people as its largest row."""

    month = Date()
    rater_department = Integer()
    provider_department = Integer()
    service = Integer()
    round = Integer(default=0)
    ratings = Integer(default=0)
    overall = Integer(default=0)
    speed = Integer(default=0)
    quality = Integer(default=0)
    courtesy = Integer(default=0)
    willingness = Integer(default=0)
    people = Integer(default=0)
    raters = Text(default=",")
