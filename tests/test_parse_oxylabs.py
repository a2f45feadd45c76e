"""The Oxylabs envelope: results, faulted jobs inside a 200, and broken bodies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from collect.errors import FaultedJob, ParseError
from collect.parsers.oxylabs import OxylabsResult, unwrap_result


def _body(samples: Path, name: str) -> bytes:
    return (samples / "oxylabs" / name).read_bytes()


def _captured_bodies(samples: Path) -> list[bytes]:
    """The JSON bodies of the HTTP captures (each after its headers)."""
    text = (samples / "oxylabs" / "api_error_responses.txt").read_text()
    return [m.encode() for m in re.findall(r"^\{.*\}$", text, flags=re.MULTILINE)]


@pytest.mark.parametrize(
    ("name", "status", "job_id", "page", "content_type"),
    [
        ("assembled-bestsellers-1040660.json", 200, None, 1, dict),
        ("amazon-search-parsed.json", 200, None, 1, dict),
        ("api_amazon_search_pages2_parsed.json", 200, "7508980946444499969", 1, dict),
        ("bing-search-envelope.json", 200, None, 1, dict),
    ],
    ids=["bestsellers", "amazon-search", "search-2-pages", "bing"],
)
def test_successful_answers(
    samples: Path,
    name: str,
    status: int,
    job_id: str | None,
    page: int,
    content_type: type,
) -> None:
    """results[0] comes back with its status, page and job id."""
    result = unwrap_result(_body(samples, name))
    answer = json.loads(_body(samples, name))
    expected_job = job_id or answer["results"][0].get("job_id")
    assert isinstance(result.content, content_type)
    assert (result.status_code, result.page, result.job_id) == (
        status,
        page,
        expected_job,
    )
    assert result.url == answer["results"][0]["url"]


@pytest.mark.parametrize(
    ("name", "retryable", "job_id"),
    [
        ("amazon_faulted_amazon_bestsellers_613.json", True, "7510759961429840897"),
        ("api_realtime_faulted_job.json", True, "7508979764070211585"),
        ("amazon_faulted_entry_status_400.json", False, "7510767156754136065"),
    ],
    ids=["bestsellers-613", "universal-613", "entry-400"],
)
def test_faulted_jobs(samples: Path, name: str, retryable: bool, job_id: str) -> None:
    """A failed job inside an HTTP 200 is a FaultedJob; a target 4xx is final."""
    with pytest.raises(FaultedJob) as caught:
        unwrap_result(_body(samples, name))
    assert caught.value.retryable is retryable
    assert caught.value.error_type == "api_error"
    assert job_id in str(caught.value)


def _envelope(content: object, status: int | None = 200) -> dict[str, object]:
    return {"results": [{"content": content, "status_code": status, "page": 1}]}


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(600, True), (612, True), (404, False), (400, False), (429, True), (500, True)],
    ids=["600", "612", "404", "400", "429", "500"],
)
def test_empty_content_by_status(status: int, retryable: bool) -> None:
    """Empty content fails the job; only a target 4xx makes a retry pointless."""
    with pytest.raises(FaultedJob) as caught:
        unwrap_result(_envelope("", status))
    assert caught.value.retryable is retryable


def test_fault_code_fails_even_with_content() -> None:
    """A 6xx status is a failure whatever the content says."""
    with pytest.raises(FaultedJob):
        unwrap_result(_envelope("<html>partial</html>", 613))


def test_target_404_with_content_is_passed_on() -> None:
    """A page Amazon answered 404 to is content for the parser to judge."""
    result = unwrap_result(_envelope({"results": []}, 404))
    assert result == OxylabsResult({"results": []}, 404, None, None, 1)


def test_bytes_and_dict_give_the_same_result() -> None:
    """The HTTP layer may hand over the raw body or already decoded JSON."""
    answer = _envelope("<html></html>")
    assert unwrap_result(orjson.dumps(answer)) == unwrap_result(answer)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"results": [{"content": "<html>',
        b"<html><body>502 Bad Gateway</body></html>",
        b"[1, 2]",
        b"null",
        b'{"results": []}',
        b'{"results": ["x"]}',
        b'{"job": {"status": "done"}}',
        b"\xff\xfe\x00\x00",
    ],
    ids=[
        "empty",
        "text",
        "truncated",
        "html-error-page",
        "json-list",
        "json-null",
        "no-results",
        "result-not-object",
        "job-only",
        "invalid-utf8",
    ],
)
def test_not_an_answer(body: bytes) -> None:
    """A body that is not an Oxylabs answer is a ParseError at stage api."""
    with pytest.raises(ParseError) as caught:
        unwrap_result(body)
    assert caught.value.error_stage == "api"


def test_truncated_sample(samples: Path) -> None:
    """A recorded answer cut in the middle is a ParseError, not a crash."""
    body = _body(samples, "assembled-bestsellers-1040660.json")
    with pytest.raises(ParseError):
        unwrap_result(body[: len(body) // 2])


def test_error_bodies_quote_the_api_message(samples: Path) -> None:
    """Oxylabs' own error bodies (429, 400, 401, 404, 408) name what went wrong."""
    bodies = _captured_bodies(samples)
    assert len(bodies) == 8
    for body in bodies:
        with pytest.raises(ParseError) as caught:
            unwrap_result(body)
        assert orjson.loads(body)["message"] in str(caught.value)


def test_body_is_not_quoted_in_messages() -> None:
    """A non-JSON body may echo anything (a login form): it never enters a message."""
    body = b"<html><form>user=alice password=hunter2</form></html>"
    with pytest.raises(ParseError) as caught:
        unwrap_result(body)
    assert "hunter2" not in str(caught.value)
    assert "HTML" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "error"),
    [(None, FaultedJob), ({}, FaultedJob), (42, ParseError), (True, ParseError)],
    ids=["missing", "empty-object", "number", "boolean"],
)
def test_content_of_the_wrong_type(content: object, error: type[Exception]) -> None:
    """No content is a failed job; content that is not HTML or JSON is refused."""
    with pytest.raises(error):
        unwrap_result(_envelope(content))
