"""Response marshalling compiled once per model instead of interpreted per value.

flask-restx's `marshal` walks a model's fields for every object it serializes: for each value
it re-resolves the field, splits the attribute path, probes the object's type three ways and
formats. On a month of time entries that was 40 % of a request. `compile_model` does that
resolution once and returns a plain function producing the same dictionaries (the equivalence
is tested against `flask_restx.marshal` for every model of the API, see
tests/unit/test_serialization.py).

`Namespace` is flask-restx's, with `marshal_with`/`marshal_list_with` using the compiled form.
The Swagger document is unchanged. A request that asks for a field mask (the `X-Fields`
header) still goes through flask-restx's own marshalling, which implements masks.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any

import flask_restx
import orjson
from flask import current_app, request
from flask_restx import fields
from flask_restx.marshalling import make
from flask_restx.mask import Mask, MaskError
from flask_restx.utils import unpack

from commons.domain.exceptions import ValidationFailed
from commons.domain.idempotency import Answer
from commons.services import idempotency

Serializer = Callable[[Any], Any]
Getter = Callable[[Any], Any]


def _value(obj: Any, attribute: str) -> Any:
    """The attribute or key of `obj`, as flask-restx's `get_value` reads it for one name."""
    if type(obj) is dict:
        return obj.get(attribute)
    if hasattr(obj, "__iter__") and not hasattr(obj, "strip"):
        return fields.get_value(attribute, obj)  # other mappings and sequences: restx's rules
    return getattr(obj, attribute, None)


@functools.cache
def _plain(kind: type) -> bool:
    """Whether restx reads values of this type's objects by attribute only (not a sequence or
    mapping, which it indexes first)."""
    return not (hasattr(kind, "__iter__") and not hasattr(kind, "strip"))


def _string(value: Any) -> str:
    return value if type(value) is str else str(value)


def _iso8601(field: fields.DateTime) -> Callable[[Any], Any]:
    def format_value(value: Any) -> Any:
        if type(value) is datetime:
            return value.isoformat()
        return field.format(value)

    format_value.iso8601 = True  # type: ignore[attr-defined]
    return format_value


def _same(value: Any) -> Any:
    return value


def _formatter(field: fields.Raw) -> Callable[[Any], Any]:
    """The field's `format`, with shortcuts for the common exact cases."""
    method = type(field).format
    if method is fields.String.format:
        return _string
    if method is fields.DateTime.format and field.dt_format == "iso8601":  # type: ignore[attr-defined]
        return _iso8601(field)  # type: ignore[arg-type]
    if method is fields.Raw.format:
        return _same
    return field.format


def _simple(field: fields.Raw) -> tuple[Callable[[Any], Any], Any] | None:
    """A plain field's formatter and its output for a missing value; None if not plain."""
    if type(field).output is not fields.Raw.output or field.mask or callable(field.default):
        return None
    default = field.default
    return _formatter(field), field.format(default) if default else default


def _compile_field(key: str, field: Any) -> Getter:
    if isinstance(field, dict):
        return compile_model(field)  # a raw dict of fields nests the same object
    field = make(field)
    attribute = key if field.attribute is None else field.attribute

    def fallback(obj: Any) -> Any:
        return field.output(key, obj)

    if not isinstance(attribute, str) or "." in attribute:
        return fallback

    if isinstance(field, fields.List):
        return _compile_list(field, attribute, fallback)
    if _plain_nested(field):
        nested = compile_model(field.nested)

        def nested_output(obj: Any) -> Any:
            value = _value(obj, attribute)
            return fallback(obj) if value is None else nested(value)

        return nested_output

    simple = _simple(field)
    if simple is None:
        return fallback
    format_value, if_none = simple

    def simple_output(obj: Any) -> Any:
        kind: type = type(obj)
        if kind is dict:
            value = obj.get(attribute)
        elif _plain(kind):
            value = getattr(obj, attribute, None)
        else:
            value = _value(obj, attribute)
        if value is None:
            return if_none
        try:
            return format_value(value)
        except fields.MarshallingError:
            return fallback(obj)  # restx raises it again, with its message

    simple_output.plain = (attribute, format_value, if_none)  # type: ignore[attr-defined]
    return simple_output


