"""HTTP triggers through a real server: prefix, routes and constraints, methods, keys, and the
worker's HttpRequest/HttpResponse semantics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devhost.errors import DevhostError
from devhost.http import parse_route
from devhost.keys import load_keys
from tests.devhost.host_support import RunningHost


def function_key(host: RunningHost, name: str) -> str:
    assert host.host.keys is not None
    return host.host.keys.function_key(name)


def test_route_prefix_from_host_json_is_honoured(devhost: RunningHost) -> None:
    assert devhost.request("GET", "/v1/ping").body == b"pong"
    assert devhost.request("GET", "/api/ping").status == 404


def test_a_str_return_is_a_200_text_body(devhost: RunningHost) -> None:
    response = devhost.request("GET", "/v1/ping")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")


def test_int_constraint_routes_numbers_and_alpha_constraint_routes_words(
    devhost: RunningHost,
) -> None:
    by_id = devhost.request(
        "GET", "/v1/items/42", headers={"x-functions-key": function_key(devhost, "item_by_id")}
    )
    assert by_id.json() == {"function": "item_by_id", "route_params": {"id": "42"}}
    by_name = devhost.request(
        "GET", "/v1/items/apple", params={"code": function_key(devhost, "item_by_name")}
    )
    assert by_name.json() == {"function": "item_by_name", "route_params": {"name": "apple"}}


def test_a_value_no_constraint_accepts_is_404(devhost: RunningHost) -> None:
    master = {"x-functions-key": devhost.host.keys.master if devhost.host.keys else ""}
    assert devhost.request("GET", "/v1/items/4x2", headers=master).status == 404
    # maxlength(8) on the alpha route
    assert devhost.request("GET", "/v1/items/abcdefghi", headers=master).status == 404


def test_a_literal_segment_wins_over_a_parameter(devhost: RunningHost) -> None:
    assert devhost.request("GET", "/v1/items/special").json() == {"function": "special_item"}


def test_optional_parameter_may_be_left_out(devhost: RunningHost) -> None:
    assert devhost.request("GET", "/v1/pages/intro").json() == {
        "route_params": {"section": "intro"}
    }
    assert devhost.request("GET", "/v1/pages/intro/3").json() == {
        "route_params": {"section": "intro", "page": "3"}
    }
    assert devhost.request("GET", "/v1/pages/intro/three").status == 404


def test_catch_all_takes_the_rest_of_the_path_decoded(devhost: RunningHost) -> None:
    response = devhost.request("GET", "/v1/files/a/b%20c/d.txt")
    assert response.json() == {"route_params": {"path": "a/b c/d.txt"}}


def test_a_method_the_function_does_not_declare_is_404(devhost: RunningHost) -> None:
    assert devhost.request("POST", "/v1/ping").status == 404
    assert devhost.request("DELETE", "/v1/echo/x").status == 404


def test_function_level_needs_a_key_of_that_function_or_the_host(devhost: RunningHost) -> None:
    keys = devhost.host.keys
    assert keys is not None
    assert devhost.request("GET", "/v1/items/1").status == 401
    assert devhost.request("GET", "/v1/items/1", params={"code": "wrong"}).status == 401
    other = keys.function_key("item_by_name")
    assert devhost.request("GET", "/v1/items/1", params={"code": other}).status == 401
    for key in (keys.function_key("item_by_id"), keys.host["default"], keys.master):
        assert devhost.request("GET", "/v1/items/1", params={"code": key}).status == 200


def test_admin_level_needs_the_master_key(devhost: RunningHost) -> None:
    keys = devhost.host.keys
    assert keys is not None
    for key in (keys.function_key("admin_stats"), keys.host["default"]):
        assert devhost.request("GET", "/v1/admin/stats", params={"code": key}).status == 401
    response = devhost.request("GET", "/v1/admin/stats", headers={"x-functions-key": keys.master})
    assert response.status == 200


def test_keys_file_is_created_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = load_keys(path, ["a"])
    second = load_keys(path, ["a", "b"])
    assert second.master == first.master
    assert second.function_key("a") == first.function_key("a")
    assert second.function_key("b") not in (first.master, first.function_key("a"))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert set(json.loads(path.read_text())["functionKeys"]) == {"a", "b"}


def test_request_reaches_the_function_as_the_worker_builds_it(devhost: RunningHost) -> None:
    response = devhost.request(
        "POST",
        "/v1/echo/first",
        params={"q": "1"},
        headers={"X-Custom": "yes", "Content-Type": "application/json"},
        body=json.dumps({"a": 1}),
    )
    assert response.status == 201
    document = response.json()
    assert document["method"] == "POST"
    assert document["url"] == f"{devhost.base_url}/v1/echo/first?q=1"
    assert document["route_params"] == {"tag": "first"}
    assert document["params"] == {"q": "1"}
    assert document["header"] == "yes"
    assert document["json"] == {"a": 1}


def test_response_status_headers_and_cookies_come_back(devhost: RunningHost) -> None:
    response = devhost.request("PUT", "/v1/echo/second", body=b"plain")
    assert response.status == 201
    assert response.headers["X-Echo"] == "second"
    assert response.headers["Content-Type"] == "application/json"
    assert "session=abc" in response.headers["Set-Cookie"]
    assert response.json()["body"] == "plain"


def test_repeated_query_parameters_are_joined_with_commas(devhost: RunningHost) -> None:
    response = devhost.request("POST", "/v1/echo/q?tag=a&tag=b", body=b"")
    assert response.json()["params"] == {"tag": "a,b"}


def test_a_named_http_output_is_the_response(devhost: RunningHost) -> None:
    response = devhost.request("GET", "/v1/named-output")
    assert (response.status, response.body) == (202, b"from a named output")


def test_no_response_is_204(devhost: RunningHost) -> None:
    assert devhost.request("GET", "/v1/nothing").status == 204


def test_context_parameter_gets_the_invocation(devhost: RunningHost) -> None:
    document = devhost.request("GET", "/v1/context").json()
    assert document["function"] == "with_context"
    assert len(document["invocation_id"]) == 36


def test_a_failing_function_is_500_and_logs_one_failed_line(
    devhost: RunningHost, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="devhost.invocations"):
        assert devhost.request("GET", "/v1/broken").status == 500
        assert devhost.request("GET", "/v1/ping").status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "devhost.invocations"]
    assert len(lines) == 2
    assert lines[0].startswith("Executed 'Functions.broken' (Failed, Id=")
    assert "Duration=" in lines[0] and "this function always fails" in lines[0]
    assert lines[1].startswith("Executed 'Functions.ping' (Succeeded, Id=")


def test_unknown_route_constraint_names_the_function() -> None:
    with pytest.raises(DevhostError, match=r"function 'f'.*constraint 'bogus'"):
        parse_route("a/{id:bogus}", where="function 'f'")


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("a/{id:guid}", "a/0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("a/{id:guid}", "a/nope", False),
        ("a/{n:range(1,5)}", "a/5", True),
        ("a/{n:range(1,5)}", "a/6", False),
        ("a/{flag:bool}", "a/True", True),
        ("a/{code:regex(^[a-z]{{2}}\\d$)}", "a/ab1", True),
        ("a/{code:length(3)}", "a/abcd", False),
        ("a/{name}.{ext}", "a/report.pdf", True),
        ("a/{id=7}", "a", True),
        ("A/b", "a/B", True),
    ],
)
def test_route_constraints(template: str, path: str, expected: bool) -> None:
    assert (parse_route(template, where="f").match(path) is not None) is expected
