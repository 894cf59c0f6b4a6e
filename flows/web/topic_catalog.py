"""The configured topic definitions as the web app shows them, loaded once."""

from __future__ import annotations

from typing import Any

from config.settings import Settings


class TopicCatalog:
    """The configured topic definitions, loaded once; a broken definition is reported, not fatal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._topics: dict[str, Any] | None = None
        self.error: str | None = None

    @property
    def topics(self) -> dict[str, Any]:
        if self._topics is None:
            from tasks.topics import TopicDefinitionError, load_topics

            try:
                found = load_topics(self.settings.topics, self.settings.base_dir)
                self._topics = {t.id: t for t in found.topics}
            except TopicDefinitionError as exc:
                self.error = str(exc)
                self._topics = {}
        return self._topics
