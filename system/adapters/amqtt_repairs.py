"""Repairs to amqtt 0.12 where its broker departs from MQTT 3.1.1, for ``EmbeddedBroker`` only.

amqtt has no hooks for these rules, so the repairs wrap amqtt methods, all private
but ``add_subscription`` (the table ``_WRAPS``), from the first ``EmbeddedBroker``'s start to the last one's
stop (reference-counted; importing this module changes nothing). Even while
installed, a repair acts only for the amqtt ``Broker`` objects an ``EmbeddedBroker``
registered: another amqtt broker in the process keeps amqtt's own behaviour.
Written against amqtt 0.12.1: recheck each wrapper, and the differential tests
(``tests/test_broker_differential.py``, which compare with Mosquitto), when
upgrading amqtt.

The rules repaired, with what amqtt does without the repair (Dn: the deviation's
name in the differential tests):

- **Keepalive** [MQTT-3.1.2-24]: a client that sends nothing for 1.5x its keepalive
  is disconnected as if its connection had been lost, so its will is published.
  amqtt's reader timed out after 1x and did nothing: a node whose connection died
  silently (power cut, a blackholed route) stayed ``online`` for ever.
- **Redelivery** [MQTT-4.4.0-1] (D3): a QoS 1 or QoS 2 message sent to a persistent
  session and not acknowledged (no PUBACK; no PUBREC, or no PUBCOMP after the
  PUBREL) when the connection ends, however it ends, is put back in the session's
  in-flight store; amqtt's reconnect path then sends it again (PUBLISH with DUP, or
  the PUBREL). amqtt forgot it. The payload plays no part: an independent
  conformance suite's failing case (a subscriber that stops acknowledging, empty
  payloads) failed because its subscription was QoS 2, so amqtt sent the QoS 1
  message as QoS 2 too (D1), and QoS 2 was not repaired.
- **Clean sessions end with their connection** [MQTT-3.1.2-6] (D7). amqtt kept a
  disconnected clean session up to a second; a persistent CONNECT in that window
  resumed it: session present, the old subscriptions, and still marked clean, so
  nothing was queued for it while offline.
- **Takeover** [MQTT-3.1.4-2] (D6): a clean CONNECT with the client id of a
  connected client closes the old connection (whose will is published) before the
  old session is discarded. amqtt left the old connection open, orphaned, without
  its subscriptions. (amqtt discards the old session before it authenticates the
  new CONNECT; refusing another account's client id must happen before that.)
- **The will is the latest CONNECT's** [MQTT-3.1.2-17] (D9): a resumed session took
  the new will's topic, payload and QoS but kept the first CONNECT's retain flag.
- **Retained messages on SUBSCRIBE only** [MQTT-3.3.1-6] (D4): amqtt also sent, on
  every connect, the retained messages matching any filter of any client.
- **Queued messages carry retain 0** [MQTT-3.3.1-9] (D5): amqtt sent what it had
  queued for an offline session with the retain flag set, so an empty retained
  publish (which clears) reached that session looking like a retained message.
- **A repeated SUBSCRIBE replaces the QoS** [MQTT-3.8.4-3] (D8): amqtt kept the old
  one while the SUBACK said the new one.
- **Delivery QoS is min(published, granted)** [MQTT-3.3.5-1], for a PUBLISH (D1), a
  will (D2) and a retained message: amqtt used the subscription's QoS (the will's
  QoS, for a will), so it queued QoS 0 messages for offline sessions and sent a
  QoS 1 PUBLISH to a QoS 2 subscriber as QoS 2.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from amqtt import __version__ as amqtt_version
from amqtt.broker import AMQTT_MAGIC_VALUE_RET_SUBSCRIBED as REFUSED
from amqtt.broker import Broker
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import OUTGOING

from system.errors import BackendError

__all__ = ["install", "remove", "KEEPALIVE_FACTOR"]

KEEPALIVE_FACTOR = 1.5  # [MQTT-3.1.2-24]

_OURS: set[Any] = set()  # the plugin managers of the amqtt Brokers our EmbeddedBrokers run (one per Broker)
_CONNECTING = "hilsim.connecting"  # session attribute: amqtt's connect path runs, its message loop has not begun
_WILL_RETAIN = "hilsim_will_retain"  # handler attribute: the retain flag of the will in its CONNECT


def _ours(broker_or_handler: Any) -> bool:
    return broker_or_handler.plugins_manager in _OURS


# --- keepalive -----------------------------------------------------------------------------------------


def _ending_silent_connections(handle_read_timeout: Callable) -> Callable:
    """The reader found no packet within the (1.5x) keepalive: end the connection as a lost one."""

    def wrapped(handler: BrokerProtocolHandler) -> None:
        if not _ours(handler):
            return handle_read_timeout(handler)
        waiter = handler._disconnect_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # the broker's message loop publishes the will and stops the handler
        return None

    return wrapped


def _with_the_connects_terms(initialize: Callable) -> Callable:
    """Keepalive at 1.5x for amqtt's reader timeout, and the will's retain flag of this CONNECT (D9)."""

    async def wrapped(broker: Broker, *args: Any) -> tuple[BrokerProtocolHandler, Any]:
        handler, session = await initialize(broker, *args)
        if _ours(broker):
            session.keep_alive = session.keep_alive * KEEPALIVE_FACTOR  # read by the reader loop when it starts
            session.will_retain = getattr(handler, _WILL_RETAIN, session.will_retain)
        return handler, session

    return wrapped


def _remembering_the_connect(init_from_connect: Callable) -> classmethod:
    """The CONNECT's will retain flag, kept on the handler: amqtt drops it when it resumes a session."""

    async def wrapped(cls: type, reader: Any, writer: Any, plugins_manager: Any, *rest: Any) -> tuple:
        handler, incoming = await init_from_connect(reader, writer, plugins_manager, *rest)
        if plugins_manager in _OURS:
            setattr(handler, _WILL_RETAIN, incoming.will_retain)
        return handler, incoming

    return classmethod(wrapped)


