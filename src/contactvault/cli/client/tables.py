"""Tables that fit the terminal without ever cutting a value a person may copy.

A ``FitTable`` is laid out when rich renders it, at the width it is given:

1. every column, when the table fits: copyable columns (ids, emails, phones) at the width of their longest
   value and never wrapped; the other columns wrap (never an ellipsis);
2. else without the columns marked ``drop`` (least important first), with a one-line note naming them;
3. else one record per row ("Name  value" lines), with a one-line note saying why.

So an address is always printed whole on one line (unless it is wider than the terminal itself, when it folds),
and the table's right border is always there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Literal

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["Col", "FitTable"]

Kind = Literal["copy", "keep", "drop"]
Cell = str | Text

# A wrapping column is never planned narrower than this (or its longest header word, or its content).
TEXT_MIN = 8
# ... and is planned wide enough for its longest word up to this, so that words are not broken when it can be helped.
WORD_MAX = 16
# Each column costs a border and two spaces of padding; the table one more border.
COLUMN_OVERHEAD = 3


@dataclasses.dataclass(frozen=True)
class Col:
    """A column: ``copy`` is never wrapped or cut, ``keep`` wraps, ``drop`` wraps and goes first when narrow."""

    name: str
    kind: Kind = "keep"
    justify: Literal["left", "right"] = "left"


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _width(cell: Cell) -> int:
    return max((Text(line).cell_len for line in _text(cell).plain.splitlines()), default=0)


def _longest_word(cell: Cell) -> int:
    return max((Text(word).cell_len for word in _text(cell).plain.split()), default=0)


class FitTable:
    """A table that chooses its layout at render time (see the module docstring)."""

    def __init__(
        self, columns: Sequence[Col], *, title: str | None = None, record_noun: str = "row", show_header: bool = True
    ) -> None:
        self.columns = list(columns)
        self.title = title
        self.caption: str | None = None
        self.record_noun = record_noun
        self.show_header = show_header
        self.rows: list[tuple[list[Cell], str]] = []

    def add_row(self, *cells: Cell, style: str = "") -> None:
        """Add a row: one cell per column."""
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self.rows.append((list(cells), style))

    def _planned_width(self, index: int) -> int:
        column = self.columns[index]
        cells = [row[index] for row, _ in self.rows]
        header = column.name if self.show_header else ""
        if column.kind == "copy":
            return max([_longest_word(header), *(_width(c) for c in cells)])
        natural = max([_width(header), *(_width(c) for c in cells)])
        words = min(max((_longest_word(c) for c in cells), default=0), WORD_MAX)
        floor = max(TEXT_MIN, _longest_word(header), words)
        return min(natural, floor)

    def needed_width(self, indices: Iterable[int]) -> int:
        """The narrowest width a table of these columns takes without cutting a copyable value."""
        chosen = list(indices)
        return sum(self._planned_width(i) for i in chosen) + COLUMN_OVERHEAD * len(chosen) + 1

    def plan(self, width: int) -> tuple[list[int], list[str]] | None:
        """The columns shown at ``width`` and the names left out; None means one record per row."""
        shown = list(range(len(self.columns)))
        dropped: list[str] = []
        droppable = [i for i, c in enumerate(self.columns) if c.kind == "drop"]
        while self.needed_width(shown) > width:
            if not droppable:
                return None
            index = droppable.pop(0)
            shown.remove(index)
            dropped.append(self.columns[index].name)
        return shown, dropped

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """The full table's width, or the whole width when it does not fit."""
        full = min(self.needed_width(range(len(self.columns))), options.max_width)
        return Measurement(full, full)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Render as a table, a narrower table, or records, whichever fits ``options.max_width``."""
        width = options.max_width
        plan = self.plan(width)
        if plan is None:
            yield from self._records()
            needed = self.needed_width(self._fewest())
            yield Text(
                f"One record per {self.record_noun}: the table needs {needed} columns, the terminal has {width}.",
                style="dim",
            )
        else:
            shown, dropped = plan
            yield self._table(shown, width)
            if dropped:
                yield Text(
                    f"Not shown at {width} columns: {', '.join(dropped)} (widen the terminal, or use --json).",
                    style="dim",
                )
        if self.caption:
            yield Text(self.caption, style="dim")

    def _fewest(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind != "drop"]

    def _natural_width(self, index: int) -> int:
        header = self.columns[index].name if self.show_header else ""
        return max([_width(header), *(_width(row[index]) for row, _ in self.rows)])

    def widths(self, shown: Sequence[int], width: int) -> list[int]:
        """Each shown column's width: its planned minimum, plus a fair share of the room left, up to its need."""
        widths = [self._planned_width(i) for i in shown]
        wants = [self._natural_width(i) for i in shown]
        room = width - self.needed_width(shown)
        while room > 0:
            growing = [k for k, (have, want) in enumerate(zip(widths, wants, strict=True)) if have < want]
            if not growing:
                break
            for k in growing[:room]:
                widths[k] += 1
            room -= min(room, len(growing))
        return widths

    def _table(self, shown: Sequence[int], width: int) -> Table:
        table = Table(title=self.title, title_justify="left", show_header=self.show_header)
        for index, column_width in zip(shown, self.widths(shown, width), strict=True):
            column = self.columns[index]
            table.add_column(
                column.name,
                justify=column.justify,
                no_wrap=column.kind == "copy",
                overflow="fold",
                width=column_width,
                style="bold" if not self.show_header and index == 0 else None,
            )
        for cells, style in self.rows:
            table.add_row(*(cells[i] for i in shown), style=style or None)
        return table

    def _records(self) -> RenderResult:
        if self.title:
            yield Text(self.title, style="italic")
        for number, (cells, style) in enumerate(self.rows):
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold", no_wrap=True, min_width=max(len(c.name) for c in self.columns))
            grid.add_column(overflow="fold", style=style or None)
            for column, cell in zip(self.columns, cells, strict=True):
                if _text(cell).plain:
                    grid.add_row(column.name, cell)
            if number:
                yield Text("")
            yield grid
