"""Who may publish and read which MQTT topics: Mosquitto's ``acl_file`` format, parsed and decided.

The format (``man mosquitto.conf``, "acl_file"), so that one file serves ``hilsim broker`` and
Mosquitto unchanged::

    # comment
    topic read sensors/#          before any 'user' line: rules for anonymous clients
    user bridge                   the rules below are this user's, up to the next 'user' line
    topic read sensors/+/reading
    topic deny sensors/secret     access: read, write, readwrite (the default) or deny
    pattern write sensors/%u/#    every client, %u = its user name, %c = its client id

Rules, in one place (Mosquitto 2.0's default ACL check, ``security_default.c``):

- A client's own rules are its user's ``topic`` lines (the anonymous ones without a user name);
  its patterns are every ``pattern`` line with ``%u`` and ``%c`` substituted. A pattern that
  names ``%u`` (``%c``) gives nothing to a client without a user name, or whose name (client id)
  holds ``+``, ``#`` or ``/``: a name must not widen a rule.
- To publish (write) or receive (read) on a topic: the client's own rules are tried first, deny
  rules before the others; the first rule whose filter matches the topic decides (a deny rule
  denies; another allows if it grants the access, else the search goes on). If none decided,
  the patterns are tried the same way. If nothing decided: denied.
- A topic that starts with ``$`` is matched only by rules that start with ``$``.
- To subscribe, Mosquitto grants every filter and then drops, message by message, what the
  client may not read. Here a subscription is granted only if a read rule covers the whole
  filter (and no deny rule tried before it covers it); otherwise SUBACK says 0x80 and the client
  learns at once that it asked for too much. Each message is then checked for reading as in
  Mosquitto, so a deny rule inside a granted filter still holds, and the same file lets a client
  receive exactly the same messages on both brokers.

For example::

    >>> policy = parse_acl("user bridge\\ntopic read sensors/+/reading\\npattern write sensors/%u/#\\n")
    >>> access = policy.access_for("node-1", "node-1")
    >>> access.may_publish("sensors/node-1/reading"), access.may_publish("sensors/node-2/reading")
    (True, False)
    >>> policy.access_for("bridge", "bridge").may_subscribe("sensors/+/reading")
    True
    >>> policy.access_for("bridge", "bridge").may_subscribe("#")
    False
"""

from __future__ import annotations

from dataclasses import dataclass

from system.errors import ConfigError

READ = "read"
WRITE = "write"
READWRITE = "readwrite"
DENY = "deny"
_GRANTS = {READ: frozenset({READ}), WRITE: frozenset({WRITE}), READWRITE: frozenset({READ, WRITE}),
           DENY: frozenset()}
_UNSAFE_IN_NAMES = ("+", "#", "/")


@dataclass(frozen=True)
class AclRule:
    """One ``topic`` or ``pattern`` line: an access (read, write, readwrite, deny) on a topic filter."""

    access: str
    topic: str
    line: int = 0


@dataclass(frozen=True)
class AclPolicy:
    """A parsed acl file: ``anonymous`` rules, rules by user name, and ``patterns`` for everyone."""

    anonymous: tuple[AclRule, ...] = ()
    users: dict[str, tuple[AclRule, ...]] | None = None
    patterns: tuple[AclRule, ...] = ()

    def access_for(self, username: str | None, client_id: str) -> "ClientAccess":
        """The rules that apply to one client, patterns substituted, in the order they are tried."""
        own = self.anonymous if username is None else (self.users or {}).get(username, ())
        patterns = []
        for rule in self.patterns:
            topic = _substitute(rule.topic, username, client_id)
            if topic is not None:
                patterns.append(AclRule(rule.access, topic, rule.line))
        return ClientAccess(_denies_first(own), _denies_first(tuple(patterns)))