# --- redelivery ----------------------------------------------------------------------------------------


def _keeping_unacked(flow: Callable) -> Callable:
    """``flow`` (QoS 1 or 2), except that an unfinished outgoing message stays owed to a persistent session."""

    async def wrapped(handler: BrokerProtocolHandler, app_message: Any) -> None:
        session = handler.session  # detached by the time a dropped connection cancels this flow
        try:
            await flow(handler, app_message)
        except (asyncio.CancelledError, TimeoutError):
            finished = app_message.puback_packet if app_message.qos == 1 else app_message.pubcomp_packet
            if (_ours(handler) and session is not None and not session.clean_session
                    and app_message.direction == OUTGOING and finished is None):
                session.inflight_out[app_message.packet_id] = app_message  # amqtt's reconnect path resends it
            raise

    return wrapped


# --- delivery QoS --------------------------------------------------------------------------------------

_PUBLISHED_QOS = "hilsim.published_qos"  # session attribute while amqtt routes a PUBLISH that session sent


def _at_most(published: int | None, granted: int) -> int:
    return granted if published is None else min(published, granted)


class _Broadcast(dict):
    """amqtt's broadcast record, delivering at min(published, granted) [MQTT-3.3.5-1].

    amqtt's router asks ``broadcast.get("qos", granted)`` for each matching subscription:
    without a "qos" entry that is the granted QoS (D1); with the will's QoS forced in, the
    will's (D2). This record answers the minimum of the two instead.
    """

    published_qos = 0

    def get(self, key: str, default: Any = None) -> Any:
        if key == "qos" and default is not None:
            return _at_most(self.published_qos, default)
        return super().get(key, default)


