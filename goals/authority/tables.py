"""Delegated authority: what may be done without asking (scopes), who holds how much of it
(grants, flowing down from one root grant per scope), and what was done with it (uses).

Amounts are whole kopecks for monetary scopes, whole units for counted ones.
"""

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from servicechain.platform.people.tables import Person

KINDS = ("money", "count")
PERIODS = ("month", "quarter")


class AuthorityScope(Table, tablename="authority_scope"):
    code = Varchar(length=64, unique=True)
    name_en = Varchar(length=200)
    name_ru = Varchar(length=200)
    kind = Varchar(length=8, default="money")  # money (kopecks) or count
    # Counted scopes name their unit in each language as plural forms split by "|":
    # "delivery|deliveries" and "доставка|доставки|доставок" (one, few, many).
    unit = Varchar(length=32, default="")
    unit_ru = Varchar(length=100, default="")
    active = Boolean(default=True)


class AuthorityGrant(Table, tablename="authority_grant"):
    """A grantor's authority handed to a grantee, never more than the grantor holds.

    The root grant of a scope has no grantor and no parent. `path` ("/1/7/12/") lists the chain
    from the root, so "every grant delegated from this one" is one prefix match.
    """

    scope = ForeignKey(references=AuthorityScope, index=True)
    grantor = ForeignKey(references=Person, null=True, default=None, index=True)
    grantee = ForeignKey(references=Person, index=True)
    parent = ForeignKey(references="self", null=True, default=None, index=True)
    path = Varchar(length=500, default="/", index=True)
    depth = Integer(default=0)
    per_case_limit = Integer()
    budget = Integer()
    period = Varchar(length=8, default="month")
    valid_from = Date()
    valid_until = Date(null=True, default=None)  # open-ended only for root grants
    may_redelegate = Boolean(default=False)
    # The goal this authority serves. No foreign key: goals are built in their own app.
    goal_id = Integer(null=True, default=None)
    note = Text(default="")
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = Integer(null=True, default=None)


class AuthoritySpent(Table, tablename="authority_spent"):
    """How much of a grant's budget its own uses and those of the grants below it consumed in
    one period. Kept as a running total so checking a budget is one row, not a sum over uses."""

    grant_id = ForeignKey(references=AuthorityGrant, index=True)
    period_start = Date()
    key = Varchar(length=40, unique=True)  # "<grant>:<period start>"
    spent = Integer(default=0)


class AuthorityUse(Table, tablename="authority_use"):
    grant_id = ForeignKey(references=AuthorityGrant, index=True)
    grant_path = Varchar(length=500, default="/")  # the chain at the time, for per-case sums
    scope = ForeignKey(references=AuthorityScope, index=True)
    grantee = ForeignKey(references=Person, index=True)
    # Kept so customer scores on the same case can be joined later.
    case_ref = Varchar(length=200, index=True)
    customer = Varchar(length=300, default="")
    amount = Integer()
    action = Text(default="")  # what was done
    used_on = Date(index=True)
    # "<sender>:<request id>" of an API request (the sender: "t<token id>", or "p<person id>"),
    # so a retry records nothing new.
    request_key = Varchar(length=250, null=True, default=None, unique=True)
    request_hash = Varchar(length=64, default="")
    remaining_after = Integer(null=True, default=None)  # the answer given the first time
    escalation_id = Integer(null=True, default=None)
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None)


class EscalationRequest(Table, tablename="authority_escalation"):
    """A case over the requester's limit, put to the grantor of their grant: approved, it is
    recorded as a use of the grantor's own grant."""

    grant_id = ForeignKey(references=AuthorityGrant, index=True)
    requester = ForeignKey(references=Person, index=True)
    approver = ForeignKey(references=Person, index=True)
    case_ref = Varchar(length=200)
    customer = Varchar(length=300, default="")
    amount = Integer()
    action = Text(default="")
    used_on = Date()
    reason = Text(default="")
    status = Varchar(length=12, default="pending", index=True)  # pending, approved, declined
    created_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Integer(null=True, default=None)
    use_id = Integer(null=True, default=None)
