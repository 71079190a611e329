"""What a person is told when their command fails on our side, and the log line that matches.

Each platform's edge (a wrapper around every Slack listener, the Telegram error handler) calls
`failed`: it logs the traceback with a short error id and returns one line for the person,
saying whether asking again later can help. No SDK is imported here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from digest import METRICS, store_unreachable

log = logging.getLogger(__name__)


def error_id() -> str:
    """A short id that ties the person's line to the log line."""
    return uuid.uuid4().hex[:8]


def failed(
    exc: BaseException,
    where: str,
    platform: str,
    unreachable: Callable[[BaseException], bool],
) -> str:
    """Log `exc` (with its traceback and a new error id) and return the line for the person.

    `unreachable` says whether `exc` means the platform itself could not be reached."""
    eid = error_id()
    if store_unreachable(exc):
        busy = any(word in str(exc).lower() for word in ("locked", "busy"))  # SQLite's lock
        cause = "the database is busy" if busy else "the database is unreachable"
        later, kind = True, "store"
        METRICS.STORE_ERRORS.labels("command").inc()
    elif unreachable(exc):
        cause, later, kind = f"{platform} did not answer us", True, "platform"
    else:
        cause, later, kind = "", False, "bug"
    METRICS.COMMAND_FAILURES.labels(platform.lower(), kind).inc()
    log.error(
        "%s failed [error id %s]%s: %s", where, eid, f" ({cause})" if cause else "",
        type(exc).__name__, exc_info=exc, extra={"error_id": eid},
    )  # fmt: skip
    if later:
        return (
            f"Sorry, that failed on our side: {cause}. Trying again in a few minutes may work. "
            f"(error id {eid})"
        )
    return (
        "Sorry, that failed on our side. Trying again will probably fail the same way; "
        f"whoever runs the bot can find error id {eid} in its log."
    )


def could_not_tell(where: str, exc: BaseException) -> None:
    """The failure line itself could not be sent (the platform is down too): logged once."""
    log.warning("%s: could not tell the person about the failure (%s)", where, type(exc).__name__)
