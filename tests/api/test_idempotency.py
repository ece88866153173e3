"""Idempotency-Key on every backend: a repeated write gets the first answer and is done once.

Also: the answer of a write is read inside the writing transaction, so nothing visits the
database between the commit and the answer. The tests that move time (a key's 24 hours, a
claim's lease) run under each clock of tests/clocks.py.
"""

from __future__ import annotations

import contextvars
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import time_machine

from commons.domain.exceptions import IdempotencyKeyInUse
from commons.domain.idempotency import LEASE
from commons.domain.principal import Principal
from commons.services import idempotency
from commons.services import time_entries as entries_service
from tests.conftest import ADMIN, Caller, make_token
from tests.counting import counted_round_trips
from time_tracker_api.idempotency import fingerprint

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
DAY = "2024-03-05"


def at(hour_minute: str) -> str:
    return f"{DAY}T{hour_minute}:00+00:00"


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


@pytest.fixture
def work(admin: Caller) -> dict[str, str]:
    customer = admin.post("/customers", json={"name": f"C {uuid.uuid4().hex[:6]}"}).json
    project = admin.post("/projects", json={"name": "Web", "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": f"A {uuid.uuid4().hex[:6]}"}).json
    return {"project_id": project["id"], "activity_id": activity["id"]}


def send(caller: Caller, method: str, path: str, key: str | None, body: Any = None) -> Any:
    headers = {HEADER: key} if key is not None else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return getattr(caller, method)(path, **kwargs)


def twice(caller: Caller, method: str, path: str, body: Any = None) -> tuple[Any, Any]:
    """The same request sent twice with one fresh key; the first answer must not be replayed."""
    key = new_key()
    first = send(caller, method, path, key, body)
    again = send(caller, method, path, key, body)
    assert REPLAYED not in first.headers
    return first, again


def assert_replayed(first: Any, again: Any, status: int) -> None:
    assert first.status_code == status, first.get_data(as_text=True)
    assert again.status_code == status, again.get_data(as_text=True)
    assert again.headers[REPLAYED] == "true"
    assert again.get_data() == first.get_data()


def entries_of(caller: Caller) -> list[dict]:
    response = caller.get(
        "/time-entries?start_date=2024-03-01T00:00:00Z&end_date=2024-04-01T00:00:00Z"
    )
    assert response.status_code == 200, response.json
    return response.json


def test_a_repeated_create_is_answered_once_and_done_once(member, work):
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    first, again = twice(member, "post", "/time-entries", body)

    assert_replayed(first, again, 201)
    assert again.content_type == "application/json"
    assert [entry["id"] for entry in entries_of(member)] == [first.json["id"]]


def test_every_write_replays_its_first_answer(admin, member, work):
    """Each write of the API, repeated with its key: the first status and body, done once."""
    customer_first, again = twice(admin, "post", "/customers", {"name": "Replayed"})
    assert_replayed(customer_first, again, 201)
    customer = customer_first.json["id"]
    assert [c["id"] for c in admin.get("/customers").json if c["name"] == "Replayed"] == [customer]
    assert_replayed(*twice(admin, "put", f"/customers/{customer}", {"description": "d"}), 200)
    for kind, body in (
        ("projects", {"name": "P", "customer_id": customer}),
        ("activities", {"name": "Replayed activity"}),
        ("project-types", {"name": "Replayed type"}),
        ("technologies", {"name": "replayed-tech"}),
    ):
        first, again = twice(admin, "post", f"/{kind}", body)
        assert_replayed(first, again, 201)
        assert_replayed(*twice(admin, "delete", f"/{kind}/{first.json['id']}"), 204)
    assert_replayed(*twice(admin, "delete", f"/customers/{customer}"), 204)

    running, again = twice(member, "post", "/time-entries", {**work, "start_date": at("08:00")})
    assert_replayed(running, again, 201)
    entry = f"/time-entries/{running.json['id']}"
    # Without the key, each repetition below would be refused (already stopped, already
    # running, not found): the replay is the first answer, not the work done again.
    assert_replayed(*twice(member, "post", f"{entry}/stop"), 200)
    assert_replayed(*twice(member, "post", f"{entry}/restart"), 200)
    assert_replayed(*twice(member, "put", entry, {"end_date": at("09:00")}), 200)
    assert_replayed(*twice(member, "delete", entry), 204)
    assert member.get(entry).status_code == 404

    invited, again = twice(admin, "post", "/users", {"email": f"{uuid.uuid4().hex}@example.com"})
    assert_replayed(invited, again, 201)
    user = f"/users/{invited.json['id']}"
    assert_replayed(*twice(admin, "post", f"{user}/roles/admin/grant"), 200)
    assert_replayed(*twice(admin, "post", f"{user}/groups/remove", {"group_name": ADMIN}), 200)
    assert_replayed(*twice(admin, "post", f"{user}/is-member-of", {"group_name": ADMIN}), 200)


