"""What a resource URL names: `/api/v1/namespaces/NS/pods/NAME/log` is the Pod kind, namespace NS,
object NAME, subresource `log`. Also the JSON form of stored objects and the request bodies' decoding."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

from minik8s.api import codec, conversion
from minik8s.api.errors import BadRequest, NotFound
from minik8s.api.kinds import KINDS, KindInfo

from apiserver.rest.status import RestError

# (group, version, plural) -> kind, at its stored version and at every version it is converted to
BY_RESOURCE: dict[tuple[str, str, str], KindInfo] = {(k.group, k.version, k.plural): k for k in KINDS.values()}
BY_RESOURCE.update({(s.info.group, s.version, s.info.plural): s.info for s in conversion.other_versions()})
NOT_FOUND = "the server could not find the requested resource"


@dataclass
class Target:
    info: KindInfo | None
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    version: str = ""           # the version the URL names; "" or the record's own is the stored one

    @property
    def api_version(self) -> str:
        """The apiVersion the URL names, which the objects in its answers carry."""
        version = self.version or self.info.version
        return f"{self.info.group}/{version}" if self.info.group else version


def resolve(group: str, version: str, path: str) -> Target:
    segs = [s for s in path.split("/") if s]
    namespace = ""
    if len(segs) >= 3 and segs[0] == "namespaces":
        inner = BY_RESOURCE.get((group, version, segs[2]))
        if inner is not None and inner.namespaced:
            namespace, segs = segs[1], segs[2:]
    if not segs or len(segs) > 3:
        raise NotFound(NOT_FOUND)
    info = BY_RESOURCE.get((group, version, segs[0]))
    if info is None:
        raise NotFound(NOT_FOUND)
    name = segs[1] if len(segs) > 1 else ""
    if info.namespaced and name and not namespace:
        raise NotFound(NOT_FOUND)      # a namespaced object is only reachable under its namespace
    return Target(info, namespace, name, segs[2] if len(segs) > 2 else "", version)


def to_json(info: KindInfo, raw: bytes, version: str = "") -> dict:
    """A stored object as JSON at `version` (the stored version when empty)."""
    return message_json(info, info.message.FromString(raw), version)


def message_json(info: KindInfo, obj, version: str = "") -> dict:
    """An object message as JSON at `version` (the stored version when empty)."""
    return conversion.from_stored(info, version or info.version, codec.to_dict(obj))


def parse_body(raw: bytes, content_type: str) -> object:
    """A request body as JSON data: JSON, or YAML for the YAML content types."""
    ct = content_type.split(";")[0].strip().lower()
    if "yaml" in ct:
        try:
            return _utf8_only(yaml.safe_load(raw), raw, "YAML")
        except yaml.YAMLError as e:
            raise BadRequest(f"error decoding YAML: {e}") from None
        except RecursionError:
            raise BadRequest("error decoding YAML: nested too deeply") from None
    if ct and not ct.endswith("json"):
        raise RestError("UnsupportedMediaType", f'the body of the request was in an unknown format - accepted '
                        f'media types include: application/json, application/yaml, got "{ct}"')
    try:
        return _utf8_only(json.loads(raw), raw, "JSON")
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"error decoding JSON: {e}") from None
    except RecursionError:
        raise BadRequest("error decoding JSON: nested too deeply") from None


# the escapes that can name a surrogate: JSON's and YAML's \\uD800-\\uDFFF, YAML's \\U0000D800-\\U0000DFFF
_SURROGATE_ESCAPE = re.compile(rb"\\(?:u|U0000)[dD][89a-fA-F]")


def _utf8_only(data: object, raw: bytes, fmt: str) -> object:
    """Both decoders turn a `\\ud800` escape into a lone surrogate, which no protobuf string can hold:
    refuse it here, as a decoding error, rather than deep in the codec. Decoded UTF-8 holds no
    surrogate, so only a UTF-8 body with such an escape pays for the check (an encoding of the whole
    document); a UTF-16 or UTF-32 one (both decoders accept them) is always checked."""
    utf8 = isinstance(raw, bytes) and b"\x00" not in raw[:4] and raw[:2] not in (b"\xff\xfe", b"\xfe\xff")
    if utf8 and not _SURROGATE_ESCAPE.search(raw):
        return data
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"error decoding {fmt}: invalid UTF-8 (an unpaired surrogate escape)") from None
    except (TypeError, ValueError):
        pass        # YAML values JSON cannot hold (dates, sets) are the codec's to refuse
    return data


def decode_object(info: KindInfo, data: object, name: str = "", version: str = ""):
    """A request body (JSON at `version`, the stored one when empty) as the kind's message; every
    undecodable field named, as strict decoding does."""
    if not isinstance(data, dict):
        raise BadRequest(f"the body of the request must be a {info.kind} object")
    try:
        return codec.from_dict(info.message, conversion.convert_in(info, version or info.version, data))
    except codec.FieldError as e:
        raise BadRequest(f"strict decoding error: {e}", e.errors) from None
