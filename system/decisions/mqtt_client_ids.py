"""Client ids belong to accounts: which MQTT client id an account may connect with.

A broker keeps a session per client id, and a CONNECT with a client id that is already
connected takes that connection over [MQTT-3.1.4-2]. So an account that may use any client id
can steal another's session: the bridge's queued readings, its subscriptions, its place.

Rules, in one place:

- With the ``account`` rule (the default), a client id is the account's name, or starts with
  the name and the separator (``node-1``, ``node-1-probe``, ``bridge-main`` for the accounts
  ``node-1`` and ``bridge``). Anything else is refused as "not authorised", before the broker
  touches any session, so the holder of the id keeps its connection and its session.
- An empty client id with a clean session is given one under the account's prefix, as
  MQTT 3.1.1 allows [MQTT-3.1.3-6]; with a persistent session it is refused (identifier
  rejected) [MQTT-3.1.3-8]: nobody could resume that session.
- The ``free`` rule lets any account use any client id (the behaviour of a plain broker).

For example::

    >>> check_client_id("node-1", "node-1-probe", clean_session=True)
    'ok'
    >>> check_client_id("node-1", "node-10", clean_session=True)
    'not_yours'
    >>> check_client_id("bridge", "", clean_session=False)
    'empty_persistent'
"""

from __future__ import annotations

from dataclasses import dataclass

OK = "ok"
NOT_YOURS = "not_yours"
EMPTY = "empty"  # clean session, no id: the broker assigns one
EMPTY_PERSISTENT = "empty_persistent"
RULES = ("account", "free")


@dataclass(frozen=True)
class ClientIdRule:
    """``rule`` is ``account`` (ids bound to accounts) or ``free``; ``separator`` follows the account name."""

    rule: str = "account"
    separator: str = "-"


def check_client_id(account: str, client_id: str, *, clean_session: bool, rule: ClientIdRule = ClientIdRule()) -> str:
    """``ok``, ``not_yours``, ``empty`` (assign one with :func:`assigned_client_id`) or ``empty_persistent``."""
    if not client_id:
        return EMPTY if clean_session else EMPTY_PERSISTENT
    if rule.rule == "free":
        return OK
    if client_id == account or client_id.startswith(account + rule.separator):
        return OK
    return NOT_YOURS


def assigned_client_id(account: str, token: str, rule: ClientIdRule = ClientIdRule()) -> str:
    """The client id given to ``account``'s client that sent none (``token``: a fresh random text)."""
    return f"{account}{rule.separator}{token}"


def own_client_id(url_username: str | None, default_account: str, role: str) -> str:
    """The client id a hilsim service names itself with: ``<account>-<role>`` (``cloud-jobs``, ``pi-controller``).

    The account is the user name the service logs in with, or ``default_account`` when it logs in with a
    client certificate (whose CN is then the account).
    """
    return f"{url_username or default_account}-{role}"
