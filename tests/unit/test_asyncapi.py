"""docs/asyncapi.yaml stays in step with the code: streams, envelope, event types, schemas, and
the mail queue (its keys, its element, its settings).

The data schemas are the files in docs/schemas/ (``make schemas`` writes them from the pydantic
models), which the document references; these tests compare them with what the models generate
after inlining ``$ref``s and dropping annotations (title, description, examples), so adding,
removing or changing a field or a constraint in a model fails here until the document says the
same. What payments really writes is validated against the document too.

Each message has a version of its data (``x-schema-version``, and the ``dataschema`` its
entries carry): the newest is what the model generates; an older one is the newest without the
fields added since (contracts.payments.STREAM_DATA, payments.history.upcasters.STORED_DATA), and the
code still reads it (examples of both are checked).

The document is also validated against the official AsyncAPI 3.1.0 JSON schema, kept in
``docs/schemas`` (no Python package ships it).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml
from contracts import payments as public
from contracts.schemas import DataSchema
from eventkit import (
    DeadLetter,
    Event,
    Message,
    RedisWorkQueue,
    dead_letter_stream,
    parse_data,
    schema_of,
)
from eventkit.deadletter import FIELD_PREFIX, MAX_ERROR_CHARS, dead_letter
from eventkit.envelope import EXTENSIONS
from eventkit.event_store import entry_fields, key_of
from eventkit.testing import InMemoryEventStore
from notifications import bootstrap as notifications_bootstrap
from notifications import handlers as notifications_handlers
from notifications.adapters import RedisNotificationStore
from notifications.config import Settings as NotificationsSettings
from notifications.domain import Notification, compose
from notifications.keys import MAIL_QUEUE
from notifications.mail.compose import MailJob
from orders import bootstrap as orders_bootstrap
from orders import handlers as orders_handlers
from payments import domain
from payments.commands import Payments, ReceivePayment, RefundPayment
from payments.config import Settings as PaymentsSettings
from payments.history import stream_of
from payments.history.upcasters import STORED_DATA, UPCASTERS
from pydantic import BaseModel
from servicekit import ConsumerSettings, ServiceSettings

Schema = dict[str, Any]

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
# The document's base URI when its schemas are used by jsonschema: its references to the schema
# files (``schemas/….json``) are relative to it, as they are to the file.
DOC_URI = DOC_PATH.as_uri()
SCHEMAS = DOC_PATH.parent / "schemas"
STORE_NAMESPACE = "payments"  # as payments.bootstrap creates its event store

NOTIFICATIONS = "paymentNotifications"
STATE = "paymentState"
EVENT_STORE = "paymentEventStore"
PUBLIC_CHANNELS = (NOTIFICATIONS, STATE)

# Which model ``data`` decodes to, on each channel that carries events, by event type: the
# newest version (the state's model reads every version: a tolerant reader; the event store's
# older versions are upcast first).
DATA_MODELS: dict[str, Callable[[str], type[BaseModel]]] = {
    NOTIFICATIONS: lambda _type: public.STREAM_DATA[public.NOTIFICATION_STREAM].model,
    STATE: lambda _type: public.STREAM_DATA[public.STATE_STREAM].model,
    EVENT_STORE: lambda event_type: domain.EVENT_CLASSES[event_type],
}
# Each model's versions (the fields each added): version n is the newest without those added
# after n.
VERSIONS: dict[type[BaseModel], DataSchema] = {
    data.model: data for data in [*public.STREAM_DATA.values(), *STORED_DATA.values()]
}

# Consumer group (named after the service it belongs to) → the stream it reads, and the event
# types its handlers take (the tables are built without dependencies: no handler is called).
ORDERS_HANDLERS = orders_handlers.build_handlers(None)  # type: ignore[arg-type]
NOTIFICATIONS_HANDLERS = notifications_handlers.build_handlers(None, None)  # type: ignore[arg-type]
GROUPS = {
    orders_bootstrap.GROUP: (public.STATE_STREAM, ORDERS_HANDLERS),
    notifications_bootstrap.GROUP: (public.NOTIFICATION_STREAM, NOTIFICATIONS_HANDLERS),
}

ANNOTATIONS = {"title", "description", "examples", "$schema", "$id", "$comment"}
PARAMETER = re.compile(r"\{([^{}]+)\}")


# ---- Reading the document ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc() -> Schema:
    loaded: Schema = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def resolve(doc: Schema, ref: str) -> Any:
    """The node a reference points to: in the document (``#/a/b``), or a whole schema file of
    docs/schemas/ (``schemas/payments.PaymentNotice.v1.json``: they hold no references)."""
    if not ref.startswith("#"):
        path = DOC_PATH.parent / ref
        assert path.parent == SCHEMAS, f"not a file of docs/schemas/: {ref}"
        return json.loads(path.read_text(encoding="utf-8"))
    assert ref.startswith("#/"), f"a pointer into the document: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def deref(doc: Schema, node: Any) -> Any:
    """A Reference Object's target, or the node itself."""
    return resolve(doc, node["$ref"]) if isinstance(node, dict) and "$ref" in node else node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def channel_messages(doc: Schema, channel: str) -> dict[str, tuple[str, Schema]]:
    """A channel's messages by key: the pointer to each message object and the object."""
    out = {}
    for key, node in doc["channels"][channel]["messages"].items():
        pointer = node.get("$ref", f"#/channels/{channel}/messages/{key}")
        out[key] = (pointer, resolve(doc, pointer))
    return out


def cloudevents_type(message: Schema) -> str:
    """The CloudEvents ``type`` a message carries; its extension and its payload must agree."""
    consts = [
        branch["properties"]["type"]["const"]
        for branch in message["payload"].get("allOf", [])
        if "const" in branch.get("properties", {}).get("type", {})
    ]
    assert consts == [message["x-cloudevents-type"]], message["name"]
    return consts[0]


def schema_version(message: Schema) -> int:
    """A message's version of its data; the ``dataschema`` its entries carry, if any, agrees."""
    version: int = message["x-schema-version"]
    for branch in message["payload"].get("allOf", []):
        const = branch.get("properties", {}).get("dataschema", {}).get("const")
        if const is not None:
            event = Event(source="s", type="t", subject="s", dataschema=const, data={})
            assert schema_of(event)[1] == version, message["name"]
    return version


def older(schema: Schema, model: type[BaseModel], version: int) -> Schema:
    """``schema`` (what ``model``, the newest version, generates) as it was in ``version``."""
    added = VERSIONS[model].later(version)
    properties = {k: v for k, v in schema["properties"].items() if k not in added}
    out = {**schema, "properties": properties}
    if "required" in schema:
        out["required"] = [r for r in schema["required"] if r not in added]
    return out


def data_schema_pointer(message_pointer: str, message: Schema) -> str:
    """The pointer to the schema of a message's ``data`` once decoded (its ``contentSchema``)."""
    branches = [
        i
        for i, branch in enumerate(message["payload"].get("allOf", []))
        if "contentSchema" in branch.get("properties", {}).get("data", {})
    ]
    assert len(branches) == 1, f"{message['name']}: one decoded schema for data"
    return f"{message_pointer}/payload/allOf/{branches[0]}/properties/data/contentSchema"


def expand(doc: Schema, channel: str, **values: str) -> str:
    """A channel's address with its parameters substituted (a fixed one by its only value)."""
    parameters = doc["channels"][channel].get("parameters", {})

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        (only,) = deref(doc, parameters[name])["enum"]
        return str(only)

    return PARAMETER.sub(value, doc["channels"][channel]["address"])


def channel_of(doc: Schema, operation: Schema) -> str:
    ref = operation["channel"]["$ref"]
    assert ref.startswith("#/channels/")
    return ref.removeprefix("#/channels/")


def validate(doc: Schema, pointer: str, instance: Any) -> None:
    """Validate ``instance`` against the schema at ``pointer`` in the document."""
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT7

    files = [
        (path.as_uri(), DRAFT7.create_resource(json.loads(path.read_text(encoding="utf-8"))))
        for path in SCHEMAS.glob("*.json")
    ]
    registry = referencing.Registry().with_resources(
        [(DOC_URI, DRAFT7.create_resource(doc)), *files]
    )
    validator = jsonschema.Draft7Validator({"$ref": DOC_URI + pointer}, registry=registry)
    validator.validate(instance)


# ---- Comparing schemas ------------------------------------------------------------------------


def inline(schema: Any, lookup: Callable[[str], Schema]) -> Any:
    """The schema with every ``$ref`` replaced by its target (and ``$defs`` dropped)."""
    if isinstance(schema, list):
        return [inline(item, lookup) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return inline({**lookup(schema["$ref"]), **siblings}, lookup)
    return {k: inline(v, lookup) for k, v in schema.items() if k != "$defs"}


def constraints(schema: Any) -> Any:
    """The schema without annotations: what it accepts, and nothing else."""
    if isinstance(schema, list):
        return [constraints(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key in ("properties", "patternProperties"):  # names here are fields, not keywords
            out[key] = {name: constraints(sub) for name, sub in value.items()}
        else:
            out[key] = constraints(value)
    return out


def model_schema(model: type[BaseModel]) -> Schema:
    generated = model.model_json_schema()
    defs = generated.get("$defs", {})
    result: Schema = constraints(inline(generated, lambda ref: defs[ref.rsplit("/", 1)[-1]]))
    return result


def doc_schema(doc: Schema, pointer: str) -> Schema:
    result: Schema = constraints(inline(resolve(doc, pointer), lambda ref: resolve(doc, ref)))
    return result


# ---- The document as a whole ------------------------------------------------------------------


def test_document_is_asyncapi_3(doc: Schema) -> None:
    assert re.fullmatch(r"3\.\d+\.\d+", str(doc["asyncapi"]))
    project = tomllib.loads((DOC_PATH.parents[1] / "pyproject.toml").read_text())
    assert doc["info"]["version"] == project["project"]["version"]
    for pattern in ("event notification", "event-carried state transfer", "event sourcing"):
        assert pattern in doc["info"]["description"].lower()
    assert "GET /payments/{payment_id}" in doc["info"]["description"]


def test_document_validates_against_the_official_asyncapi_schema(doc: Schema) -> None:
    path = Path(__file__).parents[2] / "docs" / "schemas" / "asyncapi-3.1.0.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["properties"]["asyncapi"]["const"] == doc["asyncapi"]
    jsonschema.Draft7Validator(schema).validate(doc)


def test_every_reference_resolves(doc: Schema) -> None:
    for ref in refs(doc):
        assert resolve(doc, ref) is not None, ref


def test_server_is_the_default_redis(doc: Schema) -> None:
    (server,) = doc["servers"].values()
    assert server["protocol"] == "redis"
    default = urlparse(ServiceSettings.model_fields["redis_url"].default)
    assert server["host"] == f"localhost:{default.port}"


# ---- Channels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "address"),
    [
        (NOTIFICATIONS, public.NOTIFICATION_STREAM),
        (STATE, public.STATE_STREAM),
        ("ordersDeadLetters", dead_letter_stream(public.STATE_STREAM, "orders")),
        (
            "notificationsDeadLetters",
            dead_letter_stream(public.NOTIFICATION_STREAM, "notifications"),
        ),
    ],
)
def test_channel_address_is_the_stream_in_the_code(doc: Schema, channel: str, address: str) -> None:
    assert doc["channels"][channel]["address"] == address
    assert expand(doc, channel) == address  # hash tags substitute to themselves


def test_event_store_address_is_the_key_of_a_payments_stream(doc: Schema) -> None:
    assert expand(doc, EVENT_STORE, payment_id="p-42") == key_of(STORE_NAMESPACE, stream_of("p-42"))


def test_address_parameters_are_declared(doc: Schema) -> None:
    """Braces in an address are AsyncAPI parameters: a hash tag is one whose only value is
    itself, so the address substitutes back to the literal key."""
    for name, channel in doc["channels"].items():
        in_address = set(PARAMETER.findall(channel["address"]))
        assert in_address == set(channel.get("parameters", {})), name
        for parameter in in_address - {"payment_id"}:
            declared = deref(doc, channel["parameters"][parameter])
            assert declared["enum"] == ["{" + parameter + "}"], (name, parameter)


def test_public_streams_are_trimmed_as_payments_configures(doc: Schema) -> None:
    maxlen = PaymentsSettings.model_fields["stream_maxlen"].default
    for channel in PUBLIC_CHANNELS:
        assert doc["channels"][channel]["x-redis-maxlen"] == maxlen


@pytest.mark.parametrize("channel", PUBLIC_CHANNELS)
def test_public_channels_carry_every_public_event_type_and_nothing_else(
    doc: Schema, channel: str
) -> None:
    messages = channel_messages(doc, channel)
    types = {cloudevents_type(message) for _, message in messages.values()}
    assert types == set(public.EVENT_TYPES)
    for key, (_, message) in messages.items():  # the keys name the type, and a newer version
        version = schema_version(message)
        assert key == cloudevents_type(message) + (f"V{version}" if version > 1 else ""), key


def test_the_state_stream_lists_both_versions_of_every_type(doc: Schema) -> None:
    versions = {
        (cloudevents_type(m), schema_version(m)) for _, m in channel_messages(doc, STATE).values()
    }
    written = Event(source="s", type="t", subject="s", dataschema=public.STATE_SCHEMA, data={})
    current = schema_of(written)[1]  # the version payments writes now
    assert versions == {(t, v) for t in public.EVENT_TYPES for v in range(1, current + 1)}


def test_event_store_carries_every_domain_event_type(doc: Schema) -> None:
    messages = channel_messages(doc, EVENT_STORE)
    versions = {(cloudevents_type(m), schema_version(m)) for _, m in messages.values()}
    every = {(t, v) for t in domain.EVENT_CLASSES for v in range(1, UPCASTERS.current(t) + 1)}
    assert versions == every  # every version that can be stored, none other


def test_message_names_are_unique(doc: Schema) -> None:
    names = [message["name"] for message in doc["components"]["messages"].values()]
    assert len(names) == len(set(names))
    assert names == list(doc["components"]["messages"])


# ---- Envelope and data schemas ----------------------------------------------------------------


def an_event() -> Event:
    return Event(source=public.SOURCE, type=public.PAYMENT_RECEIVED, subject="p-1", data={})


def an_event_with_every_extension() -> Event:
    return an_event().model_copy(
        update={
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "vendor=value",
            "correlationid": "c-1",
            "causationid": "e-0",
        }
    )


def test_envelope_fields_are_the_events_flat_fields(doc: Schema) -> None:
    fields = doc["components"]["schemas"]["EventFields"]
    flat, full = an_event().to_fields(), an_event_with_every_extension().to_fields()
    assert set(fields["properties"]) == set(Event.model_fields) == {*full, "dataschema"}
    assert set(fields["required"]) == set(flat)  # the extensions and dataschema are optional
    assert set(full) - set(flat) == set(EXTENSIONS)
    assert fields["additionalProperties"] is False
    generated = Event.model_json_schema()["properties"]
    for name, schema in fields["properties"].items():
        if name == "data":  # an object in the model, a JSON string in the entry
            expected = {"type": "string", "contentMediaType": "application/json"}
        elif name in EXTENSIONS:  # optional in the model, a string when in an entry
            (expected,) = [b for b in generated[name]["anyOf"] if b["type"] != "null"]
        elif name == "dataschema":  # None in the model: absent from the entry
            expected = constraints(generated[name])["anyOf"][0]
        else:
            expected = {k: v for k, v in constraints(generated[name]).items() if k != "default"}
        assert constraints(schema) == expected, name


def test_event_store_fields_are_the_envelope_plus_version(doc: Schema) -> None:
    stored = doc["components"]["schemas"]["StoredEventFields"]
    flat, full = an_event().to_fields(), an_event_with_every_extension().to_fields()
    assert set(stored["properties"]) == {*full, "version", "dataschema"}
    assert set(stored["required"]) == {*flat, "version"}
    assert stored["additionalProperties"] is False
    for name in [*full, "dataschema"]:
        assert stored["properties"][name] == {
            "$ref": f"#/components/schemas/EventFields/properties/{name}"
        }
    # An entry with a ``version`` still decodes, and nothing else may be added.
    Event.from_fields({**flat, "version": "1"})


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("PaymentNotice", public.STREAM_DATA[public.NOTIFICATION_STREAM].model),
        ("PaymentState", public.STREAM_DATA[public.STATE_STREAM].model),
        ("PaymentReceivedData", domain.PaymentReceived),
        ("PaymentRefundedData", domain.PaymentRefunded),
    ],
)
def test_data_schema_is_what_the_model_generates(
    doc: Schema, name: str, model: type[BaseModel]
) -> None:
    assert doc_schema(doc, f"#/components/schemas/{name}") == model_schema(model)


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("PaymentStateV1", public.STREAM_DATA[public.STATE_STREAM].model),
        ("PaymentReceivedDataV1", domain.PaymentReceived),
    ],
)
def test_version_1_is_version_2_without_what_it_added(
    doc: Schema, name: str, model: type[BaseModel]
) -> None:
    schema = model_schema(model)
    assert doc_schema(doc, f"#/components/schemas/{name}") == older(schema, model, 1)


