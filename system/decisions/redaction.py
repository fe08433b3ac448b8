"""Secrets kept out of logs and traces: a URL is shown with its password as ``***``.

For example::

    >>> redacted_url("mqtt://cloud:s3cret@127.0.0.1:1883")
    'mqtt://cloud:***@127.0.0.1:1883'
    >>> redacted_url("mqtts://token@broker.example")
    'mqtts://***@broker.example'
    >>> redacted_url("http://127.0.0.1:8080/path?x=1")
    'http://127.0.0.1:8080/path?x=1'
    >>> redacted_url(None) is None
    True
"""

from __future__ import annotations


def redacted_url(url: str | None) -> str | None:
    """``url`` with the password of its user info replaced by ``***`` (a lone user name too: it may be a token)."""
    if not url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{scheme}://{shown}@{host}{slash}{tail}"