def _plain_nested(field: fields.Raw) -> bool:
    """A Nested field (or a subclass that only documents itself differently) without options."""
    return (
        isinstance(field, fields.Nested)
        and type(field).output is fields.Nested.output
        and not field.skip_none
    )


def _compile_list(field: fields.List, attribute: str, fallback: Getter) -> Getter:
    if type(field).output is not fields.List.output or type(field).format is not fields.List.format:
        return fallback
    container = field.container
    item: Callable[[Any], Any]
    if type(container) is fields.Nested and not container.skip_none:
        nested = compile_model(container.nested)

        def nested_item(value: Any) -> Any:
            return container.output(0, (None,)) if value is None else nested(value)

        item = nested_item
    elif type(container) is not fields.Raw and not isinstance(container, fields.Nested):
        simple = _simple(container)
        if simple is None or container.attribute is not None:
            return fallback
        format_value, if_none = simple

        def simple_item(value: Any) -> Any:
            return if_none if value is None else format_value(value)

        item = simple_item
    else:
        return fallback

    def list_output(obj: Any) -> Any:
        value = _value(obj, attribute)
        if isinstance(value, (list, tuple)):
            return [item(element) for element in value]
        return fallback(obj)

    return list_output


def json_bytes(data: Any) -> bytes:
    """A response body: JSON by orjson (an order of magnitude faster than the standard library
    on a month of entries), ending with a newline as flask-restx's does."""
    return orjson.dumps(data) + b"\n"


def json_array_chunks(batches: Iterable[Any], serialize: Serializer) -> Iterator[bytes]:
    """The body `json_bytes(serialize(every item of every batch))` is, a batch at a time."""
    yield b"["
    separator = b""
    for batch in batches:
        items = json_bytes(serialize(list(batch)))[1:-2]  # the array without `[` and `]\n`
        if items:
            yield separator + items
            separator = b","
    yield b"]\n"


def _handing_over(read: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    """The batches already `read`, each let go of once given, then the `rest`."""
    while read:
        yield read.pop(0)
    yield from rest


def _closing(chunks: Iterator[bytes], source: Iterator[Any]) -> Iterator[bytes]:
    """`chunks`, closing `source` once they are written or the client is gone."""
    try:
        yield from chunks
    finally:
        _close(source)


def _close(iterator: Iterator[Any]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _renderer(code: int, serialize: Serializer) -> idempotency.Renderer:
    """How a view's result becomes the answer an idempotent request stores with its write."""
    return lambda result: Answer(int(code), json_bytes(serialize(result)))


def compile_model(model: Mapping[str, Any]) -> Serializer:
    """A function marshalling one object (or a list of them) as `flask_restx.marshal` does."""
    resolved: Mapping[str, Any] = getattr(model, "resolved", model)
    getters = [(key, _compile_field(key, field)) for key, field in resolved.items()]

    def any_one(obj: Any) -> dict[str, Any]:
        return {key: get(obj) for key, get in getters}

    of_attributes = _attribute_reader(getters)

    def one(obj: Any) -> dict[str, Any]:
        kind: type = type(obj)
        if not _plain(kind):
            return any_one(obj)
        try:
            return of_attributes(obj)
        except fields.MarshallingError:
            return any_one(obj)  # restx raises it again, with its message

    def serialize(data: Any) -> Any:
        if isinstance(data, (list, tuple)):
            return [one(item) for item in data]
        return one(data)

    return serialize


def _attribute_reader(getters: list[tuple[str, Getter]]) -> Callable[[Any], dict[str, Any]]:
    """One function reading an object's attributes for all of a model's fields at once.

    For an object read by attribute (an entity, not a mapping), the per-field getters' work is
    written out as one function's body, its common formats inline: a list of a month's entries
    spends its time here. Fields that are not plain call their getter as before.
    """
    namespace: dict[str, Any] = {"datetime": datetime}
    lines, items = [], []
    for position, (key, get) in enumerate(getters):
        value, plain = f"v{position}", getattr(get, "plain", None)
        if plain is None:
            namespace[f"get{position}"] = get
            items.append(f"{key!r}: get{position}(obj)")
            continue
        attribute, format_value, if_none = plain
        namespace[f"format{position}"], namespace[f"none{position}"] = format_value, if_none
        lines.append(f"    {value} = getattr(obj, {attribute!r}, None)")
        if format_value is _same:
            formatted = value
        elif format_value is _string:
            formatted = f"{value} if type({value}) is str else str({value})"
        elif getattr(format_value, "iso8601", False):
            formatted = (
                f"{value}.isoformat() if type({value}) is datetime else format{position}({value})"
            )
        else:
            formatted = f"format{position}({value})"
        items.append(f"{key!r}: none{position} if {value} is None else ({formatted})")
    source = "def read(obj):\n" + "".join(f"{line}\n" for line in lines)
    source += "    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<serializer>", "exec"), namespace)  # noqa: S102 - our own model's code
    return namespace["read"]