def test_payment_status_lists_every_status(doc: Schema) -> None:
    state = doc_schema(doc, "#/components/schemas/PaymentState")
    assert state["properties"]["status"]["enum"] == [s.value for s in public.PaymentStatus]


@pytest.mark.parametrize("channel", list(DATA_MODELS))
def test_each_message_decodes_data_with_the_right_model(doc: Schema, channel: str) -> None:
    for pointer, message in channel_messages(doc, channel).values():
        model = DATA_MODELS[channel](cloudevents_type(message))
        expected = older(model_schema(model), model, schema_version(message))
        assert doc_schema(doc, data_schema_pointer(pointer, message)) == expected


# ---- Examples and real entries ----------------------------------------------------------------


def check_entry(doc: Schema, channel: str, fields: Mapping[str, str]) -> None:
    """An entry on ``channel`` matches its message in the document (the one of its type and
    version), and the code reads it (the event store's after upcasting)."""
    event = Event.from_fields(fields)
    (pointer, message) = next(
        (pointer, message)
        for pointer, message in channel_messages(doc, channel).values()
        if (cloudevents_type(message), schema_version(message)) == (event.type, schema_of(event)[1])
    )
    validate(doc, f"{pointer}/payload", dict(fields))
    validate(doc, data_schema_pointer(pointer, message), json.loads(fields["data"]))
    if channel == EVENT_STORE:
        event = UPCASTERS.upcast(event)
    parse_data(DATA_MODELS[channel](event.type), event)


