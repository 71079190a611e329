"""What `paperdigest status` and /healthz report: fetches, digests, delivery, problems, spend."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from digest.config import DEFAULTS, Settings
from digest.pipeline import current_criteria
from digest.scoring import local
from digest.scoring.factory import cascade_fraction
from digest.scoring.learning import measured_recall
from digest.store import Store

LATE = timedelta(minutes=30)  # a chat without its digest this long after its time is a problem


def status_report(store: Store, settings: Settings = DEFAULTS, now: datetime | None = None) -> dict:
    """A JSON-ready summary of the service's state; `problems` names each with its reason."""
    now, days = now or datetime.now(UTC), settings.serve.days
    subs = []
    problems: list[dict[str, str]] = []
    failures = 0
    built = store.last_built()
    digests = store.last_digests()
    boxes = store.outbox_counts()
    crashed: dict[str, list[Any]] = {}
    for claim in store.claims("run:", states=("failed",)):
        crashed.setdefault(claim.key.removeprefix("run:").rsplit(":", 1)[0], []).append(claim)
    for sub in store.subscriptions(active_only=False):
        last = digests.get(sub.id)
        box = boxes.get(sub.id, Counter())
        waiting = box["pending"] + box["sending"]
        failed = box["failed"]
        failures += failed + (1 if sub.last_error else 0)
        subs.append(
            {
                "id": sub.id,
                "active": sub.active,
                "paused_reason": sub.paused_reason,
                "schedule": f"{sub.schedule} {sub.timezone}",
                "last_digest": {"day": last[0].isoformat(), "status": last[1]} if last else None,
                "outbox": {
                    "sent": box.total() - box["doubt"] - waiting - failed,
                    "waiting": waiting,
                    "failed": failed,
                    "sent_again_in_doubt": box["doubt"],
                },
                "last_error": sub.last_error,
                "learning": _learning(store, sub.id, settings),
            }
        )
        problems += _problems(store, sub, built.get(sub.id), crashed.get(sub.id, []), days, now)
        if failed:
            problems.append({"subscription": sub.id, "reason": f"{failed} messages failed"})
    fetch = store.last_fetch()
    return {
        "ok": True,
        "time": now.isoformat(timespec="seconds"),
        "last_fetch": fetch,
        "subscriptions": subs,
        "delivery_problems": failures,
        "problems": problems,
        "llm_spend_today_usd": round(store.spent(now.date()), 4),
    }


def _problems(
    store: Store, sub: Any, built: datetime | None, crashed: list[Any], days: str, now: datetime
) -> list[dict[str, str]]:
    """A crashed daily run, or an active chat with no digest well after its time."""
    out = []
    for claim in crashed:
        when = claim.updated_at.isoformat(timespec="minutes")
        out.append({"subscription": sub.id,
                    "reason": f"the daily run failed at {when}: {claim.error}"})  # fmt: skip
    due = sub.last_due(now, days) if sub.active else None
    if due is not None and now - due > LATE and (built is None or built < due):
        local = due.astimezone(sub.zone).strftime("%a %H:%M")
        pending = store.claim_of(f"run:{sub.id}:{due.astimezone(sub.zone).date().isoformat()}")
        why = f"; {pending.error}" if pending is not None and pending.error else ""
        out.append({"subscription": sub.id, "reason": f"no digest since {local}{why}"})
    return out


def _learning(store: Store, sub_id: str, settings: Settings) -> dict[str, Any] | None:
    """The chat's learned local model, and the share the cascade sends the LLM because of it."""
    version, criteria = current_criteria(store, sub_id, save_seed=False)
    if version == 0:  # no criteria stored yet: nothing learned for this chat
        return None
    model = store.model(criteria.scoring_hash, local.NAME)
    if model is None:
        return None
    share = cascade_fraction(settings, model)
    return {
        "model": model["id"],
        "labels": model["labels"],
        "cascade_share": share,  # of the latest judged day; each day's comes from its papers
        "measured_recall": measured_recall(model, share),  # of the LLM's picks, at that share
        "measured_on": model.get("measured_on"),
    }