def test_a_replay_keeps_the_first_answer_after_later_changes(member, work):
    key = new_key()
    started = send(member, "post", "/time-entries", key, {**work, "start_date": at("08:00")})
    stopped = member.post(f"/time-entries/{started.json['id']}/stop")
    assert stopped.status_code == 200

    again = send(member, "post", "/time-entries", key, {**work, "start_date": at("08:00")})

    assert again.status_code == 201
    assert again.json == started.json
    assert again.json["end_date"] is None  # as first answered, not as the entry is now


def test_the_same_key_with_another_request_is_refused(member, work):
    key = new_key()
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    assert send(member, "post", "/time-entries", key, body).status_code == 201

    other_body = send(member, "post", "/time-entries", key, {**body, "description": "other"})
    other_path = send(member, "post", "/customers", key, {"name": "X"})
    other_method = send(member, "delete", f"/time-entries/{uuid.uuid4()}", key)

    for response in (other_body, other_path, other_method):
        assert response.status_code == 422
        assert response.json["code"] == "idempotency_key_reused"
        assert REPLAYED not in response.headers
    assert len(entries_of(member)) == 1


def test_keys_belong_to_one_user_of_one_tenant(client, tenant, work):
    key = new_key()
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    alice = Caller(client, tenant, f"alice-{uuid.uuid4().hex[:6]}")
    bob = Caller(client, tenant, f"bob-{uuid.uuid4().hex[:6]}")
    alice_elsewhere = Caller(client, f"tenant-{uuid.uuid4()}", alice.user_id)

    answers = [send(caller, "post", "/time-entries", key, body) for caller in (alice, bob)]
    elsewhere = send(alice_elsewhere, "post", "/customers", key, {"name": "Mine"})

    assert [a.status_code for a in answers] == [201, 201]
    assert all(REPLAYED not in a.headers for a in answers)
    assert answers[0].json["id"] != answers[1].json["id"]
    assert elsewhere.status_code == 403  # a member may not create customers: done, not refused
    assert elsewhere.json["code"] == "forbidden"


def test_a_failed_request_frees_its_key(member, work):
    key = new_key()
    blocker = member.post(
        "/time-entries", json={**work, "start_date": at("09:00"), "end_date": at("11:00")}
    )
    body = {**work, "start_date": at("10:00"), "end_date": at("12:00")}
    refused = send(member, "post", "/time-entries", key, body)
    assert refused.status_code == 422
    assert member.delete(f"/time-entries/{blocker.json['id']}").status_code == 204

    done = send(member, "post", "/time-entries", key, body)

    assert done.status_code == 201, done.json
    assert REPLAYED not in done.headers


def test_a_key_in_use_is_refused_until_its_request_ends(app, client, member, work):
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    key = new_key()
    storage = app.extensions["storage"]
    principal = Principal(tenant_id=member.tenant_id, user_id=member.user_id)
    context = contextvars.copy_context()  # the first request, claimed and still running
    with app.test_request_context("/time-entries", method="POST", json=body):
        claimed = context.run(idempotency.begin, storage, principal, key, fingerprint())
    assert claimed is None

    busy = send(member, "post", "/time-entries", key, body)

    assert busy.status_code == 409
    assert busy.json["code"] == "idempotency_key_in_use"
    assert 1 <= int(busy.headers["Retry-After"]) <= LEASE.total_seconds()
    context.run(idempotency.finish, storage, None)  # the first request failed
    assert send(member, "post", "/time-entries", key, body).status_code == 201