def test_message_examples_are_real_entries(doc: Schema) -> None:
    checked = 0
    for channel in DATA_MODELS:
        for _, message in channel_messages(doc, channel).values():
            assert message["examples"], message["name"]
            for example in message["examples"]:
                check_entry(doc, channel, example["payload"])
                checked += 1
    assert checked >= 9


def test_dead_letter_example_is_a_real_entry(doc: Schema) -> None:
    (example,) = doc["components"]["messages"]["DeadLetter"]["examples"]
    validate(doc, "#/components/messages/DeadLetter/payload", example["payload"])
    raw = {k.encode(): str(v).encode() for k, v in example["payload"].items()}
    letter = DeadLetter.from_entry(b"1-0", raw)
    Event.from_fields(letter.fields)


async def test_what_payments_writes_is_what_the_document_says(doc: Schema) -> None:
    store = InMemoryEventStore(STORE_NAMESPACE)
    payments = Payments(store)
    payment = await payments.receive(ReceivePayment("ord-1001", "cust-42", 2500, "EUR"))
    await payments.refund(RefundPayment(payment.payment_id, 500, "damaged in transit"))
    await payments.refund(RefundPayment(payment.payment_id, 2000, None))

    channels = {
        public.NOTIFICATION_STREAM: NOTIFICATIONS,
        public.STATE_STREAM: STATE,
        expand(doc, EVENT_STORE, payment_id=payment.payment_id): EVENT_STORE,
    }
    assert set(store.streams.keys()) == set(channels)
    for key, channel in channels.items():
        events = store.streams.events(key)
        assert len(events) == 3
        for version, event in enumerate(events, start=1):
            fields = entry_fields(event, version) if channel == EVENT_STORE else event.to_fields()
            check_entry(doc, channel, fields)


