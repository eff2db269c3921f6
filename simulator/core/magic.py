"""Magic values: markers in a request's text that steer its task, like a payment
provider's test cards. They pass unchanged through any gateway, so a gateway's handling
of failure can be tested end to end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

MARKER = re.compile(r"\[sim:([a-z0-9_:-]+)\]", re.IGNORECASE)

# marker → what it does; `musicsim serve --help` lists them.
MAGIC_VALUES = {
    "[sim:fail]": "the task fails once it has run for a while (reason: generation_failed)",
    "[sim:fail:moderation]": "the task fails as soon as it starts (reason: content moderation)",
    "[sim:fail:REASON]": "the task fails with the given reason code",
    "[sim:slow]": "the task takes four times as long in every phase",
    "[sim:stuck]": "the task starts and never finishes (until the control plane settles it)",
    "[sim:expire]": "the task's results expire one simulated minute after it succeeds, "
                    "in dialects that keep results for a limited time",
    "[sim:upstream-expired]": "the songs are made on an upstream account that then expires, so "
                              "operations that cannot cross accounts fail on them",
    "[sim:500]": "the submit answers 500 in the dialect's error shape; nothing is charged",
    "[sim:502]": "the submit answers 502 in the dialect's error shape; nothing is charged",
    "[sim:503]": "the submit answers 503 in the dialect's error shape; nothing is charged",
    "[sim:504]": "the submit answers 504 in the dialect's error shape; nothing is charged",
}

HTTP_ERRORS = {"500": 500, "502": 502, "503": 503, "504": 504}


@dataclass(frozen=True)
class Steering:
    """What a request's magic values ask of its task."""

    http_status: int | None = None
    fail: str | None = None  # reason code
    fail_early: bool = False
    slow: bool = False
    stuck: bool = False
    upstream_expired: bool = False
    expire: bool = False

    def merged(self, other: "Steering") -> "Steering":
        """Both steerings at once; where both say something, ``other`` wins."""
        if other == NO_STEERING:
            return self
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(other)
                                if getattr(other, f.name) not in (None, False)})


NO_STEERING = Steering()


def read_steering(*texts: object) -> Steering:
    """The steering named by every ``[sim:…]`` marker in the given texts."""
    found: list[str] = []
    for text in texts:
        if isinstance(text, str) and "[sim:" in text.lower():
            found.extend(m.lower() for m in MARKER.findall(text))
    if not found:
        return NO_STEERING
    status = fail = None
    early = slow = stuck = expired = expire = False
    for word in found:
        if word in HTTP_ERRORS:
            status = HTTP_ERRORS[word]
        elif word == "fail":
            fail = "generation_failed"
        elif word == "fail:moderation":
            fail, early = "content_moderation", True
        elif word.startswith("fail:"):
            fail = word[5:]
        elif word == "slow":
            slow = True
        elif word == "stuck":
            stuck = True
        elif word == "upstream-expired":
            expired = True
        elif word == "expire":
            expire = True
    return Steering(status, fail, early, slow, stuck, expired, expire)
