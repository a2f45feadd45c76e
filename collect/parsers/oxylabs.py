"""The Oxylabs Web Scraper API envelope: `{"results": [{"content": ...}], "job": {}}`.

Oxylabs answers HTTP 200 even when the job failed; the failure is inside, in the
result's `status_code` (6xx are Oxylabs' own fault codes, e.g. 613 "faulted after
retries") with `content: ""`. `unwrap_result` turns that into FaultedJob so that the
caller never mistakes a failed job for an empty page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collect.errors import FaultedJob, ParseError
from collect.parsers.jsonbody import load_object

# Below 600 the status is the target site's HTTP status; these may pass on retry.
_RETRYABLE_TARGET_STATUSES = frozenset({408, 425, 429})
# An API error message is quoted in ours, cut to keep one event line short.
_MAX_QUOTED = 200


@dataclass(frozen=True, slots=True)
class OxylabsResult:
    """The first result of an answer: `content` is HTML (str) or parsed JSON."""

    content: str | dict | list
    status_code: int | None
    url: str | None
    job_id: str | None
    page: int | None


def unwrap_result(body: bytes | dict) -> OxylabsResult:
    """results[0] of an Oxylabs realtime answer.

    Raises FaultedJob when Oxylabs reports the job as failed (status >= 600 or
    empty content) and ParseError (stage "api") when the body is not an answer.
    """
    answer = load_object(body, "Oxylabs")
    entry = _first_result(answer)
    status = _as_int(entry.get("status_code"))
    content = entry.get("content")
    job_id = _job_id(answer, entry)

    if status is not None and status >= 600:
        raise _faulted(f"Oxylabs job {job_id} faulted (status {status})", status)
    if content is None or content == "" or content == {} or content == []:
        raise _faulted(
            f"Oxylabs job {job_id} returned no content (status {status})", status
        )
    if not isinstance(content, str | dict | list):
        raise ParseError(
            f"Oxylabs content is {type(content).__name__}, not HTML or JSON",
            stage="api",
        )
    return OxylabsResult(
        content=content,
        status_code=status,
        url=_as_str(entry.get("url")),
        job_id=job_id,
        page=_as_int(entry.get("page")),
    )


def _first_result(answer: Mapping[str, Any]) -> Mapping[str, Any]:
    results = answer.get("results")
    if isinstance(results, list) and results and isinstance(results[0], Mapping):
        return results[0]
    if results is None and "content" in answer and "status_code" in answer:
        # A single result entry saved on its own, without the envelope.
        return answer
    message = answer.get("message")
    detail = f": {str(message)[:_MAX_QUOTED]}" if isinstance(message, str) else ""
    raise ParseError(f"Oxylabs answer has no results{detail}", stage="api")


def _faulted(message: str, status: int | None) -> FaultedJob:
    error = FaultedJob(message)
    # A 4xx from the target (bad URL, unknown page) fails the same way next time.
    error.retryable = not (
        status is not None
        and 400 <= status < 500
        and status not in _RETRYABLE_TARGET_STATUSES
    )
    return error


def _job_id(answer: Mapping[str, Any], entry: Mapping[str, Any]) -> str | None:
    job = answer.get("job")
    from_job = job.get("id") if isinstance(job, Mapping) else None
    return _as_str(entry.get("job_id")) or _as_str(from_job)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _as_str(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None
