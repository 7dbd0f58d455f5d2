"""When two requests race past a service's existence check, the unique constraint keeps the
data right and the person gets a clear 409, never a 500."""

import pytest
from litestar import Request

from servicechain.platform import db
from servicechain.platform.people.tables import Person
from servicechain.platform.security import utcnow
from servicechain.platform.web import _unique_violation, exception_handler


async def test_a_duplicate_that_slipped_past_the_check_is_a_409_and_saves_nothing(cast):
    now = utcnow()
    with pytest.raises(Exception) as caught:
        async with db.write():  # the cast's employee has T-005 already: the database refuses it
            await Person.insert(Person(full_name="Race", employee_number="T-005", created_at=now, updated_at=now)).run()
    assert _unique_violation(caught.value)
    request = Request(scope={"type": "http", "method": "POST", "path": "/api/v1/anything", "headers": [], "query_string": b"",
                             "server": ("testserver", 80), "scheme": "http", "root_path": "", "path_params": {}, "state": {}})
    response = exception_handler(request, caught.value)
    assert response.status_code == 409
    assert "Someone saved the same thing at the same moment" in response.content["detail"]
    assert await Person.count().where(Person.employee_number == "T-005").run() == 1
