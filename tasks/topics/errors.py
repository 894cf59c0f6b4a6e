"""The one error a topic definition can raise: it says where and what was expected."""

from __future__ import annotations


class TopicDefinitionError(Exception):
    """A bad topic definition, in one message naming file, topic, position and the fix.

    ``str(error)`` is the whole message; the parts are kept as attributes so tools can
    point at them (``file``, ``topic``, ``line``, ``column``, ``detail``).
    """

    # Where in a query's text the parser stopped (set by the parser, read by the loader,
    # which turns it into a line and column of the topic file).
    query_position: int | None = None

    def __init__(
        self,
        detail: str,
        *,
        file: str | None = None,
        topic: str | None = None,
        where: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.detail = detail
        self.file = file
        self.topic = topic
        self.where = where
        self.line = line
        self.column = column
        super().__init__(self._message())

    def _message(self) -> str:
        parts: list[str] = [self.file or "topic definition"]
        if self.line is not None:
            position = f"line {self.line}"
            if self.column is not None:
                position += f", column {self.column}"
            parts.append(position)
        if self.topic:
            parts.append(f"topic {self.topic!r}")
        if self.where:
            parts.append(self.where)
        return ": ".join(parts) + f": {self.detail}"

    def located(
        self,
        *,
        file: str | None = None,
        topic: str | None = None,
        where: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> TopicDefinitionError:
        """The same error with the outer context filled in (inner values win)."""
        return TopicDefinitionError(
            self.detail,
            file=self.file or file,
            topic=self.topic or topic,
            where=self.where or where,
            line=self.line if self.line is not None else line,
            column=self.column if self.column is not None else column,
        )
