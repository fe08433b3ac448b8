"""Fetched bytes as text: the HTTP header's charset, then the page's meta charset, then detection."""

from system.decisions.page_text import HTML, ICAL, decode_page, source_kind

PAGE = "<html><head>{meta}</head><body><td>RAAL La Louvière</td><td>Standard de Liège</td></body></html>"


def test_the_header_wins_then_the_meta_charset_then_detection():
    latin = PAGE.format(meta='<meta charset="iso-8859-1">').encode("iso-8859-1")
    assert "Louvière" in decode_page(latin)  # meta
    assert "Louvière" in decode_page(latin, "text/html; charset=ISO-8859-1")  # header
    wrong_meta = PAGE.format(meta='<meta charset="utf-8">').encode("cp1252")
    assert "Louvière" in decode_page(wrong_meta, "text/html; charset=windows-1252")  # header over meta
    http_equiv = PAGE.format(meta='<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">')
    assert "Liège" in decode_page(http_equiv.encode("cp1252"))


def test_without_any_declaration_utf8_first_then_detection():
    bare = PAGE.format(meta="")
    assert decode_page(bare.encode("utf-8")) == bare
    assert decode_page(("\ufeff" + bare).encode("utf-8")) == bare  # a BOM says UTF-8
    detected = decode_page((bare * 20).encode("cp1252"))
    assert "Louvière" in detected and "Liège" in detected


def test_an_unknown_or_wrong_declared_charset_is_passed_over():
    utf8 = PAGE.format(meta="").encode("utf-8")
    assert "Louvière" in decode_page(utf8, "text/html; charset=no-such-charset")
    assert "Louvière" in decode_page(utf8, "text/html; charset=ascii")  # cannot decode it: next way


def test_source_kind_is_told_by_content():
    assert source_kind("\ufeff\r\nBEGIN:VCALENDAR\r\nVERSION:2.0") == ICAL
    assert source_kind("<html>BEGIN:VCALENDAR</html>") == HTML
