"""The live broker's policy in sim: the shipped ACL and client ids bound to accounts.

``hilsim broker`` refuses a CONNECT whose client id is not its account's
(:mod:`system.decisions.mqtt_client_ids`), grants a subscription only where a read rule covers it, drops a
publish its account may not write and delivers a message only to a client that may read it
(:mod:`system.decisions.mqtt_acl`, with the shipped ``system/adapters/default.acl``). The broker model's
host (``sim.models.sim_mqtt.BrokerHost``) asks a :class:`BrokerPolicy` the same questions, from the same
decisions and the same file, so an adversary in sim meets the rules it would meet live.

Decisions are cached per client and topic: a fleet asks the same question for every reading.
"""

from __future__ import annotations

from importlib import resources

from system.decisions.mqtt_acl import AclPolicy, ClientAccess, parse_acl
from system.decisions.mqtt_client_ids import ClientIdRule, check_client_id


class BrokerPolicy:
    """Which client may connect, publish, subscribe and read; ``bind`` a client id to its account first."""

    def __init__(self, acl: AclPolicy, client_ids: ClientIdRule = ClientIdRule("account")):
        self.acl = acl
        self.client_ids = client_ids
        self._access: dict[str, ClientAccess] = {}
        self._accounts: dict[str, str] = {}
        self._publish: dict[tuple[str, str], bool] = {}
        self._read: dict[tuple[str, str], bool] = {}

    @classmethod
    def shipped(cls) -> "BrokerPolicy":
        """The policy ``hilsim broker`` applies by default: ``default.acl``, client ids bound to accounts."""
        text = resources.files("system.adapters").joinpath("default.acl").read_text(encoding="utf-8")
        return cls(parse_acl(text, "default.acl"), ClientIdRule("account"))

    def admit(self, account: str, client_id: str, *, clean_session: bool) -> str:
        """``ok``, or why the CONNECT is refused (``not_yours``, ``empty_persistent``)."""
        verdict = check_client_id(account, client_id, clean_session=clean_session, rule=self.client_ids)
        if verdict == "ok" and self._accounts.get(client_id) != account:
            self._accounts[client_id] = account
            self._access[client_id] = self.acl.access_for(account, client_id)
            self._publish = {k: v for k, v in self._publish.items() if k[0] != client_id}
            self._read = {k: v for k, v in self._read.items() if k[0] != client_id}
        return verdict

    def may_publish(self, client_id: str, topic: str) -> bool:
        key = (client_id, topic)
        found = self._publish.get(key)
        if found is None:
            access = self._access.get(client_id)
            found = self._publish[key] = access is not None and access.may_publish(topic)
        return found

    def may_subscribe(self, client_id: str, topic_filter: str) -> bool:
        access = self._access.get(client_id)
        return access is not None and access.may_subscribe(topic_filter)

    def may_read(self, client_id: str, topic: str) -> bool:
        key = (client_id, topic)
        found = self._read.get(key)
        if found is None:
            access = self._access.get(client_id)
            found = self._read[key] = access is not None and access.may_read(topic)
        return found
