"""Command lines as people type them, and replies rendered safely."""

from __future__ import annotations

import pytest

from bot.parsing import QuoteError, parse_command, split_words
from bot.ratelimit import RateLimiter
from bot.rich import Bullets, Doc, Fields, Para, Span, code, fill


def test_double_quotes_and_guillemets_group_words() -> None:
    line = parse_command('!annuaire modifier 03 nom="Mme Blandine Aatar" « Conseil départemental »', "!")
    assert line is not None
    assert line.name == "annuaire"
    assert line.args == ("modifier", "03", "nom=Mme Blandine Aatar", "Conseil départemental")


def test_apostrophes_are_not_quotes() -> None:
    assert [w.text for w in split_words("l'Allier Côtes-d'Armor")] == ["l'Allier", "Côtes-d'Armor"]


def test_an_unclosed_quote_is_reported() -> None:
    with pytest.raises(QuoteError) as caught:
        parse_command('!question "pourquoi', "!")
    assert caught.value.opener == '"'


def test_free_text_keeps_what_was_typed() -> None:
    line = parse_command('!question  Comment « remonter »  les données ?', "!")
    assert line is not None
    assert line.text_from(0) == "Comment « remonter »  les données ?"


def test_text_without_the_prefix_is_not_a_command() -> None:
    assert parse_command("aide", "!") is None
    assert parse_command("! aide", "!") is None
    assert parse_command("  !aide  ", "!") is not None


def test_user_text_is_escaped_in_html() -> None:
    doc = Doc((Para.of(["Titre : ", Span("<script>alert(1)</script> & co", "bold")]),))
    assert doc.html() == "<p>Titre : <strong>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</strong></p>"
    fields = Fields.of([("Courriel", Span('a"b@x.fr', href='mailto:a"b@x.fr'))])
    assert 'href="mailto:a&quot;b@x.fr"' in fields.html()


def test_plain_rendering_is_readable() -> None:
    doc = Doc((Para.of(fill("Tapez {cmd} pour la liste.", cmd=code("!aide"))), Bullets.of(["un", "deux"])))
    assert doc.plain() == "Tapez `!aide` pour la liste.\n  • un\n  • deux"


def test_rate_limit_allows_a_burst_then_asks_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=30, burst=3, clock=lambda: now[0])
    assert [limiter.take("ann") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("ann")
    assert wait == pytest.approx(2.0)
    assert limiter.take("bob") == 0  # others are not affected
    assert limiter.should_warn("ann") and not limiter.should_warn("ann")
    now[0] += 2.0
    assert limiter.take("ann") == 0


def test_rate_limit_zero_means_off() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    assert all(limiter.take("ann") == 0 for _ in range(100))


def test_a_mention_links_only_the_way_the_platform_says() -> None:
    from bot.rich import mention

    doc = Doc((Para.of(["Merci ", mention("@marie:odpe.test", "Marie")]),))
    assert doc.html() == "<p>Merci Marie</p>"
    assert doc.html(lambda user: f"https://matrix.to/#/{user}") == (
        '<p>Merci <a href="https://matrix.to/#/@marie:odpe.test">Marie</a></p>'
    )
    assert doc.mentions() == ["@marie:odpe.test"]
