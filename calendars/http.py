"""The HTTP side of the calendar feeds: `/ical/<token>.ics` and the public `/ical/reseau.ics`, with ETag and 304."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from aiohttp import hdrs, web
from aiohttp.helpers import ETAG_ANY, ETag
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.i18n import _, language
from calendars.feeds import (
    CHANGES,
    PAST_DAYS,
    FeedCache,
    FeedEvent,
    FeedScope,
    FeedStamp,
    RenderedFeed,
    events_for,
    stamp_of,
)
from storage.models import FeedToken, Person
from storage.repositories import Repos
from storage.repositories.feeds import hash_token

# Calendar apps poll far less often than this anyway; within it, a client may reuse its copy without asking.
MAX_AGE = 300


# A check of a token or of a feed's stamp stays true while no commit of this process changed events, tokens or
# people; this bounds how late a change made by another process (or an event growing old) is seen.
REVALIDATE = timedelta(seconds=30)
# Tokens whose scope is remembered; past this the memory starts again (rare, and only costs queries).
TOKENS_KEPT = 100_000

T = TypeVar("T")


@dataclass(frozen=True)
class Feed:
    scope: FeedScope
    rendered: RenderedFeed


@dataclass(frozen=True)
class _Checked(Generic[T]):
    """What the database said, at which generation of `CHANGES`, and when."""

    value: T
    generation: int
    at: datetime

    def fresh(self, now: datetime) -> bool:
        return self.generation == CHANGES.generation and timedelta(0) <= now - self.at < REVALIDATE


class FeedService:
    """Finds the feed a request asks for: the scope of its token, then the cached body while nothing changed.

    An unchanged feed costs no query: token scopes and feed stamps are remembered until a commit of this process
    touches events, tokens or people (see `calendars.feeds.CHANGES`), and for `REVALIDATE` at most. Then one
    query per token and one per scope (its stamp) check them again; the events are read only to render anew.
    """

    def __init__(self, app: App, cache: FeedCache | None = None, past_days: int = PAST_DAYS) -> None:
        self.app = app
        self.cache = cache or FeedCache()
        self.past_days = past_days
        self._tokens: dict[str, _Checked[FeedScope]] = {}
        self._stamps: dict[FeedScope, _Checked[FeedStamp]] = {}
        self._names: dict[FeedScope, str] = {}

    async def by_token(self, raw: str) -> Feed | None:
        """The feed of a live token; None when the token is unknown or revoked (the caller says 404, no more)."""
        now = self.app.clock.now()
        key = hash_token(raw)
        known = self._tokens.get(key)
        scope = known.value if known is not None and known.fresh(now) else None
        feed = self._current(scope, now) if scope is not None else None
        if feed is not None:
            return feed
        generation = CHANGES.generation  # before reading: a commit meanwhile makes what is read stale at once
        async with self.app.db.session() as session:
            if scope is None:
                token = await Repos(session).feeds.resolve(raw)
                scope = await scope_of(session, token) if token is not None else None
                if scope is None:
                    self._tokens.pop(key, None)
                    return None
                if len(self._tokens) >= TOKENS_KEPT:
                    self._tokens.clear()
                self._tokens[key] = _Checked(scope, generation, now)
            found = await self._read(session, scope, now, generation)
        return await self._finish(scope, found)

    async def network(self) -> Feed:
        now = self.app.clock.now()
        scope = FeedScope.of_network()
        feed = self._current(scope, now)
        if feed is not None:
            return feed
        generation = CHANGES.generation
        async with self.app.db.session() as session:
            found = await self._read(session, scope, now, generation)
        return await self._finish(scope, found)

    def _current(self, scope: FeedScope, now: datetime) -> Feed | None:
        checked = self._stamps.get(scope)
        if checked is None or not checked.fresh(now):
            return None
        rendered = self.cache.get(scope, self.name(scope), checked.value)
        return Feed(scope, rendered) if rendered is not None else None

    async def _read(self, session: AsyncSession, scope: FeedScope, now: datetime, generation: int) -> _Lookup:
        # One query while the feed is unchanged; the events are read only to rebuild it.
        stamp = await stamp_of(session, scope, now, self.past_days)
        self._stamps[scope] = _Checked(stamp, generation, now)
        cached = self.cache.get(scope, self.name(scope), stamp)
        if cached is not None:
            return _Lookup(stamp, cached, [])
        events = [FeedEvent.of(event) for event in await events_for(session, scope, now, self.past_days)]
        return _Lookup(stamp, None, events)

    async def _finish(self, scope: FeedScope, found: _Lookup) -> Feed:
        # Rendering happens after the session is closed: on SQLite it would hold every other session back.
        if found.cached is not None:
            return Feed(scope, found.cached)
        name = self.name(scope)
        rendered = await self.cache.build(scope, name, found.stamp, found.events, self.app.config.timezone)
        return Feed(scope, rendered)

    def name(self, scope: FeedScope) -> str:
        """The calendar's name in the apps, e.g. « ODPE — Tout le réseau + Allier (03) »."""
        name = self._names.get(scope)
        if name is None:
            with language(self.app.config.language):
                network = str(_("Tout le réseau"))
            parts = ([network] if scope.network else []) + ([scope.label()] if scope.department else [])
            name = self._names[scope] = "ODPE — " + " + ".join(parts)
        return name


