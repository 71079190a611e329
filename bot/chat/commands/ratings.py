"""Ratings: `rate <id> +1|-1`, a label the local scorer learns from."""

from __future__ import annotations

from bot.chat.commands.context import Context, Deps, _criteria
from bot.chat.commands.parser import _ID, Command, _usage
from bot.chat.replies import Reply
from digest import UsageError, split_id


async def _rate(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if len(cmd.args) != 2 or cmd.args[1] not in {"+1", "-1", "1"}:
        raise UsageError(_usage("rate"))
    pid = split_id(cmd.args[0])[0] if _ID.search(cmd.args[0]) else None
    if pid is None:
        raise UsageError(_usage("rate"))
    deps.store.require_paper(pid)
    value = -1 if cmd.args[1] == "-1" else 1
    deps.store.save_rating(ctx.subscription_id, pid, ctx.who, value)
    _, criteria = _criteria(deps, ctx.subscription_id)
    deps.store.save_labels(criteria.scoring_hash, {pid: float(value > 0)}, f"rating:{ctx.who}")
    word = "👍" if value > 0 else "👎"
    return Reply(
        f"Thanks {word}",
        [f"your rating of {pid} is stored for this chat's criteria"],
        ephemeral=True,
    )


HANDLERS = {  # the commands this module answers
    "rate": _rate,
}
