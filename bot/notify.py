"""Messages the core sends elsewhere than the room it answers: queued in the outbox, in the same transaction.

Targets are logical, each platform's deliverer finds the room: `dm:<user id>` (the person's direct
conversation with the bot), `review` (the review room), `announce` (every announcement room).
"""

from __future__ import annotations

from bot.context import Context
from bot.messages import Reply
from storage.repositories import Repos

REVIEW = "review"
ANNOUNCE = "announce"


def dm(user_id: str) -> str:
    return f"dm:{user_id}"


async def send(ctx: Context, platform: str, target: str, reply: Reply, key: str) -> bool:
    """Queue `reply` once for `key`: the same key twice (a retried transaction) queues nothing more."""
    return await send_to(ctx.repo, platform, target, reply, key)


async def send_to(repo: Repos, platform: str, target: str, reply: Reply, key: str) -> bool:
    """`send`, for the scheduler's jobs, which have repositories but no person speaking."""
    queued = await repo.outbox.enqueue(platform, target, {"reply": reply.to_json()}, dedupe_key=key)
    return queued is not None


async def to_person(ctx: Context, platform: str, user_id: str, reply: Reply, key: str) -> None:
    await send(ctx, platform, dm(user_id), reply, key)


async def to_review(ctx: Context, reply: Reply, key: str) -> None:
    await broadcast(ctx.repo, ctx.platforms, REVIEW, reply, key)


async def to_announcements(ctx: Context, reply: Reply, key: str) -> None:
    await broadcast(ctx.repo, ctx.platforms, ANNOUNCE, reply, key)


async def broadcast(repo: Repos, platforms: tuple[str, ...], target: str, reply: Reply, key: str) -> bool:
    """`reply` to `target` (REVIEW or ANNOUNCE) on every platform, once for `key` (the scheduler's jobs call it
    too). True if anything was queued, not already there for that key."""
    queued = False
    for platform in platforms:
        queued = await send_to(repo, platform, target, reply, f"{platform}:{key}") or queued
    return queued


def admins(admin_ids: list[str], platforms: tuple[str, ...]) -> list[tuple[str, str]]:
    """(platform, user id) of each configured admin: `slack:U…` is a Slack user (that is its id for the core), any
    other id is the user of each other platform running (a Matrix id, say)."""
    found: list[tuple[str, str]] = []
    for admin in admin_ids:
        if admin.startswith("slack:"):
            if "slack" in platforms:
                found.append(("slack", admin))
        else:
            found.extend((p, admin) for p in platforms if p != "slack")
    return found