@dataclass(frozen=True)
class _Lookup:
    stamp: FeedStamp
    cached: RenderedFeed | None
    events: list[FeedEvent]  # what to render when nothing is cached for `stamp`


async def scope_of(session: AsyncSession, token: FeedToken) -> FeedScope | None:
    """What a subscription token shows; a personal feed follows the person's current département."""
    if token.scope == "network":
        return FeedScope.of_network()
    if token.scope == "department":
        return FeedScope.of_department(token.department) if token.department else None
    if token.scope == "personal":
        person = await session.get(Person, token.person_id)
        return FeedScope.personal(person.department if person is not None else None)
    return None


FEEDS_KEY: web.AppKey[FeedService] = web.AppKey("odpe_feeds", FeedService)


def not_modified(request: web.Request, feed: RenderedFeed) -> bool:
    """Whether the client's copy is current (RFC 9110 § 13.2.2: If-None-Match, when sent, decides alone)."""
    tags = request.if_none_match
    if tags is not None:
        # Weak comparison, as If-None-Match asks: W/"x" matches "x".
        return any(tag.value in (ETAG_ANY, feed.etag) for tag in tags)
    since = request.if_modified_since
    if since is not None and feed.last_modified is not None:
        return feed.last_modified.replace(microsecond=0) <= since
    return False


def accepts_gzip(request: web.Request) -> bool:
    """Whether Accept-Encoding allows gzip: named, or through `*`, with a weight above 0."""
    weights: dict[str, float] = {}
    for part in request.headers.get(hdrs.ACCEPT_ENCODING, "").split(","):
        coding, *parameters = (piece.strip().lower() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            if parameter.startswith("q="):
                try:
                    weight = float(parameter[2:])
                except ValueError:
                    weight = 0.0
        weights[coding] = weight
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def respond(request: web.Request, feed: Feed, *, public: bool) -> web.Response:
    rendered = feed.rendered
    gzipped = accepts_gzip(request)
    if not_modified(request, rendered):
        response = web.Response(status=304)
    else:
        response = web.Response(body=rendered.gzipped if gzipped else rendered.body)
        response.headers[hdrs.CONTENT_TYPE] = "text/calendar; charset=utf-8"
        response.headers[hdrs.CONTENT_DISPOSITION] = f'inline; filename="{feed.scope.filename()}"'
        if gzipped:
            response.headers[hdrs.CONTENT_ENCODING] = "gzip"
    # The gzipped body has other bytes: a weak tag, as servers that compress say (both match If-None-Match).
    response.etag = ETag(value=rendered.etag, is_weak=gzipped)
    if rendered.last_modified is not None:
        response.last_modified = rendered.last_modified
    response.headers[hdrs.CACHE_CONTROL] = f"{'public' if public else 'private'}, max-age={MAX_AGE}"
    response.headers[hdrs.VARY] = hdrs.ACCEPT_ENCODING
    return response


async def token_feed(request: web.Request) -> web.Response:
    feed = await request.app[FEEDS_KEY].by_token(request.match_info["token"])
    if feed is None:
        raise web.HTTPNotFound()
    return respond(request, feed, public=False)


async def network_feed(request: web.Request) -> web.Response:
    service = request.app[FEEDS_KEY]
    if not service.app.config.calendar.public_network_feed:
        raise web.HTTPNotFound()
    return respond(request, await service.network(), public=True)


def add_routes(web_app: web.Application, app: App) -> None:
    """The feed routes (GET and HEAD) on the bot's HTTP server."""
    web_app[FEEDS_KEY] = FeedService(app, past_days=app.config.calendar.feed_past_days)
    # The fixed path first: the router tries resources in the order they were added.
    web_app.router.add_get("/ical/reseau.ics", network_feed)
    web_app.router.add_get("/ical/{token}.ics", token_feed)
