"""Prometheus remote write (1.0) over httpx: a ``WriteRequest`` in protobuf, snappy-compressed, POSTed.

The message types are declared here from the protocol's public field numbers (``prometheus.WriteRequest``,
``TimeSeries``, ``Label``, ``Sample``) and built by the protobuf library at import, so no generated code or
compiler is needed; snappy's block format comes from cramjam. A 4xx answer other than 429 means the
receiver will never take the batch (``RefusedInput``: dropped and counted by the caller); anything else that
fails is a ``BackendError`` the caller retries.
"""

from __future__ import annotations

from typing import Any

import cramjam
import httpx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from system.errors import BackendError, RefusedInput

HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "hilsim-bridge"}


def _message_classes() -> dict[str, Any]:
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="hilsim_remote_write.proto", package="prometheus",
                                               syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            field = m.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name

    one, many = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Label", ("name", 1, F.TYPE_STRING, one, ""), ("value", 2, F.TYPE_STRING, one, ""))
    message("Sample", ("value", 1, F.TYPE_DOUBLE, one, ""), ("timestamp", 2, F.TYPE_INT64, one, ""))
    message("TimeSeries", ("labels", 1, F.TYPE_MESSAGE, many, ".prometheus.Label"),
            ("samples", 2, F.TYPE_MESSAGE, many, ".prometheus.Sample"))
    message("WriteRequest", ("timeseries", 1, F.TYPE_MESSAGE, many, ".prometheus.TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prometheus.{name}"))
            for name in ("WriteRequest", "TimeSeries")}


MESSAGES = _message_classes()


def encode(series: list[tuple[tuple[tuple[str, str], ...], list[tuple[int, float]]]]) -> bytes:
    """The snappy-compressed ``WriteRequest`` of ``series``: (sorted labels, [(timestamp ms, value), ...])."""
    request = MESSAGES["WriteRequest"]()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in sorted(labels):  # the protocol wants labels sorted by name
            ts.labels.add(name=name, value=value)
        for ms, value in samples:
            ts.samples.add(value=value, timestamp=ms)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def decode(body: bytes) -> Any:
    """A ``WriteRequest`` back from its wire form (for tests and fake receivers)."""
    request = MESSAGES["WriteRequest"]()
    request.ParseFromString(bytes(cramjam.snappy.decompress_raw(body)))
    return request


class RemoteWriteTarget:
    """``write(series)`` POSTs one request to ``url`` (e.g. ``http://prometheus:9090/api/v1/write``)."""

    def __init__(self, client: httpx.AsyncClient, url: str, *, timeout: float = 10.0):
        self.client = client
        self.url = url
        self.timeout = timeout

    async def write(self, series: list) -> None:
        try:
            response = await self.client.post(self.url, content=encode(series), headers=HEADERS,
                                              timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise BackendError(f"remote write to {self.url} failed: {exc!r}"[:300]) from exc
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise RefusedInput("remote_write_refused", f"HTTP {response.status_code} {response.text[:200]}")
        if response.status_code >= 300:
            raise BackendError(f"remote write to {self.url}: HTTP {response.status_code} {response.text[:200]}")
