"""Fetched bytes as text, and what kind of fixtures source the text is.

Rules, in one place:

- The charset is, in this order: the HTTP ``Content-Type`` header's ``charset``, a
  byte-order mark, the page's own ``<meta charset>`` (or ``http-equiv`` content type)
  in its first 4 KB, and otherwise detection (charset-normalizer), with UTF-8 first
  because it is what pages without a declaration use most, and Western European
  encodings preferred among those detection finds plausible. A declared charset that is
  unknown or does not decode the bytes is passed over for the next way.
- A source is iCalendar when its text starts with ``BEGIN:VCALENDAR`` (after a BOM or
  blank lines), whatever its URL or content type says; anything else is HTML.

For example::

    >>> decode_page("Liège".encode("cp1252"), "text/html; charset=windows-1252")
    'Liège'
    >>> decode_page(b'<meta charset="iso-8859-1"><td>Li\\xe8ge</td>')
    '<meta charset="iso-8859-1"><td>Liège</td>'
"""

from __future__ import annotations

import codecs
import re

HTML = "html"
ICAL = "ical"

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
# Club pages are Dutch, French or English: among the plausible encodings detection finds, these come first
# (a short page in Windows-1252 is as plausible in Windows-1250, which would turn "Liège" into "Ličge").
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _try(body: bytes, charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return body.decode(codecs.lookup(charset).name)
    except (LookupError, UnicodeDecodeError):
        return None


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` header, if any."""
    found = _HEADER_CHARSET.search(content_type or "")
    return found[1] if found else None


def decode_page(body: bytes, content_type: str | None = None) -> str:
    """``body`` as text, by the rules above (never fails: detection falls back to Windows-1252)."""
    text = _try(body, charset_of(content_type))
    if text is not None:
        return text
    for bom, charset in _BOMS:
        if body.startswith(bom):
            text = _try(body, charset)
            if text is not None:
                return text
    found = _META_CHARSET.search(body[:4096])
    text = _try(body, found[1].decode("ascii", "replace") if found else None)
    if text is not None:
        return text
    text = _try(body, "utf-8")
    if text is not None:
        return text
    from charset_normalizer import from_bytes

    matches = list(from_bytes(body))
    western = [m for m in matches if m.encoding in _WESTERN]
    best = western[0] if western else (matches[0] if matches else None)
    return str(best) if best is not None else body.decode("cp1252", "replace")


def source_kind(text: str) -> str:
    """``ical`` when the text is an iCalendar object, else ``html``."""
    return ICAL if text.lstrip("\ufeff \t\r\n").upper().startswith("BEGIN:VCALENDAR") else HTML