def test_a_claim_left_by_a_dead_request_expires_with_its_lease(app, member, work, clock):
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    key = new_key()
    storage = app.extensions["storage"]
    principal = Principal(tenant_id=member.tenant_id, user_id=member.user_id)
    with app.test_request_context("/time-entries", method="POST", json=body):
        contextvars.copy_context().run(idempotency.begin, storage, principal, key, fingerprint())
    assert send(member, "post", "/time-entries", key, body).status_code == 409

    with time_machine.travel(datetime.now(UTC) + LEASE + timedelta(seconds=1), tick=True):
        done = send(member, "post", "/time-entries", key, body)

    assert done.status_code == 201, done.json
    assert len(entries_of(member)) == 1


def test_a_request_whose_claim_was_taken_over_writes_nothing(app, member, work, clock):
    """Only the claim's holder may write: a request outliving its lease is refused at commit."""
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    key = new_key()
    storage = app.extensions["storage"]
    principal = Principal(tenant_id=member.tenant_id, user_id=member.user_id)
    slow = contextvars.copy_context()
    with app.test_request_context("/time-entries", method="POST", json=body):
        slow.run(idempotency.begin, storage, principal, key, fingerprint())
    with time_machine.travel(datetime.now(UTC) + LEASE + timedelta(seconds=1), tick=True):
        taken_over = send(member, "post", "/time-entries", key, body)
    assert taken_over.status_code == 201

    with pytest.raises(IdempotencyKeyInUse):
        late = {**body, "start_date": datetime.fromisoformat(at("11:00")), "end_date": None}
        slow.run(entries_service.create_entry, storage, principal, late)

    assert [e["id"] for e in entries_of(member)] == [taken_over.json["id"]]


def test_a_key_is_remembered_for_24_hours(member, work, clock):
    key = new_key()
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    first = send(member, "post", "/time-entries", key, body)
    later = {**work, "start_date": at("11:00"), "end_date": at("12:00")}

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=23, minutes=59), tick=True):
        within = send(member, "post", "/time-entries", key, later)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=24, minutes=1), tick=True):
        after = send(member, "post", "/time-entries", key, later)

    assert first.status_code == 201
    assert within.status_code == 422 and within.json["code"] == "idempotency_key_reused"
    assert after.status_code == 201 and REPLAYED not in after.headers
    assert len(entries_of(member)) == 2


@pytest.mark.parametrize(
    "key",
    ["", " ", "a" * 256, "bad\tkey", "naïve", "\x7f"],
)
def test_a_malformed_key_is_a_400(member, work, key):
    response = send(member, "post", "/time-entries", key, {**work, "start_date": at("09:00")})

    assert response.status_code == 400
    assert response.json["code"] == "validation_error"
    assert HEADER in response.json["errors"]
    assert entries_of(member) == []


def test_a_key_is_taken_as_sent(member, work):
    """Up to 255 characters, spaces inside allowed; the quoted form is another key."""
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}
    key = new_key()
    first = send(member, "post", "/time-entries", key, body)
    quoted = send(member, "post", "/time-entries", f'"{key}"', body)
    longest = send(member, "post", "/time-entries", "k " * 127 + "k", {**body, **LATER})

    assert first.status_code == 201
    assert quoted.status_code == 422  # a new claim, for a request that overlaps the first
    assert quoted.json["code"] == "overlapping_time_entry"
    assert longest.status_code == 201


def test_reads_ignore_the_key(member, work):
    key = new_key()
    assert send(member, "get", "/time-entries/running", key).status_code == 204
    started = send(member, "post", "/time-entries", new_key(), {**work, "start_date": at("09:00")})
    running = send(member, "get", "/time-entries/running", key)
    assert running.status_code == 200 and REPLAYED not in running.headers
    assert running.json["id"] == started.json["id"]