def _noting_the_published_qos(handle_delivery: Callable) -> Callable:
    """While amqtt routes a PUBLISH from ``client_session``, its QoS is on the session for ``_capping_qos``."""

    async def wrapped(broker: Broker, client_session: Any, handler: Any, wait_deliver: Any) -> bool:
        message = None if wait_deliver.cancelled() or wait_deliver.exception() else wait_deliver.result()
        if _ours(broker) and message is not None:
            client_session.attributes[_PUBLISHED_QOS] = message.qos
        try:
            return await handle_delivery(broker, client_session, handler, wait_deliver)
        finally:
            client_session.attributes.pop(_PUBLISHED_QOS, None)

    return wrapped


def _capping_qos(broadcast_message: Callable) -> Callable:
    """A PUBLISH or a will goes to each subscriber at min(its QoS, the subscription's) (D1, D2)."""

    async def wrapped(broker: Broker, session: Any, topic: Any, data: Any, force_qos: int | None = None) -> None:
        published = force_qos  # a will's QoS
        if published is None and session is not None:
            published = session.attributes.get(_PUBLISHED_QOS)
        if not _ours(broker) or published is None:
            return await broadcast_message(broker, session, topic, data, force_qos)
        record = _Broadcast(session=session, topic=topic, data=data)
        record.published_qos = published
        await broker._broadcast_queue.put(record)
        return None

    return wrapped


# --- sessions ------------------------------------------------------------------------------------------


def _ending_clean_sessions(handle_disconnect: Callable) -> Callable:
    """After amqtt has ended a connection (will included): a clean session goes with it (D7)."""

    async def wrapped(broker: Broker, client_session: Any, *args: Any) -> None:
        await handle_disconnect(broker, client_session, *args)
        if _ours(broker) and client_session.clean_session:
            current, _ = broker._sessions.get(client_session.client_id, (None, None))
            if current is client_session:  # not already replaced by a newer connection
                await broker._delete_session(client_session.client_id)

    return wrapped


def _taking_over(delete_session: Callable) -> Callable:
    """A clean CONNECT discards the old session: if it is still connected, close its connection first (D6)."""

    async def wrapped(broker: Broker, client_id: str) -> None:
        session, handler = broker._sessions.get(client_id, (None, None))
        if _ours(broker) and handler is not None and session.transitions.is_connected():
            await handler.handle_connection_closed()  # as amqtt's own takeover of a persistent session
            await handler.stop()
        await delete_session(broker, client_id)

    return wrapped


def _replacing_qos(add_subscription: Callable) -> Callable:
    """A SUBSCRIBE to a filter the session has replaces its QoS (D8)."""

    async def wrapped(broker: Broker, subscription: tuple[str, int], session: Any) -> int:
        granted = await add_subscription(broker, subscription, session)
        if _ours(broker) and granted != REFUSED:
            entries = broker._subscriptions.get(subscription[0], [])
            for index, (held, _) in enumerate(entries):
                if held.client_id == session.client_id:
                    entries[index] = (session, granted)
        return granted

    return wrapped


# --- retained messages ---------------------------------------------------------------------------------


def _queued_without_retain(publish_queued: Callable) -> Callable:
    """What was queued for an offline session goes out with retain 0 (D5); connect-time retained sends stop (D4)."""

    async def wrapped(broker: Broker, session: Any) -> None:
        if not _ours(broker):
            return await publish_queued(broker, session)
        session.attributes[_CONNECTING] = True  # amqtt's next step sends retained messages for every filter
        handler = broker._get_handler(session)
        sends = []
        while handler is not None and not session.retained_messages.empty():
            queued = session.retained_messages.get_nowait()
            sends.append(asyncio.ensure_future(handler.mqtt_publish(queued.topic, queued.data, queued.qos,
                                                                    retain=False)))
        if sends:
            await asyncio.wait(sends)
        return None

    return wrapped


