"""ConfigMap and Secret: base64 `data` in JSON, `stringData` merged into `data` and never stored, the
Opaque default, upstream's field errors (config key names, keys in both data and binaryData, the 1 MiB
limit, the keys each Secret type requires) and the update rules (`type` and an `immutable` object's
payload unchangeable), both as functions and through a real API server."""
from __future__ import annotations

import pytest

from minik8s.api.codec import FieldError, from_dict, to_dict
from minik8s.api.defaults import apply_defaults
from minik8s.api.errors import Invalid
from minik8s.api.pb import core_pb2
from minik8s.api.validation import validate

KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
IMMUTABLE = "Forbidden: field is immutable when `immutable` is set"


def config_map(data=None, binary=None, **extra) -> core_pb2.ConfigMap:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
           "data": data or {}, "binaryData": binary or {}, **extra}
    return from_dict(core_pb2.ConfigMap, doc)


def secret(data=None, string_data=None, **extra) -> core_pb2.Secret:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
           "data": data or {}, "stringData": string_data or {}, **extra}
    obj = from_dict(core_pb2.Secret, doc)
    apply_defaults(obj)
    return obj


def paths(errors) -> list[str]:
    return [p for p, _ in errors]


# ---------------------------------------------------------------- the JSON form
def test_secret_data_is_base64_in_json_both_ways():
    s = secret({"username": "YWRtaW4=", "tls.crt": "AAEC/w=="})
    assert s.data == {"username": b"admin", "tls.crt": b"\x00\x01\x02\xff"}
    assert to_dict(s)["data"] == {"username": "YWRtaW4=", "tls.crt": "AAEC/w=="}


@pytest.mark.parametrize("value,at", [("admin", 4), ("YWRt!W4=", 4), ("YW=taW4=", 2)])
def test_secret_data_that_is_not_base64_is_an_error_naming_the_key(value, at):
    with pytest.raises(FieldError) as e:
        secret({"username": value})
    assert e.value.errors == [("data[username]", f"illegal base64 data at input byte {at}")]


def test_string_data_is_merged_into_data_over_the_same_key_and_dropped():
    s = secret({"username": "b2xk", "keep": "eA=="}, {"username": "new", "password": "p"})
    assert dict(s.data) == {"username": b"new", "password": b"p", "keep": b"x"}
    assert not s.stringData and "stringData" not in to_dict(s)
    assert s.type == "Opaque"


# ---------------------------------------------------------------- field errors
@pytest.mark.parametrize("key,msg", [
    ("a b", KEY_MSG), ("x/y", KEY_MSG), (".", "must not be '.'"), ("..", "must not be '..'"),
    ("..data", "must not start with '..'"), ("k" * 254, "must be no more than 253 characters")])
def test_bad_config_keys(key, msg):
    for errors, field in ((validate(config_map({key: "v"})), "data"),
                          (validate(config_map(binary={key: "dg=="})), "binaryData"),
                          (validate(secret(string_data={key: "v"})), "data")):
        assert paths(errors) == [f"{field}[{key}]"]
        assert msg in errors[0][1]


def test_good_config_keys():
    assert validate(config_map({"game.properties": "x", "player_initial_lives": "3", "-x.Y_9": ""})) == []


def test_a_key_in_both_data_and_binary_data():
    errors = validate(config_map({"k": "v"}, {"k": "dg=="}))
    assert errors == [("data[k]", 'Invalid value: "k": duplicate of key present in binaryData')]


def test_at_most_one_mebibyte():
    mib = 1024 * 1024
    assert validate(config_map({"a": "x" * (mib - 1), "b": "y"})) == []
    assert validate(config_map({"a": "x" * mib, "b": "y"})) == [("", f"Too long: may not be more than {mib} bytes")]
    s = secret(string_data={"a": "x" * mib, "b": "y"})
    assert validate(s) == [("data", f"Too long: may not be more than {mib} bytes")]


@pytest.mark.parametrize("type_,data,expected", [
    ("kubernetes.io/tls", {}, ["data[tls.crt]", "data[tls.key]"]),
    ("kubernetes.io/tls", {"tls.crt": "c", "tls.key": "k"}, []),
    ("kubernetes.io/basic-auth", {}, ["data[username]", "data[password]"]),
    ("kubernetes.io/basic-auth", {"password": ""}, []),
    ("kubernetes.io/dockerconfigjson", {}, ["data[.dockerconfigjson]"]),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "{not json"}, ["data[.dockerconfigjson]"]),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": '{"auths": {}}'}, []),
    ("kubernetes.io/ssh-auth", {}, ["data[ssh-privatekey]"]),
    ("kubernetes.io/service-account-token", {}, ["metadata.annotations[kubernetes.io/service-account.name]"]),
    ("example.com/custom", {"anything": "x"}, []),
])
def test_the_keys_each_secret_type_requires(type_, data, expected):
    assert paths(validate(secret(string_data=data, type=type_))) == expected


def test_a_malformed_docker_config_never_echoes_the_secret():
    errors = validate(secret(string_data={".dockerconfigjson": "{hunter2"}, type="kubernetes.io/dockerconfigjson"))
    assert len(errors) == 1 and "hunter2" not in errors[0][1]
    assert errors[0][1].startswith('Invalid value: "<secret contents redacted>": ')


# ---------------------------------------------------------------- updates
def test_type_may_not_change():
    old, new = secret(), secret(type="example.com/other")
    assert validate(new, old) == [("type", 'Invalid value: "example.com/other": field is immutable')]


def test_an_immutable_config_map_keeps_its_payload_and_its_flag():
    old = config_map({"a": "1"}, immutable=True)
    assert validate(config_map({"a": "1"}, immutable=True), old) == []
    assert validate(config_map({"a": "2"}, {"b": "dg=="}, immutable=True), old) == \
        [("data", IMMUTABLE), ("binaryData", IMMUTABLE)]
    assert validate(config_map({"a": "1"}, immutable=False), old) == [("immutable", IMMUTABLE)]
    # a mutable one may become immutable, with new data in the same write
    assert validate(config_map({"a": "2"}, immutable=True), config_map({"a": "1"})) == []


def test_an_immutable_secret_keeps_its_data():
    old = secret(string_data={"a": "1"}, immutable=True)
    assert validate(secret(string_data={"a": "2"}, immutable=True), old) == [("data", IMMUTABLE)]
    assert validate(secret(string_data={"a": "1"}), old) == [("immutable", IMMUTABLE)]


# ---------------------------------------------------------------- through the server
async def test_the_server_stores_no_string_data_and_enforces_immutability(admin):
    s = await admin.create(from_dict(core_pb2.Secret, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
        "stringData": {"password": "s3cret"}, "immutable": True}))
    stored = await admin.get("Secret", "db", "default")
    assert dict(stored.data) == {"password": b"s3cret"} and not stored.stringData
    assert stored.type == "Opaque"
    s.stringData["password"] = "other"
    with pytest.raises(Invalid) as e:
        await admin.update(s)
    assert ("data", IMMUTABLE) in e.value.causes
    assert (await admin.get("Secret", "db", "default")).data["password"] == b"s3cret"

    cm = await admin.create(config_map({"a": "1"}))
    cm.data["a"] = "2"
    cm.immutable = True
    cm = await admin.update(cm)
    cm.data["a"] = "3"
    with pytest.raises(Invalid) as e:
        await admin.update(cm)
    assert e.value.causes == [("data", IMMUTABLE)]
    with pytest.raises(Invalid) as e:
        await admin.create(config_map({"bad key": "v"}, metadata={"name": "bad", "namespace": "default"}))
    assert e.value.causes[0][0] == "data[bad key]"