def test_racing_requests_with_one_key_make_one_entry(served, tenant, work):
    """Twelve copies of one request at once: one is done; the others are refused as in
    progress (409) or replay its answer; no second entry, whatever the timing."""
    user = f"racer-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {make_token(tenant, user)}", HEADER: new_key()}
    body = {**work, "start_date": at("09:00"), "end_date": at("10:00")}

    def post(_: int) -> requests.Response:
        return requests.post(f"{served}/time-entries", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(post, range(12)))

    done = [a for a in answers if a.status_code == 201 and REPLAYED not in a.headers]
    replays = [a for a in answers if a.status_code == 201 and REPLAYED in a.headers]
    busy = [a for a in answers if a.status_code == 409]
    assert len(done) == 1, [(a.status_code, a.text) for a in answers]
    assert len(done) + len(replays) + len(busy) == len(answers)
    assert all(a.json()["code"] == "idempotency_key_in_use" for a in busy)
    assert all(a.content == done[0].content for a in replays)
    listed = requests.get(
        f"{served}/time-entries?start_date=2024-03-01T00:00:00Z&end_date=2024-04-01T00:00:00Z",
        headers={"Authorization": headers["Authorization"]},
        timeout=60,
    ).json()
    assert [entry["id"] for entry in listed] == [done[0].json()["id"]]


WRITES_AFTER_THE_FACT = {
    # write: (whether the entry it starts from is still running, the write)
    "create": (False, lambda m, work, entry: m.post("/time-entries", json={**work, **LATER})),
    "update": (True, lambda m, work, entry: m.put(entry, json={"description": "changed"})),
    "stop": (True, lambda m, work, entry: m.post(f"{entry}/stop")),
    "restart": (False, lambda m, work, entry: m.post(f"{entry}/restart")),
}
LATER = {"start_date": at("12:00"), "end_date": at("13:00")}


@pytest.mark.parametrize("write", sorted(WRITES_AFTER_THE_FACT))
def test_a_write_answers_from_inside_its_transaction(app, member, work, write):
    """Once the change is committed, the request asks the database nothing more: a database
    lost right after the commit cannot turn a done write into an error."""
    running, do = WRITES_AFTER_THE_FACT[write]
    first = {**work, "start_date": at("08:00"), "end_date": None if running else at("09:00")}
    entry = f"/time-entries/{member.post('/time-entries', json=first).json['id']}"
    with trips_after_the_write(app.extensions["storage"]) as after:
        response = do(member, work, entry)

    assert response.status_code in (200, 201), response.json
    assert after == []


class trips_after_the_write:
    """The round trips made after the entry's write was sent: SQL, statements after the
    write's COMMIT; Cosmos DB, requests after the entry document's write, but for releasing the
    timeline lock."""

    def __init__(self, storage: Any):
        self.storage = storage
        self.engine = getattr(storage, "engine", None)
        self.after: list[str] = []
        self.written = False

    def __enter__(self) -> list[str]:
        if self.engine is not None:
            sa.event.listen(self.engine, "commit", self._committed)
        self.counter = counted_round_trips(self.storage)
        self.trips = self.counter.__enter__()
        return self.after

    def _committed(self, connection: Any) -> None:
        self.written = self.written or any(
            trip.lstrip().upper().startswith(("INSERT INTO TIME_ENTRY", "UPDATE TIME_ENTRY"))
            for trip in self.trips
        )
        if self.written and not hasattr(self, "commit_at"):
            self.commit_at = len(self.trips)

    def __exit__(self, *exc: Any) -> None:
        self.counter.__exit__(*exc)
        if self.engine is not None:
            sa.event.remove(self.engine, "commit", self._committed)
            assert hasattr(self, "commit_at"), "the write was never committed"
            self.after.extend(self.trips[self.commit_at :])
            return
        writes = [
            i
            for i, trip in enumerate(self.trips)
            if trip.startswith(("POST", "PUT"))
            and "/colls/time_entry/docs" in trip
            and "query" not in trip
        ]
        assert writes, self.trips
        self.after.extend(
            trip
            for trip in self.trips[writes[-1] + 1 :]
            if not (trip.startswith("DELETE") and "/colls/user/docs/timeline-lock" in trip)
        )


def test_a_key_on_a_missing_route_or_method_leaves_its_404_or_405(admin):
    key = new_key()
    wrong_method = send(admin, "post", f"/activities/{uuid.uuid4()}", key, {"name": "A"})
    no_route = send(admin, "post", "/nowhere", key, {"name": "A"})
    again = send(admin, "post", "/activities", key, {"name": f"A {key}"})

    assert wrong_method.status_code == 405
    assert no_route.status_code == 404
    assert again.status_code == 201  # neither claimed the key
