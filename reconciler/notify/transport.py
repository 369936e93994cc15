"""One HTTP POST to a notification service, its answer sorted into delivered / retry / refused.

The edge where urllib's exceptions are translated (nothing above catches them): a 2xx is
delivered; 408, 425, 429, any 5xx and every network failure or timeout are worth retrying;
any other answer is the service refusing this request for good. Redirects are not followed:
a redirect would carry a token to wherever it points. Messages name the status code or the
network error, never the URL (a Slack or webhook URL is itself a credential).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_SECONDS = 10.0  # per attempt: a slow service delays the others by at most this
_RETRIED_CODES = frozenset({408, 425, 429})
_ANSWER_LIMIT = 4096  # bytes of an answer kept (GitLab says why it refused in its body)


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the URL or the headers: both may hold secrets
        return f"Request(<{len(self.body)} bytes>)"


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300

    @property
    def worth_retrying(self) -> bool:
        return self.status in _RETRIED_CODES or self.status >= 500


class Unreachable(Exception):
    """No answer: the network failed or the service did not answer in time."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then surfaces as the answer, refused


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(request: Request, timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST `request`; its answer, or `Unreachable`."""
    headers = {"Content-Type": "application/json", **request.headers}
    outgoing = urllib.request.Request(request.url, request.body, headers, method="POST")
    try:
        with _OPENER.open(outgoing, timeout=timeout) as response:
            return Answer(response.status, _text(response.read(_ANSWER_LIMIT)))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, _text(exc.read(_ANSWER_LIMIT)))
    except urllib.error.URLError as exc:
        raise Unreachable(f"unreachable: {_reason(exc.reason)}") from None
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise Unreachable(f"unreachable: {_reason(exc)}") from None
    except ValueError:  # a malformed URL (from the environment): never quoted
        raise Unreachable("unreachable: the URL is not valid") from None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    if isinstance(reason, BaseException):
        return type(reason).__name__
    return "the request could not be made"  # urllib's own words may quote the URL
