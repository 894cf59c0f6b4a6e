"""assign_story and prune_story_index on real databases (SQLite file; PostgreSQL when given)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import StoriesConfig
from storage.db import make_engine
from storage.models import Article, Base, Story, StoryIndexArticle, StoryIndexKey, StoryTermCount
from tasks.stories.assign import assign_story, prune_story_index
from tasks.urls import canonical_url, story_url_key

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SETTINGS = StoriesConfig()

STEEL = (
    "Britain and the United States agreed on Tuesday to remove tariffs on British steel and "
    "aluminium exports, ending a dispute that had cost Sheffield mills an estimated 400 million "
    "pounds a year. Business Secretary Jonathan Reynolds announced the deal in Washington after "
    "two days of talks with the US Commerce Department.\n\n"
    "Under the agreement, quotas for UK steel will rise to 500,000 tonnes, and the 25 per cent "
    "levy imposed in March will be lifted from the first of next month. Industry group UK Steel "
    "welcomed the news but warned that energy costs remain the biggest threat to the sector.\n\n"
    "The Port Talbot works, which employs four thousand people, is expected to be among the first "
    "to benefit. Unions said the deal was overdue and urged ministers to secure guarantees on jobs."
)
STEEL_RETOLD = (
    "US tariffs on steel from the UK are to be scrapped under a deal struck in Washington, the "
    "Business Secretary Jonathan Reynolds said. The 25% levy on British steel and aluminium goes "
    "next month and UK Steel quotas rise to 500,000 tonnes after talks with the Commerce "
    "Department.\n\nSheffield producers and the Port Talbot plant stand to gain, though industry "
    "leaders said energy prices were still a burden."
)
WHISKY = (
    "Scotch whisky distillers are still waiting for relief from the 10 per cent American tariff on "
    "single malts, the Scotch Whisky Association said on Wednesday, as trade negotiators in London "
    "moved on to digital services taxes.\n\nThe association's chief executive Mark Kent said Islay "
    "and Speyside producers had lost 60 million pounds in sales since the duty was imposed, and "
    "called on Downing Street to make spirits a priority in the next round of talks with the "
    "United States Trade Representative.\n\nDistilleries in Moray have paused hiring. Exports to "
    "the US, the industry's biggest market by value, fell by a fifth in the last quarter."
)


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    with Session(engine) as db_session:
        yield db_session
    engine.dispose()


def add_article(session: Session, url: str, title: str, text: str, at: datetime = NOW, **extra: object) -> Article:
    article = Article(
        canonical_url=canonical_url(url), url=url, url_key=story_url_key(url), status="fetched",
        title=title, text=text, published_at=at, fetched_at=at, created_at=at, updated_at=at, **extra,
    )
    session.add(article)
    session.flush()
    return article


def test_first_article_starts_a_story(session: Session) -> None:
    article = add_article(session, "https://a.example/steel", "UK and US end steel tariffs", STEEL)
    result = assign_story(session, article, NOW, SETTINGS)
    assert result.is_new_story and result.reason == "new story"
    story = session.get(Story, result.story_id)
    assert story is not None and story.article_count == 1 and story.title == "UK and US end steel tariffs"
    assert story.membership[0]["article_id"] == article.id and story.membership[0]["reason"] == "new story"
    assert article.story_id == story.id and article.fingerprint is not None
    assert session.scalar(select(func.count()).select_from(StoryIndexKey)) > 30


def test_syndicated_copy_joins_as_near_duplicate(session: Session) -> None:
    original = add_article(session, "https://a.example/steel", "UK and US end steel tariffs", STEEL)
    first = assign_story(session, original, NOW, SETTINGS)
    copy_text = "By Staff Reporter\n\n" + STEEL.rsplit("\n\n", 1)[0] + "\n\nSign up for our daily business newsletter."
    copy = add_article(session, "https://b.example/x/1", "Steel tariff deal lifts Sheffield", copy_text,
                       NOW + timedelta(hours=2))
    result = assign_story(session, copy, NOW + timedelta(hours=2), SETTINGS)
    assert result.story_id == first.story_id and not result.is_new_story
    assert result.duplicate_of_id == original.id and copy.duplicate_of_id == original.id
    assert result.reason.startswith(f"near-duplicate of article {original.id} (similarity ")
    assert result.similarity is not None and result.similarity >= SETTINGS.duplicate_threshold
    story = session.get(Story, first.story_id)
    assert story is not None and story.article_count == 2
    assert [m["article_id"] for m in story.membership] == [original.id, copy.id]


def test_independent_retelling_joins_as_same_story(session: Session) -> None:
    original = add_article(session, "https://a.example/steel", "UK and US end steel tariffs", STEEL)
    first = assign_story(session, original, NOW, SETTINGS)
    retold = add_article(session, "https://c.example/retold", "Steel tariffs scrapped in UK-US deal",
                         STEEL_RETOLD, NOW + timedelta(hours=5))
    result = assign_story(session, retold, NOW + timedelta(hours=5), SETTINGS)
    assert result.story_id == first.story_id
    assert result.duplicate_of_id is None
    assert result.reason.startswith(f"same story as article {original.id} (shared terms ")
    assert "steel" in result.reason


def test_same_subject_different_story_stays_apart(session: Session) -> None:
    steel = add_article(session, "https://a.example/steel", "UK and US end steel tariffs", STEEL)
    whisky = add_article(session, "https://a.example/whisky", "Whisky makers still wait for US tariff relief",
                         WHISKY, NOW + timedelta(hours=3))
    first = assign_story(session, steel, NOW, SETTINGS)
    second = assign_story(session, whisky, NOW + timedelta(hours=3), SETTINGS)
    assert second.is_new_story and second.story_id != first.story_id


def test_copy_outside_the_window_starts_a_new_story(session: Session) -> None:
    original = add_article(session, "https://a.example/steel", "UK and US end steel tariffs", STEEL)
    first = assign_story(session, original, NOW, SETTINGS)
    late = NOW + timedelta(hours=SETTINGS.window_hours + 1)
    copy = add_article(session, "https://b.example/steel-again", "UK and US end steel tariffs", STEEL, late)
    result = assign_story(session, copy, late, SETTINGS)
    assert result.is_new_story and result.story_id != first.story_id


def test_same_article_under_an_amp_url_joins_by_url(session: Session) -> None:
    original = add_article(session, "https://www.a.example/news/steel", "UK and US end steel tariffs", STEEL)
    first = assign_story(session, original, NOW, SETTINGS)
    # The store gave the AMP page its own row (it was seen first through a redirect).
    amp = add_article(session, "https://news.example/r/123", "UK and US end steel tariffs", "short teaser",
                      final_url="https://amp.a.example/news/steel/amp/")
    result = assign_story(session, amp, NOW, SETTINGS)
    assert result.story_id == first.story_id and result.reason == "same canonical url"
    assert result.duplicate_of_id == original.id


def test_article_listed_at_an_earlier_articles_final_url_joins_by_url(session: Session) -> None:
    # First seen through a redirect that landed on the AMP page; then listed directly.
    first_seen = add_article(session, "https://news.example/r/9", "UK and US end steel tariffs", "short teaser",
                             final_url="https://amp.a.example/news/steel/amp/")
    first = assign_story(session, first_seen, NOW, SETTINGS)
    listed = add_article(session, "https://www.a.example/news/steel", "UK and US end steel tariffs", STEEL,
                         NOW + timedelta(hours=1))
    result = assign_story(session, listed, NOW + timedelta(hours=1), SETTINGS)
    assert result.story_id == first.story_id and result.reason == "same canonical url"
    assert result.duplicate_of_id == first_seen.id


def test_assigning_twice_does_not_double_count(session: Session) -> None:
    original = add_article(session, "https://a.example/steel", "UK and US end steel tariffs", STEEL)
    first = assign_story(session, original, NOW, SETTINGS)
    again = assign_story(session, original, NOW + timedelta(minutes=5), SETTINGS)
    assert again == first
    story = session.get(Story, first.story_id)
    assert story is not None and story.article_count == 1 and len(story.membership) == 1
    copy = add_article(session, "https://b.example/1", "Another headline", STEEL, NOW)
    joined = assign_story(session, copy, NOW, SETTINGS)
    assert assign_story(session, copy, NOW, SETTINGS) == joined
    assert story.article_count == 2


def test_article_without_text_gets_a_story(session: Session) -> None:
    article = add_article(session, "https://a.example/empty", "", "")
    result = assign_story(session, article, NOW, SETTINGS)
    assert result.is_new_story and article.fingerprint is None


def test_prune_drops_old_index_entries_only(session: Session) -> None:
    old = add_article(session, "https://a.example/old", "UK and US end steel tariffs", STEEL, NOW - timedelta(days=5))
    assign_story(session, old, NOW - timedelta(days=5), SETTINGS)
    new = add_article(session, "https://a.example/whisky", "Whisky makers wait", WHISKY, NOW)
    assign_story(session, new, NOW, SETTINGS)
    removed = prune_story_index(session, NOW - timedelta(hours=SETTINGS.window_hours))
    assert removed == 1
    remaining = set(session.scalars(select(StoryIndexArticle.article_id)))
    assert remaining == {new.id}
    assert set(session.scalars(select(StoryIndexKey.article_id).distinct())) == {new.id}
    oldest_day = session.scalar(select(func.min(StoryTermCount.day)))
    assert oldest_day is not None and oldest_day >= (NOW - timedelta(hours=72) - datetime(1970, 1, 1, tzinfo=UTC)).days
    # The archive keeps the article and its story; only the index forgot it.
    assert session.get(Article, old.id) is not None and session.get(Article, old.id).story_id is not None
