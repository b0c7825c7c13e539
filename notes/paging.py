"""Page slices of an id-ordered queryset that stay cheap at both ends of a long list.

JSON:API pages are numbered, so the database must skip ``(number - 1) * size``
rows; for a character with 10,000 notes the last page would walk the whole
index. Pages in the back half are therefore read from the other end of the same
index (``ORDER BY id DESC`` with the complementary offset) and reversed: the
first and the last page both read one page of index entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from django.db.models import QuerySet

from notes.models import Note


class IdOrderedPages(Sequence[Note]):
    """What ``rest.collection`` pages: ``len`` counts once, a slice reads one page."""

    def __init__(self, notes: QuerySet[Note]) -> None:
        self.notes = notes.order_by("id")
        self._total: int | None = None

    def __len__(self) -> int:
        if self._total is None:
            self._total = self.notes.count()
        return self._total

    @overload
    def __getitem__(self, index: int) -> Note: ...
    @overload
    def __getitem__(self, index: slice) -> list[Note]: ...

    def __getitem__(self, index: int | slice) -> Note | list[Note]:
        if isinstance(index, int):
            return self.notes[index]
        total = len(self)
        start, stop, step = index.indices(total)
        if step != 1:
            raise ValueError("only contiguous pages")
        if start >= stop:
            return []
        if start > total - stop:  # nearer the end: read backwards from it
            backwards = list(self.notes.order_by("-id")[total - stop : total - start])
            return backwards[::-1]
        return list(self.notes[start:stop])
