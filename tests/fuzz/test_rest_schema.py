"""The REST API fuzzed from its own OpenAPI schema (schemathesis) against the
real daphne backend: whatever a client sends, no answer is a 5xx.

Requests carry a writer's session and CSRF token, so writes get past CSRF to
validation and the database; every operation on a draft or a shared link is
also tried with an id that exists, so the generated bodies reach real rows."""
import contextlib
import io
import json

import httpx
import schemathesis
from hypothesis import HealthCheck, settings

from tests.support.backend import cookie_header


def api_schema():
    """The schema /api/schema/ serves, generated in-process: the tests must
    exist before the backend they run against is started (schemathesis'
    fixture-backed lazy schemas do not work with pytest 9)."""
    from drf_spectacular.generators import SchemaGenerator

    with contextlib.redirect_stderr(io.StringIO()):  # generator warnings belong to the backend's own checks
        raw = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(json.dumps(raw, default=str)))


schema = api_schema()


_writers: dict[str, dict] = {}


def writer_for(case, backend) -> dict:
    """A browser session (with a published draft when the path names one)
    per operation; a fresh one for each example of an operation that can
    sign out, delete or unpublish, so no example runs against what the last
    one destroyed."""
    destructive = case.method.upper() == "DELETE" or "sign" in case.path or "account" in case.path
    label = f"{case.method} {case.path}"
    if destructive or label not in _writers:
        _writers[label] = new_writer(backend, with_draft=bool(case.path_parameters))
    return _writers[label]


def new_writer(backend, with_draft: bool) -> dict:
    http = backend.client()
    try:
        ids = {}
        if with_draft:
            doc = http.post("/api/documents/", json={"title": "Fuzzed", "body": "A draft to throw things at."}).json()
            ids = {"document": doc["id"], "share": http.post(f"/api/documents/{doc['id']}/publish/").json()["share_id"]}
        return {"headers": {"X-CSRFToken": http.headers["X-CSRFToken"], **cookie_header(http)}, **ids}
    finally:
        http.close()


def real_ids(case, writer) -> dict:
    """The case's path parameters with the writer's own draft / share ids."""
    params = dict(case.path_parameters or {})
    for name in params:
        if "share" in name:
            params[name] = writer["share"]
        elif "document" in name or name == "id":
            params[name] = writer["document"]
    return params


@schema.parametrize()
@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_request_gets_a_server_error(case, fuzz_backend):
    writer = writer_for(case, fuzz_backend)
    call = {"base_url": fuzz_backend.url, "headers": writer["headers"], "timeout": 30}
    attempts = [case.call(**call)]
    if case.path_parameters:
        case.path_parameters = real_ids(case, writer)
        attempts.append(case.call(**call))
    for response in attempts:
        assert response.status_code < 500, (
            f"{case.method} {response.request.url} -> {response.status_code}\n{response.text[:500]}\n"
            f"backend log:\n{fuzz_backend.log.read_text()[-3000:]}")


def test_publishing_publicly_without_a_session_is_refused_not_a_crash(fuzz_backend):
    """Found by the schema fuzzer: a fuzzed sign-out left a CSRF cookie but no
    writer, and publishing to the public gallery then failed with a 500."""
    http = fuzz_backend.client()
    try:
        doc = http.post("/api/documents/", json={"title": "mine"}).json()
        token = http.headers["X-CSRFToken"]
        r = httpx.post(f"{fuzz_backend.url}/api/documents/{doc['id']}/publish/", json={"visibility": "public"},
                       headers={"X-CSRFToken": token, "Cookie": f"csrftoken={http.cookies['csrftoken']}"}, timeout=30)
        assert r.status_code in (403, 404), (r.status_code, r.text[:300])
    finally:
        http.close()
