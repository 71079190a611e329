"""What `paperdigest status` and /healthz report: fetches, digests, delivery, spend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from digest.store import Store


def status_report(store: Store) -> dict[str, Any]:
    """A JSON-ready summary of the service's state."""
    subs = []
    failures = 0
    for sub in store.subscriptions(active_only=False):
        last = store.digest(sub.id)
        rows = store.outbox(sub.id)
        waiting = sum(r["state"] in ("pending", "sending") for r in rows)
        failed = sum(r["state"] == "failed" for r in rows)
        failures += failed + (1 if sub.last_error else 0)
        subs.append(
            {
                "id": sub.id,
                "active": sub.active,
                "paused_reason": sub.paused_reason,
                "schedule": f"{sub.schedule} {sub.timezone}",
                "last_digest": {"day": last["date"], "status": last["status"]} if last else None,
                "outbox": {
                    "sent": len(rows) - waiting - failed,
                    "waiting": waiting,
                    "failed": failed,
                },
                "last_error": sub.last_error,
            }
        )
    fetch = store.last_fetch()
    return {
        "ok": True,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "last_fetch": fetch,
        "subscriptions": subs,
        "delivery_problems": failures,
        "llm_spend_today_usd": round(store.spent(datetime.now(UTC).date()), 4),
    }
