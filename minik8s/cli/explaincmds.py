"""`minictl explain TYPE[.field.path] [--recursive]`: a kind's fields and their types, in kubectl's
layout (GROUP/KIND/VERSION, FIELD, DESCRIPTION, FIELDS).

The fields are read from the kinds' protobuf descriptors, the source the API server's OpenAPI
documents (/openapi/v3) are generated from, so both name the same fields and types. Reading them here
rather than over REST keeps explain working wherever minictl works: minictl speaks gRPC, and the REST
port is known only when `up` wrote the home's kubeconfig. The schemas carry no descriptions, so each
field says `<no description>`, as kubectl does against this server."""
from __future__ import annotations

from minik8s.cli.common import CliError, lookup


def explain_flags(p):
    p.add_argument("path", metavar="TYPE[.FIELD...]", help="a resource type and a field path, e.g. pods.spec")
    p.add_argument("--recursive", action="store_true", help="print the fields of fields, all the way down")
    p.add_argument("--api-version", default="", help="the group/version of the type (its served one only)")
    p.add_argument("-o", "--output", default="plaintext", choices=("plaintext",), help="plaintext only")


COMMANDS = [
    ("explain", "explaincmds:cmd_explain", "Get documentation for a resource", explain_flags),
]

_MAP_SCALARS = {"string", "integer", "boolean", "number"}


def type_name(field) -> str:
    """kubectl's name of a field's type: `string`, `integer`, `[]Container`, `map[string]string`,
    `ObjectMeta`, `IntOrString`."""
    from google.protobuf.descriptor import FieldDescriptor as FD
    mt = field.message_type
    if mt is not None and mt.GetOptions().map_entry:
        return f"map[string]{type_name(mt.fields_by_name['value'])}"
    if mt is not None:
        base = "IntOrString" if mt.full_name == "google.protobuf.Value" else mt.name
    elif field.type in (FD.TYPE_STRING, FD.TYPE_BYTES, FD.TYPE_ENUM):
        base = "string"
    elif field.type == FD.TYPE_BOOL:
        base = "boolean"
    elif field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        base = "number"
    else:
        base = "integer"
    return f"[]{base}" if field.is_repeated else base


def _children(field):
    """The message whose fields a field has (a list's or a map's element's), or None for a scalar."""
    mt = field.message_type
    if mt is not None and mt.GetOptions().map_entry:
        mt = mt.fields_by_name["value"].message_type
    if mt is None or mt.full_name.startswith("google.protobuf."):
        return None
    return mt


def _walk(desc, path: list[str]):
    field = None
    for i, name in enumerate(path):
        if desc is None or name not in desc.fields_by_name:
            raise CliError(f'field "{name}" does not exist')
        field = desc.fields_by_name[name]
        desc = _children(field)
    return field, desc


def _recursive(desc, depth: int, seen: tuple) -> list[str]:
    lines = []
    for f in sorted(desc.fields, key=lambda f: f.name):
        lines.append(f"{'  ' * depth}{f.name}\t<{type_name(f)}>")
        child = _children(f)
        if child is not None and child.full_name not in seen:
            lines.extend(_recursive(child, depth + 1, seen + (child.full_name,)))
    return lines


def cmd_explain(args) -> int:
    kind_word, *path = [p for p in args.path.split(".")]
    if not kind_word:
        raise CliError("You must specify the type of resource to explain. Use \"minictl api-resources\" for a "
                       "complete list of supported resources.")
    info = lookup(kind_word)
    if args.api_version and args.api_version != info.api_version:
        raise CliError(f"couldn't find resource for \"{args.api_version}, Kind={info.kind}\": minictl explains "
                       f"{info.kind} at {info.api_version}")
    field, desc = _walk(info.message.DESCRIPTOR, path)
    out = []
    if info.group:
        out.append(f"GROUP:      {info.group}")
    out += [f"KIND:       {info.kind}", f"VERSION:    {info.version}", ""]
    if field is not None:
        out += [f"FIELD: {field.name} <{type_name(field)}>", "", ""]
    out += ["DESCRIPTION:", "    <empty>"]
    if desc is not None:
        out.append("FIELDS:")
        if args.recursive:
            out += _recursive(desc, 1, (desc.full_name,))
        else:
            for f in sorted(desc.fields, key=lambda f: f.name):
                out += [f"  {f.name}\t<{type_name(f)}>", "    <no description>", ""]
    print("\n".join(out) + "\n")
    return 0
