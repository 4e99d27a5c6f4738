"""The one table the CLI prints: a rich ``Table`` that never cuts, wraps or elides a number.

Every CLI table (results, margin runs, lots, ledgers, prices, listings) is built from
:class:`Table`. At render time it picks the first layout that fits the width it is given
(a terminal's, or 80 columns when piped, or ``$COLUMNS``):

1. the natural table, each cell on one line;
2. a table whose columns are at least as wide as their longest word (then: longest word
   below the header), so text wraps between words and nothing is broken inside a word;
3. a table whose columns are at least as wide as their longest *figure* (a word holding a
   digit: an amount, a price, a date, an id), so only words without digits fold;
4. one row per block, ``column  value`` per line, wrapping between words.

The one case it cannot help is a figure longer than the whole line (rich then folds it).

Presentation only: it never formats, rounds or reorders a value it is given.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from copy import copy

from rich import table as rich_table
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.text import Text

_FIGURE = re.compile(r"\S*\d\S*")


def _plain(console: Console, cell: object) -> str:
    if isinstance(cell, str):
        return console.render_str(cell).plain
    if isinstance(cell, Text):
        return cell.plain
    return str(cell)


def _longest_figure(text: str) -> int:
    return max((len(m.group(0)) for m in _FIGURE.finditer(text)), default=0)


def spread(floors: list[int], ceilings: list[int], room: int) -> list[int]:
    """Widths from ``floors`` (which fit in ``room``), growing each toward its ceiling in turn
    until ``room`` is used up."""
    widths = list(floors)
    spare = room - sum(widths)
    while spare > 0:
        growing = [i for i, w in enumerate(widths) if w < ceilings[i]]
        if not growing:
            break
        for i in growing:
            if spare == 0:
                break
            widths[i] += 1
            spare -= 1
    return widths


class Table(rich_table.Table):
    """A rich table whose figures are never cut, wrapped or elided (see the module docstring)."""

    def _overhead(self) -> int:
        _, right, _, left = Padding.unpack(self.padding)
        columns = len(self.columns)
        borders = 0
        if self.box is not None:
            borders = columns - 1 + (2 if self.show_edge else 0)
        return borders + columns * (left + right)

    def _widths_fitting(self, console: Console, options: ConsoleOptions) -> list[int] | None:
        """Column widths (without padding) that keep every figure whole in the width given, or
        None when no table layout does."""
        room = options.max_width - self._overhead()
        natural: list[int] = []
        words: list[int] = []
        cell_words: list[int] = []
        figures: list[int] = []
        for column in self.columns:
            cells = list(column.cells)
            measures = [Measurement.get(console, options, cell) for cell in cells]
            header = Measurement.get(console, options, column.header)
            natural.append(max([header.maximum, *(m.maximum for m in measures)]))
            words.append(max([header.minimum, *(m.minimum for m in measures)]))
            cell_words.append(max([1, *(m.minimum for m in measures)]))
            figures.append(max([1, *(_longest_figure(_plain(console, cell)) for cell in cells)]))
        if sum(natural) <= room:
            return natural
        for floors in (words, cell_words, figures):
            if sum(floors) <= room:
                return spread(floors, natural, room)
        return None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.columns:
            yield from super().__rich_console__(console, options)
            return
        widths = self._widths_fitting(console, options)
        if widths is None:
            yield from self._blocks(console)
            return
        fitted = copy(self)
        fitted.columns = [
            dataclasses.replace(column, width=width, no_wrap=False, overflow="fold")
            for column, width in zip(self.columns, widths, strict=True)
        ]
        yield from rich_table.Table.__rich_console__(fitted, console, options)

    def _blocks(self, console: Console) -> Iterable[Text]:
        """One block per row, ``column  value`` per line, wrapping between words."""
        if self.title:
            yield Text(_plain(console, self.title), style="bold")
        labels = [_plain(console, column.header) for column in self.columns]
        width = max(len(label) for label in labels)
        rows = zip(*(list(column.cells) for column in self.columns), strict=True)
        for row in rows:
            yield Text("")
            for label, cell in zip(labels, row, strict=True):
                value = _plain(console, cell)
                yield Text(f"{label:<{width}}  {value}")
        if self.caption:
            yield Text(_plain(console, self.caption))