@dataclass(frozen=True)
class ClientAccess:
    """What one connected client may do: its own rules, then its patterns (deny rules first in each)."""

    own: tuple[AclRule, ...]
    patterns: tuple[AclRule, ...]

    def may_publish(self, topic: str) -> bool:
        """True if the client may publish on ``topic`` (a topic name, no wildcards)."""
        return self._decide(topic, WRITE)

    def may_read(self, topic: str) -> bool:
        """True if the client may receive a message published on ``topic``."""
        return self._decide(topic, READ)

    def may_subscribe(self, topic_filter: str) -> bool:
        """True if a read rule covers ``topic_filter`` (each message is still checked with :meth:`may_read`)."""
        for rules in (self.own, self.patterns):
            for rule in rules:
                if filter_covers(rule.topic, topic_filter):
                    if rule.access == DENY:
                        return False
                    if READ in _GRANTS[rule.access]:
                        return True
        return False

    def _decide(self, topic: str, access: str) -> bool:
        for rules in (self.own, self.patterns):
            for rule in rules:
                if topic_matches(rule.topic, topic):
                    if rule.access == DENY:
                        return False
                    if access in _GRANTS[rule.access]:
                        return True
        return False


def parse_acl(text: str, source: str = "acl file") -> AclPolicy:
    """Parse Mosquitto's acl_file format; a line it would refuse is a ConfigError naming the line."""
    anonymous: list[AclRule] = []
    users: dict[str, list[AclRule]] = {}
    patterns: list[AclRule] = []
    current = anonymous
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        if keyword == "user":
            if not rest:
                raise ConfigError("'user' needs a user name", source=source, line=number)
            current = users.setdefault(rest, [])
        elif keyword in ("topic", "pattern"):
            rule = _rule(rest, number, source)
            (patterns if keyword == "pattern" else current).append(rule)
        else:
            raise ConfigError(f"unknown keyword {keyword!r}: a line is 'user NAME', 'topic [read|write|readwrite|"
                              f"deny] TOPIC' or 'pattern [read|write|readwrite|deny] TOPIC'", source=source, line=number)
    return AclPolicy(tuple(anonymous), {user: tuple(rules) for user, rules in users.items()}, tuple(patterns))


def _rule(rest: str, number: int, source: str) -> AclRule:
    access, _, topic = rest.partition(" ")
    if access in _GRANTS:
        topic = topic.strip()
    else:
        access, topic = READWRITE, rest
    if not topic:
        raise ConfigError("a rule needs a topic", source=source, line=number)
    if not valid_filter(topic):
        raise ConfigError(f"{topic!r} is not a valid topic filter ('#' only as the last level, '+' alone in "
                          f"its level)", source=source, line=number)
    return AclRule(access, topic, number)


def _denies_first(rules: tuple[AclRule, ...]) -> tuple[AclRule, ...]:
    return tuple(r for r in rules if r.access == DENY) + tuple(r for r in rules if r.access != DENY)


def _substitute(topic: str, username: str | None, client_id: str) -> str | None:
    for placeholder, value in (("%u", username), ("%c", client_id)):
        if placeholder in topic:
            if not value or any(c in value for c in _UNSAFE_IN_NAMES):
                return None
            topic = topic.replace(placeholder, value)
    return topic


def valid_filter(topic_filter: str) -> bool:
    """True for a well-formed MQTT topic filter [MQTT-4.7.1-2, 4.7.1-3]: ``#`` only as the whole last level,
    ``+`` only as a whole level, not empty, no NUL [MQTT-4.7.3-1, 4.7.3-2]."""
    if not topic_filter or "\x00" in topic_filter:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return bool(topic_filter)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True if the topic name ``topic`` matches ``topic_filter`` [MQTT-4.7]; ``$`` topics only literally."""
    if topic.startswith("$") and not topic_filter.startswith("$"):
        return False
    f, t = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(f):
        if level == "#":
            return True
        if index == len(t) or (level != "+" and level != t[index]):
            return False
    return len(f) == len(t)


def filter_covers(wide: str, narrow: str) -> bool:
    """True if every topic that ``narrow`` matches is matched by ``wide`` (both topic filters)."""
    if narrow.startswith("$") and not wide.startswith("$"):
        return False
    w, n = wide.split("/"), narrow.split("/")
    for index, level in enumerate(w):
        if level == "#":
            return True
        if index == len(n):
            return False
        if n[index] == "#":  # at the first level '#' matches what '+/#' matches; below it, also the parent
            return index == 0 and level == "+" and w[1:] == ["#"]
        if level != "+" and (n[index] == "+" or n[index] != level):
            return False
    return len(w) == len(n)