def requested_mask() -> str | None:
    """The field mask the request asks for (the `X-Fields` header), checked before any work:
    one that does not parse is the client's mistake (400), not a failure of the answer."""
    header = current_app.config["RESTX_MASK_HEADER"]
    mask = request.headers.get(header)
    if mask:
        try:
            Mask(mask)
        except MaskError as error:
            raise ValidationFailed(
                f"The {header} header is not a field mask: {error}",
                {header: "must be a field mask, like 'id,start_date' or 'id,project{name}'"},
            ) from None
    return mask


class Namespace(flask_restx.Namespace):
    """flask-restx's Namespace whose `marshal_with` serializes with `compile_model`."""

    def marshal_with(
        self,
        fields: Any,
        as_list: bool = False,
        code: int = HTTPStatus.OK,
        description: str | None = None,
        **kwargs: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        documented = super().marshal_with(fields, as_list, code, description, **kwargs)
        plain = not kwargs and not self.ordered
        marshal_options = {"ordered": self.ordered, **kwargs}

        def _restx_marshal(model: Any, mask: str | None) -> Serializer:
            return lambda data: flask_restx.marshal(data, model, mask=mask, **marshal_options)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            with_masks = documented(func)  # restx's wrapper: the docs, and masks when asked
            serialize = compile_model(fields)

            @functools.wraps(with_masks)
            def wrapper(*args: Any, **kw: Any) -> Any:
                mask = requested_mask()
                if mask or not plain:
                    idempotency.render_with(_renderer(code, _restx_marshal(fields, mask)))
                    return with_masks(*args, **kw)
                idempotency.render_with(_renderer(code, serialize))
                response = func(*args, **kw)
                if isinstance(response, tuple):
                    data, status, headers = unpack(response)
                    return serialize(data), status, headers
                return serialize(response)

            return wrapper

        return decorator

    def stream_list_with(
        self, fields: Any, code: int = HTTPStatus.OK, description: str | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`marshal_list_with` for a view that returns its objects in batches (an iterable of
        lists). An answer of one batch is one body, as `marshal_list_with` makes it; a longer
        one is written batch by batch (chunked), the same bytes, in the memory of two batches.
        Whatever fails before the second batch is read gets its usual error answer."""
        documented = super().marshal_with(fields, True, code, description)
        compiled = compile_model(fields)

        def marshal(mask: str | None) -> Serializer:
            if not mask and not self.ordered:
                return compiled
            return lambda data: flask_restx.marshal(data, fields, mask=mask, ordered=self.ordered)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(documented(func))
            def wrapper(*args: Any, **kw: Any) -> Any:
                serialize = marshal(requested_mask())
                batches = iter(func(*args, **kw))
                try:
                    head = list(itertools.islice(batches, 2))
                    if len(head) == 2:
                        serialize(head[0][:1])  # a mask that cannot apply fails here, not midway
                except BaseException:
                    _close(batches)
                    raise
                if len(head) < 2:
                    _close(batches)
                    return serialize(head[0] if head else []), code
                chunks = json_array_chunks(_handing_over(head, batches), serialize)
                response = current_app.response_class(_closing(chunks, batches), code)
                response.headers["Content-Type"] = "application/json"
                return response

            return wrapper

        return decorator