class Recorder:
    """Stands in for Redis: records the keys and arguments each script is run with."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[Any]]] = []

    def register_script(self, _script: str) -> Any:
        async def run(keys: list[str], args: list[Any]) -> int:
            self.calls.append((keys, args))
            return 1

        return run


async def test_dead_letters_are_what_the_document_says(doc: Schema) -> None:
    redis = Recorder()
    original = {k.encode(): v.encode() for k, v in an_event().to_fields().items()}
    await dead_letter(
        redis,
        public.STATE_STREAM,
        "orders",
        b"1-0",
        original,
        consumer="orders-1",
        error="x" * (MAX_ERROR_CHARS + 1),
        deliveries=5,
    )
    ((keys, args),) = redis.calls
    source, stream = keys
    assert source == public.STATE_STREAM
    assert stream == doc["channels"]["ordersDeadLetters"]["address"]
    group, entry_id, *pairs = args
    assert (group, entry_id) == ("orders", b"1-0")
    record = dict(zip(pairs[::2], pairs[1::2], strict=True))

    schema = doc["components"]["schemas"]["DeadLetterFields"]
    as_stored = {  # what Redis keeps: every name and value as a string
        (k.decode() if isinstance(k, bytes) else k): (
            v.decode() if isinstance(v, bytes) else str(v)
        )
        for k, v in record.items()
    }
    prefix = FIELD_PREFIX.decode()
    metadata = {k for k in as_stored if not k.startswith(prefix)}
    assert metadata == set(schema["properties"]) == set(schema["required"])
    assert metadata == {f.name for f in dataclasses.fields(DeadLetter)} - {"id", "fields"}
    assert list(schema["patternProperties"]) == [f"^{prefix}"]
    assert schema["properties"]["error"]["maxLength"] == MAX_ERROR_CHARS
    validate(doc, "#/components/schemas/DeadLetterFields", as_stored)


# ---- Operations -------------------------------------------------------------------------------


def operations_of(doc: Schema, service: str) -> dict[str, Schema]:
    return {
        name: op
        for name, op in doc["operations"].items()
        if service in {deref(doc, tag)["name"] for tag in op.get("tags", [])}
    }


def test_each_operation_belongs_to_one_service_and_uses_its_channels_messages(
    doc: Schema,
) -> None:
    for name, op in doc["operations"].items():
        assert len(op["tags"]) == 1, name
        channel = channel_of(doc, op)
        own = {
            f"#/channels/{channel}/messages/{key}" for key in doc["channels"][channel]["messages"]
        }
        assert {m["$ref"] for m in op["messages"]} <= own, name


def test_payments_sends_on_both_public_streams_and_its_event_store(doc: Schema) -> None:
    sends = {
        channel_of(doc, op)
        for op in operations_of(doc, "payments").values()
        if op["action"] == "send"
    }
    assert sends == {NOTIFICATIONS, STATE, EVENT_STORE}


@pytest.mark.parametrize(("group", "stream", "handlers"), [(g, *v) for g, v in GROUPS.items()])
def test_consumer_group_receives_its_stream_and_dead_letters_its_failures(
    doc: Schema, group: str, stream: str, handlers: Mapping[str, Any]
) -> None:
    ops = operations_of(doc, group)
    receives = [op for op in ops.values() if op.get("x-redis-consumer-group") == group]
    assert len(receives) == 1
    (receive,) = receives
    assert receive["action"] == "receive"
    channel = channel_of(doc, receive)
    assert doc["channels"][channel]["address"] == stream
    handled = {cloudevents_type(deref(doc, resolve(doc, m["$ref"]))) for m in receive["messages"]}
    assert handled == set(handlers)
    assert receive["x-redis-dead-letter-stream"] == dead_letter_stream(stream, group)
    max_deliveries = ConsumerSettings.model_fields["max_deliveries"].default
    assert receive["x-redis-max-deliveries"] == max_deliveries

    # On streams, a group writes its dead letters only (notifications also sends on its own
    # mail queue, a list: see the queue's tests below).
    sends = [
        op
        for op in ops.values()
        if op["action"] == "send"
        and doc["channels"][channel_of(doc, op)]["x-redis-type"] == "stream"
    ]
    assert [doc["channels"][channel_of(doc, op)]["address"] for op in sends] == [
        dead_letter_stream(stream, group)
    ]


# ---- The mail queue (a work queue, not a stream) ------------------------------------------------

MAIL_CHANNELS = ("mailQueue", "mailFailed")


def test_mail_queue_channels_are_the_keys_in_the_code(doc: Schema) -> None:
    queue = RedisWorkQueue(Recorder(), MAIL_QUEUE)
    for channel, key in zip(MAIL_CHANNELS, (queue.queue_key, queue.failed_key), strict=True):
        assert doc["channels"][channel]["address"] == key
        assert expand(doc, channel) == key
        assert doc["channels"][channel]["x-redis-type"] == "list"
    mail_queue = doc["channels"]["mailQueue"]
    fields = NotificationsSettings.model_fields
    assert mail_queue["x-max-attempts"] == fields["mail_max_attempts"].default
    assert mail_queue["x-visibility-timeout-s"] == fields["mail_visibility_timeout_s"].default
    for name in ("processing", "delayed", "heartbeat", "receipt"):
        assert f"{{notifications}}:mail:{name}" in mail_queue["description"], name


def test_mail_job_schema_is_what_the_model_generates(doc: Schema) -> None:
    assert doc_schema(doc, "#/components/schemas/MailJob") == model_schema(MailJob)
    assert doc_schema(doc, "#/components/schemas/Notification") == model_schema(Notification)
    element = doc["components"]["schemas"]["QueueMessage"]
    assert set(element["properties"]) == set(json.loads(Message.new("m", {}).element))


def test_mail_job_example_is_a_real_element(doc: Schema) -> None:
    (example,) = doc["components"]["messages"]["MailJob"]["examples"]
    validate(doc, "#/components/messages/MailJob/payload", example["payload"])
    message = Message.decode(json.dumps(example["payload"]).encode())
    assert message.problem is None
    MailJob.model_validate(message.payload)


async def test_what_notifications_queues_is_what_the_document_says(doc: Schema) -> None:
    """The element the recording script is handed, and the key it pushes it to."""
    redis = Recorder()
    store = RedisNotificationStore(redis, RedisWorkQueue(redis, MAIL_QUEUE))
    payment = public.PaymentState.model_validate(
        {"payment_id": "p-1", "order_id": "o-1", "customer_id": "c-1", "amount": 2500,
         "currency": "EUR", "refunded_amount": 0, "status": "received", "version": 1}
    )  # fmt: skip
    note = compose("e-1", public.PAYMENT_RECEIVED, datetime.now(UTC), payment)
    note = note.model_copy(update={"delivery": "queued"})
    await store.record([note], [MailJob(to="c-1@example.com", notification=note)])
    ((keys, args),) = redis.calls
    assert keys[1] == doc["channels"]["mailQueue"]["address"]
    element = args[3]
    validate(doc, "#/components/messages/MailJob/payload", json.loads(element))
    assert Message.decode(element).id == note.notification_id
    (send,) = [
        op for op in operations_of(doc, "notifications").values()
        if op["action"] == "send" and channel_of(doc, op) == "mailQueue"
    ]  # fmt: skip
    assert "LPUSH" in send["x-redis-commands"]