def _retained_on_subscribe_only(publish_retained: Callable) -> Callable:
    """The retained messages matching a new subscription, at min(their QoS, granted) [MQTT-3.3.5-1]; none on connect.

    (amqtt sent a retained QoS 0 message at the subscription's QoS: it took ``retained.qos or granted``.)
    """

    async def wrapped(broker: Broker, subscription: tuple[str, int], session: Any) -> None:
        if not _ours(broker):
            return await publish_retained(broker, subscription, session)
        if session.attributes.get(_CONNECTING):
            return None  # amqtt's connect path (D4), not a SUBSCRIBE
        topic_filter, granted = subscription
        handler = broker._get_handler(session)
        may_read = getattr(broker, "hilsim_may_read", None)  # the ACL's read check, set by EmbeddedBroker
        matching = [kept for topic, kept in list(broker._retained_messages.items())
                    if handler is not None and broker._matches(topic, topic_filter)
                    and (may_read is None or may_read(session, topic))]
        sends = [asyncio.ensure_future(handler.mqtt_publish(kept.topic, kept.data, _at_most(kept.qos, granted),
                                                            retain=True)) for kept in matching]
        if sends:
            await asyncio.wait(sends)
        return None

    return wrapped


def _subscribes_after_connect(message_loop: Callable) -> Callable:
    async def wrapped(broker: Broker, client_session: Any, *args: Any) -> None:
        client_session.attributes.pop(_CONNECTING, None)  # from here on, a retained send answers a SUBSCRIBE
        await message_loop(broker, client_session, *args)

    return wrapped


# --- installing ----------------------------------------------------------------------------------------

_WRAPS: tuple[tuple[type, str, Callable], ...] = (
    (BrokerProtocolHandler, "handle_read_timeout", _ending_silent_connections),
    (BrokerProtocolHandler, "init_from_connect", _remembering_the_connect),
    (BrokerProtocolHandler, "_handle_qos1_message_flow", _keeping_unacked),
    (BrokerProtocolHandler, "_handle_qos2_message_flow", _keeping_unacked),
    (Broker, "_initialize_client_session", _with_the_connects_terms),
    (Broker, "_handle_disconnect", _ending_clean_sessions),
    (Broker, "_delete_session", _taking_over),
    (Broker, "add_subscription", _replacing_qos),
    (Broker, "_handle_message_delivery", _noting_the_published_qos),
    (Broker, "_broadcast_message", _capping_qos),
    (Broker, "_publish_session_retained_messages", _queued_without_retain),
    (Broker, "_publish_retained_messages_for_subscription", _retained_on_subscribe_only),
    (Broker, "_client_message_loop", _subscribes_after_connect),
)
_own: dict[tuple[type, str], Any] = {}  # what each class itself defined under the name, to put back


def install(broker: Broker) -> None:
    """Repair amqtt for ``broker`` (an amqtt Broker run by an EmbeddedBroker); the first call wraps amqtt."""
    if not _OURS:
        missing = [f"{cls.__name__}.{name}" for cls, name, _ in _WRAPS if getattr(cls, name, None) is None]
        if missing:
            raise BackendError(f"amqtt {amqtt_version} has no {', '.join(missing)}: the MQTT 3.1.1 repairs "
                               f"were written for amqtt 0.12 and need updating")
        for cls, name, wrap in _WRAPS:
            _own[cls, name] = cls.__dict__.get(name)
            setattr(cls, name, wrap(getattr(cls, name)))
    _OURS.add(broker.plugins_manager)


def remove(broker: Broker) -> None:
    """Stop repairing for ``broker``; when none is left, amqtt is exactly as shipped again."""
    if broker.plugins_manager not in _OURS:
        return
    _OURS.discard(broker.plugins_manager)
    if not _OURS:
        for cls, name, _ in reversed(_WRAPS):
            own = _own.pop((cls, name))
            if own is None:
                delattr(cls, name)  # the inherited method shows through again
            else:
                setattr(cls, name, own)
