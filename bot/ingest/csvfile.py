"""Read a ledger CSV file into ``(line, cells)`` pairs, or say exactly what is wrong with it.

Problems with the file as a whole (cannot be read, wrong encoding, empty, wrong header) are reported
as ``FILE:LINE: column: message`` like row problems, so the user sees one format everywhere.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ImportValidationError

# A whole file is held in memory once as bytes and once as text; beyond this, use `dunbot sync`.
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CsvRows:
    """The rows of a file with the line each starts on, and the file's SHA-256."""

    source: str
    sha256: str
    rows: list[tuple[int, dict[str, str]]]


def read_csv(path: Path, header: Sequence[str], encoding: str = "utf-8-sig") -> CsvRows:
    """Read ``path``; raise :class:`ImportValidationError` on anything but a well-formed file."""
    source = str(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportValidationError(
            source, [f"{source}: --encoding {encoding!r} is not an encoding Python knows (try gb18030)"]
        ) from None
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportValidationError(
                source, [f"{source}: {size} bytes is more than one import takes; split it or use dunbot sync"]
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportValidationError(source, [f"{source}: no such file"]) from None
    except IsADirectoryError:
        raise ImportValidationError(source, [f"{source}: is a directory, not a CSV file"]) from None
    except PermissionError:
        raise ImportValidationError(source, [f"{source}: permission denied"]) from None
    text = _decode(source, data, encoding)
    if not text.strip():
        raise ImportValidationError(
            source, [f"{source}:1: header: the file is empty; the first line must be: {','.join(header)}"]
        )
    return CsvRows(source, hashlib.sha256(data).hexdigest(), parse_text(source, text, header))


def _decode(source: str, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"{source}:{line}: the file is not valid {encoding} (byte 0x{data[exc.start]:02x})"
        if codecs.lookup(encoding).name.startswith("utf-8") and _decodes_as(data, "gb18030"):
            message += "; it reads as GB18030 (a Chinese Excel export): pass --encoding gb18030"
        else:
            example = "utf-8" if codecs.lookup(encoding).name == "gb18030" else "gb18030"
            message += f"; pass --encoding with the file's real encoding, e.g. --encoding {example}"
        raise ImportValidationError(source, [message]) from None


def _decodes_as(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def parse_text(source: str, text: str, header: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Split CSV text into rows keyed by column; the header must hold exactly ``header`` (any order)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[str] = []
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        first = next(reader)
    except csv.Error as exc:
        raise ImportValidationError(source, [f"{source}:1: header: {exc}"]) from None
    columns = [name.strip() for name in first]
    if _unrecognisable(columns, header):
        # Another kind of file, the wrong delimiter or text decoded with the wrong --encoding:
        # naming every "column" of such a line helps nobody.
        shown = ",".join(columns)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        if len(columns) == 1 and (";" in columns[0] or "\t" in columns[0]):
            why = "columns must be separated by commas, not semicolons or tabs"
        else:
            why = "is it the right file, read with the right --encoding?"
        raise ImportValidationError(
            source,
            [
                f"{source}:1: header: none of the expected columns is there (the first line reads "
                f"{shown!r}); {why} The first line must be: {','.join(header)}"
            ],
        )
    problems.extend(f"{source}:1: header: {p}" for p in header_problems(columns, header))
    if problems:
        raise ImportValidationError(source, problems)
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"{source}:{start}: row: {exc}; check the quoting")
            break
        line, start = start, reader.line_num + 1
        if not cells or all(not cell.strip() for cell in cells):
            continue  # blank line
        if len(cells) != len(columns):
            problems.append(
                f"{source}:{line}: row: has {len(cells)} fields, the header has {len(columns)}; "
                "quote values that contain commas"
            )
            continue
        rows.append((line, dict(zip(columns, cells, strict=True))))
    if problems:
        raise ImportValidationError(source, problems)
    return rows


def _unrecognisable(columns: Sequence[str], header: Sequence[str]) -> bool:
    """No column is expected or close to an expected one (case aside): not a misspelt header."""
    expected = [name.lower() for name in header]
    return not any(
        name.lower() in expected or difflib.get_close_matches(name.lower(), expected, n=1, cutoff=0.6)
        for name in columns
    )


def header_problems(columns: Sequence[str], header: Sequence[str]) -> list[str]:
    """What is wrong with a header: duplicates, unexpected names (with a suggestion), missing names."""
    problems: list[str] = []
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
    missing = [name for name in header if name not in seen]
    for name in columns:
        if name in header:
            continue
        guess = difflib.get_close_matches(name.lower(), missing, n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        problems.append(f"column {name!r} is not expected{hint}")
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}; the header must be: {','.join(header)}")
    return problems
