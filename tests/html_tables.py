"""An HTML page as a reader sees it, for tests of the generated pages (report, demo page).

`read_page(text)` parses with the standard library's `html.parser` and returns the page's title,
headings, paragraphs (text with entities decoded and whitespace collapsed), its tables (each under
the last heading before it: header cells, then rows of `Cell`s) and how many of each tag it has.
Text is what the browser would show, so an escaped `<script>` reads back as the literal string.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["Cell", "Page", "Table", "read_page"]


@dataclass
class Cell:
    text: str = ""
    classes: set[str] = field(default_factory=set)  # of the cell and of the elements inside it
    hrefs: list[str] = field(default_factory=list)


@dataclass
class Table:
    heading: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)

    def texts(self) -> list[list[str]]:
        return [[c.text for c in row] for row in self.rows]

    def row(self, first: str) -> list[Cell]:
        """The row whose first cell reads `first` (exactly one)."""
        found = [r for r in self.rows if r and r[0].text == first]
        assert len(found) == 1, (first, self.texts())
        return found[0]


@dataclass
class Page:
    title: str = ""
    headings: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    tags: Counter = field(default_factory=Counter)
    classes_in_paragraphs: list[set[str]] = field(default_factory=list)

    def table(self, heading: str) -> Table:
        """The only table under `heading`."""
        found = [t for t in self.tables if t.heading == heading]
        assert len(found) == 1, (heading, [t.heading for t in self.tables])
        return found[0]

    def paragraph(self, start: str) -> str:
        """The only paragraph starting with `start`."""
        found = [p for p in self.paragraphs if p.startswith(start)]
        assert len(found) == 1, (start, self.paragraphs)
        return found[0]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.heading = ""
        self.capture: list[str] | None = None  # text of the open title/heading/paragraph
        self.capture_tag = ""
        self.paragraph_classes: set[str] = set()
        self.cell: Cell | None = None
        self.header: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.tags[tag] += 1
        attr = dict(attrs)
        classes = set((attr.get("class") or "").split())
        if tag in ("title", "h1", "h2", "h3", "p"):
            self.capture, self.capture_tag, self.paragraph_classes = [], tag, set(classes)
        elif tag == "table":
            self.page.tables.append(Table(self.heading))
        elif tag == "tr":
            self.page.tables[-1].rows.append([])
        elif tag == "th":
            self.header = []
        elif tag == "td":
            self.cell = Cell(classes=classes)
            self.page.tables[-1].rows[-1].append(self.cell)
        else:
            if self.cell is not None:
                self.cell.classes |= classes
                if tag == "a":
                    self.cell.hrefs.append(attr.get("href") or "")
            if self.capture is not None:
                self.paragraph_classes |= classes

    def handle_endtag(self, tag: str) -> None:
        if tag == self.capture_tag and self.capture is not None:
            text = _squash("".join(self.capture))
            if tag == "title":
                self.page.title = text
            elif tag == "p":
                self.page.paragraphs.append(text)
                self.page.classes_in_paragraphs.append(self.paragraph_classes)
            else:
                self.page.headings.append(text)
                self.heading = text
            self.capture = None
        elif tag == "th" and self.header is not None:
            self.page.tables[-1].headers.append(_squash("".join(self.header)))
            self.header = None
        elif tag == "td" and self.cell is not None:
            self.cell.text = _squash(self.cell.text)
            self.cell = None
        elif tag == "tr" and self.page.tables and not self.page.tables[-1].rows[-1]:
            self.page.tables[-1].rows.pop()  # the header row

    def handle_data(self, data: str) -> None:
        if self.capture is not None:
            self.capture.append(data)
        if self.header is not None:
            self.header.append(data)
        if self.cell is not None:
            self.cell.text += data


def read_page(text: str) -> Page:
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.page
