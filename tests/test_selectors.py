"""Tests for minik8s.api.selectors, cases modelled on upstream labels/fields selector tests."""

import time
from types import SimpleNamespace

import pytest

from minik8s.api.selectors import (
    FieldSelector,
    LabelSelector,
    Requirement,
    SelectorError,
    escape_field_value,
    from_label_selector_obj,
    parse_field_selector,
    parse_label_selector,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_label_key,
    validate_label_value,
)

QNAME_REGEX_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    r"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


# --- validation ----------------------------------------------------------------

@pytest.mark.parametrize(
    "key,errors",
    [
        ("app", []),
        ("a", []),
        ("1", []),
        ("my.name", []),
        ("MyName", []),
        ("123-abc", []),
        ("a_b-c.d", []),
        ("example.com/MyName", []),
        ("kubernetes.io/hostname", []),
        ("a" * 63, []),
        ("a" * 253 + "/" + "b" * 63, []),
        ("", ["name part must be non-empty", "name part " + QNAME_REGEX_MSG]),
        ("a" * 64, ["name part must be no more than 63 characters"]),
        ("-a", ["name part " + QNAME_REGEX_MSG]),
        ("a-", ["name part " + QNAME_REGEX_MSG]),
        ("a b", ["name part " + QNAME_REGEX_MSG]),
        ("a\n", ["name part " + QNAME_REGEX_MSG]),
        ("/a", ["prefix part must be non-empty"]),
        ("a/", ["name part must be non-empty", "name part " + QNAME_REGEX_MSG]),
        ("Example.com/a", ["prefix part " + DNS1123_SUBDOMAIN_MSG]),
        ("a" * 254 + "/b", ["prefix part must be no more than 253 characters"]),
        ("é" * 40, ["name part must be no more than 63 characters", "name part " + QNAME_REGEX_MSG]),
        (
            "a/b/c",
            ["a qualified name " + QNAME_REGEX_MSG
             + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"],
        ),
    ],
)
def test_validate_label_key(key, errors):
    assert validate_label_key(key) == errors


@pytest.mark.parametrize(
    "value,errors",
    [
        ("", []),
        ("web", []),
        ("v1.2_3-4", []),
        ("a" * 63, []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("-a", [LABEL_VALUE_MSG]),
        ("a/b", [LABEL_VALUE_MSG]),
        ("a" * 63 + "-", ["must be no more than 63 characters", LABEL_VALUE_MSG]),
    ],
)
def test_validate_label_value(value, errors):
    assert validate_label_value(value) == errors


@pytest.mark.parametrize(
    "name,errors",
    [
        ("my-name", []),
        ("123-abc", []),
        ("a" * 63, []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("a.b", ["must not contain dots"]),
        ("A", [DNS1123_LABEL_MSG]),
        ("-a", [DNS1123_LABEL_MSG]),
        ("", [DNS1123_LABEL_MSG]),
        ("a_b", [DNS1123_LABEL_MSG]),
    ],
)
def test_validate_dns1123_label(name, errors):
    assert validate_dns1123_label(name) == errors


@pytest.mark.parametrize(
    "name,errors",
    [
        ("example.com", []),
        ("a", []),
        ("a-b.c-d", []),
        (".".join(["a" * 63] * 4)[:253], []),
        ("a" * 254, ["must be no more than 253 characters"]),
        ("Example.com", [DNS1123_SUBDOMAIN_MSG]),
        ("a..b", [DNS1123_SUBDOMAIN_MSG]),
        ("a.", [DNS1123_SUBDOMAIN_MSG]),
        ("", [DNS1123_SUBDOMAIN_MSG]),
    ],
)
def test_validate_dns1123_subdomain(name, errors):
    assert validate_dns1123_subdomain(name) == errors


# --- label selector parsing -------------------------------------------------------

# input -> canonical string (requirements sorted by key, values sorted)
GOOD_SELECTORS = [
    ("", ""),
    ("x=a,y=b,z=c", "x=a,y=b,z=c"),
    ("z=c,x=a", "x=a,z=c"),
    ("x!=a,y=b", "x!=a,y=b"),
    ("x==a", "x==a"),
    ("x=", "x="),
    ("x= ", "x="),
    ("x=,z= ", "x=,z="),
    ("x= ,z= ", "x=,z="),
    ("!x", "!x"),
    ("x", "x"),
    ("x>1", "x>1"),
    ("x>1,z<5", "x>1,z<5"),
    ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
    ("x in (a,b,a)", "x in (a,b)"),
    ("x notin (a)", "x notin (a)"),
    ("x in (a,)", "x in (,a)"),
    ("x in (,a)", "x in (,a)"),
    ("x in ( a , b )", "x in (a,b)"),
    ("  a = b ,\tc!=d\n", "a=b,c!=d"),
    ("in in (in)", "in in (in)"),
    ("notin=in", "notin=in"),
    ("notin notin (notin)", "notin notin (notin)"),
    ("example.com/app=web,!example.com/canary", "example.com/app=web,!example.com/canary"),
    ("x=a,x!=b", "x=a,x!=b"),
]


@pytest.mark.parametrize("text,canonical", GOOD_SELECTORS)
def test_parse_label_selector(text, canonical):
    selector = parse_label_selector(text)
    assert str(selector) == canonical
    assert parse_label_selector(canonical) == selector
    assert selector.empty == (canonical == "")


BAD_SELECTORS = [
    ("x=a||y=b", 'invalid label value "a||y"'),
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x>1.5", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x>99999999999999999999", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x<-5", 'invalid label value "-5" for key "x"'),  # values are label values first
    ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a!", "found '!', expected: in, notin, =, ==, !=, gt, lt"),
    ("a in b", "found 'b' expected: '('"),
    ("a notin", "found '' expected: '('"),
    ("a in (b", "found '', expected: ',' or ')'"),
    ("a in (b c)", "found 'c', expected: ',' or ')'"),
    ("a in (=)", "found '=', expected: ',', ')' or identifier"),
    ("a in (b,=)", "found '=', expected: ',', or identifier"),
    ("a in ()x", "found 'x', expected: ',' or 'end of string'"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    ("a,,b", "found ',', expected: identifier after ','"),
    ("a=(b)", "found '(', expected: identifier"),
    ("!", "found '', expected: identifier"),
    ("!!a", "found '!', expected: identifier"),
    ("_a=b", 'invalid label key "_a": name part ' + QNAME_REGEX_MSG),
    ("a=_b", 'invalid label value "_b" for key "a": ' + LABEL_VALUE_MSG),
    ("a/b/c", 'invalid label key "a/b/c"'),
    ("x=" + "a" * 64, "must be no more than 63 characters"),
]


@pytest.mark.parametrize("text,message", BAD_SELECTORS)
def test_parse_label_selector_errors(text, message):
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


# selector, labels, expected
LABEL_MATCHES = [
    ("", {"x": "y"}, True),
    ("", {}, True),
    ("x=y", {"x": "y"}, True),
    ("x==y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x<1", {"x": "-1"}, True),
    ("x>1", {"x": "+3"}, True),
    ("x>1", {"x": "0002"}, True),
    ("x=", {"x": ""}, True),
    ("x!=y", {}, True),
    ("x notin (a,b)", {}, True),
    ("x notin (a,b)", {"x": "c"}, True),
    ("x in (a,b)", {"x": "b"}, True),
    ("x in (foo,,baz),y,z notin ()", {"x": "foo", "y": "anything", "w": "no one cares"}, True),
    ("x in (foo,,baz),y,z notin ()", {"x": "", "y": "anything"}, True),
    ("x in (foo,,baz),y,z notin ()", {"x": "foo", "y": "a", "z": "any value but empty"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x>1", {"x": "1"}, False),
    ("x<1", {"x": "a"}, False),
    ("x<1", {"x": "1.5"}, False),
    ("x<1", {"x": " 0"}, False),
    ("x<1", {"x": "1_0"}, False),
    ("x>1", {}, False),
    ("x=", {}, False),
    ("x in (a,b)", {}, False),
    ("x in (a,b)", {"x": "c"}, False),
    ("x notin (a,b)", {"x": "a"}, False),
    ("x in (foo,,baz),y,z notin ()", {"x": "foo", "y": "a", "z": ""}, False),
    ("x in (foo,,baz),y,z notin ()", {"x": "something else", "y": "a"}, False),
    ("x in (foo,,baz),y,z notin ()", {"x": "foo"}, False),
]


@pytest.mark.parametrize("text,labels,expected", LABEL_MATCHES)
def test_label_selector_matches(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


def test_matches_treats_none_as_no_labels():
    assert parse_label_selector("!x").matches(None)
    assert not parse_label_selector("x").matches(None)
    assert parse_label_selector("").matches(None)


def test_everything_and_nothing():
    assert LabelSelector.everything().empty
    assert LabelSelector.everything().matches({})
    nothing = LabelSelector.nothing()
    assert not nothing.empty
    assert not nothing.matches({})
    assert not nothing.matches({"a": "b"})
    assert str(nothing) == ""
    assert nothing != LabelSelector.everything()


def test_requirements_are_exposed():
    selector = parse_label_selector("b in (y,x),a")
    assert selector.requirements == (
        Requirement("a", "exists", ()),
        Requirement("b", "in", ("x", "y")),
    )


# --- metav1.LabelSelector objects -------------------------------------------------

def _expr(key, operator, values=()):
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.mark.parametrize(
    "obj,canonical,labels,expected",
    [
        ({}, "", {"a": "b"}, True),
        ({"matchLabels": {}, "matchExpressions": []}, "", {}, True),
        ({"matchLabels": None}, "", {}, True),
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "db"}, False),
        ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2", {"a": "1", "b": "2"}, True),
        ({"matchExpressions": [_expr("tier", "In", ["fe", "be"])]}, "tier in (be,fe)", {"tier": "be"}, True),
        ({"matchExpressions": [_expr("tier", "NotIn", ["fe"])]}, "tier notin (fe)", {}, True),
        ({"matchExpressions": [_expr("tier", "NotIn", ["fe"])]}, "tier notin (fe)", {"tier": "fe"}, False),
        ({"matchExpressions": [_expr("gpu", "Exists")]}, "gpu", {"gpu": ""}, True),
        ({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, "gpu", {}, False),
        ({"matchExpressions": [_expr("gpu", "DoesNotExist")]}, "!gpu", {}, True),
        (
            {"matchLabels": {"app": "web"}, "matchExpressions": [_expr("env", "In", ["prod"])]},
            "app=web,env in (prod)",
            {"app": "web", "env": "prod"},
            True,
        ),
    ],
)
def test_from_label_selector_obj(obj, canonical, labels, expected):
    selector = from_label_selector_obj(obj)
    assert str(selector) == canonical
    assert selector.matches(labels) is expected


def test_from_none_matches_nothing():
    selector = from_label_selector_obj(None)
    assert not selector.empty
    assert not selector.matches({})


def test_from_attribute_object():
    expr = SimpleNamespace(key="tier", operator="In", values=["a", "b"])
    obj = SimpleNamespace(matchLabels={"app": "web"}, matchExpressions=[expr])
    selector = from_label_selector_obj(obj)
    assert str(selector) == "app=web,tier in (a,b)"
    assert selector.matches({"app": "web", "tier": "b"})


def test_from_protobuf_message():
    meta_pb2 = pytest.importorskip("minik8s.api.pb.meta_pb2")
    message = meta_pb2.LabelSelector()
    assert from_label_selector_obj(message).empty
    message.matchLabels["app"] = "web"
    expr = message.matchExpressions.add()
    expr.key, expr.operator = "tier", "NotIn"
    expr.values.extend(["db"])
    selector = from_label_selector_obj(message)
    assert str(selector) == "app=web,tier notin (db)"
    assert selector.matches(message.matchLabels)
    assert not selector.matches({"app": "web", "tier": "db"})


@pytest.mark.parametrize(
    "obj,message",
    [
        ({"matchExpressions": [_expr("a", "Equals", ["b"])]}, '"Equals" is not a valid label selector operator'),
        ({"matchExpressions": [_expr("a", "In", [])]}, "for 'in', 'notin' operators, values set can't be empty"),
        ({"matchExpressions": [_expr("a", "Exists", ["b"])]},
         "values set must be empty for exists and does not exist"),
        ({"matchExpressions": [_expr("_a", "Exists")]}, 'invalid label key "_a"'),
        ({"matchLabels": {"a": "-b"}}, 'invalid label value "-b" for key "a"'),
        ({"matchLabels": {"a": 1}}, "must be strings"),
        ({"matchLabels": ["a"]}, "matchLabels must be a mapping"),
    ],
)
def test_from_label_selector_obj_errors(obj, message):
    with pytest.raises(SelectorError) as info:
        from_label_selector_obj(obj)
    assert message in str(info.value)


# --- field selectors ----------------------------------------------------------------

# input -> requirements, canonical string
FIELD_SELECTORS = [
    ("", [], ""),
    ("a=b", [("a", "=", "b")], "a=b"),
    ("a==b", [("a", "=", "b")], "a=b"),
    ("a!=b", [("a", "!=", "b")], "a!=b"),
    ("metadata.name=x,spec.nodeName=n1", [("metadata.name", "=", "x"), ("spec.nodeName", "=", "n1")],
     "metadata.name=x,spec.nodeName=n1"),
    ("z=1,a=2", [("a", "=", "2"), ("z", "=", "1")], "a=2,z=1"),
    ("a=b,,c=d", [("a", "=", "b"), ("c", "=", "d")], "a=b,c=d"),
    ("a=", [("a", "=", "")], "a="),
    ("=b", [("", "=", "b")], "=b"),
    ("a==", [("a", "=", "")], "a="),
    ("a!==", None, None),
    (r"a=b\,c", [("a", "=", "b,c")], r"a=b\,c"),
    (r"a=b\=c", [("a", "=", "b=c")], r"a=b\=c"),
    (r"a=b\\c", [("a", "=", "b\\c")], r"a=b\\c"),
    (r"a=b\\", [("a", "=", "b\\")], r"a=b\\"),
    ("a = b", [("a ", "=", " b")], "a = b"),
    ("status.phase!=Failed,status.phase!=Succeeded",
     [("status.phase", "!=", "Failed"), ("status.phase", "!=", "Succeeded")],
     "status.phase!=Failed,status.phase!=Succeeded"),
]


@pytest.mark.parametrize("text,requirements,canonical", FIELD_SELECTORS)
def test_parse_field_selector(text, requirements, canonical):
    if requirements is None:
        with pytest.raises(SelectorError):
            parse_field_selector(text)
        return
    selector = parse_field_selector(text)
    assert selector.requirements == requirements
    assert str(selector) == canonical
    assert parse_field_selector(canonical) == selector
    assert selector.empty == (not requirements)


@pytest.mark.parametrize(
    "text,message",
    [
        ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: ="),
        (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_parse_field_selector_errors(text, message):
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text)
    assert str(info.value) == message


FIELD_MATCHES = [
    ("", {"a": "b"}, True),
    ("a=b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a=b", {}, False),
    ("a=", {}, True),  # an absent field reads as ""
    ("a!=", {}, False),
    ("a!=b", {}, True),
    ("a!=b", {"a": "b"}, False),
    ("a=b,c!=d", {"a": "b", "c": "e"}, True),
    ("a=b,c!=d", {"a": "b", "c": "d"}, False),
    (r"a=b\,c", {"a": "b,c"}, True),
]


@pytest.mark.parametrize("text,fields,expected", FIELD_MATCHES)
def test_field_selector_matches(text, fields, expected):
    assert parse_field_selector(text).matches(fields) is expected


@pytest.mark.parametrize(
    "text,field,expected",
    [("spec.nodeName=n1", "spec.nodeName", "n1"), ("spec.nodeName!=n1", "spec.nodeName", None),
     ("a=b", "spec.nodeName", None), ("", "a", None)],
)
def test_requires_exact_match(text, field, expected):
    assert parse_field_selector(text).requires_exact_match(field) == expected


@pytest.mark.parametrize("value", ["", "plain", "a,b", "a=b", "a\\b", "\\,=\\=,", "=,\\"])
def test_escape_round_trip(value):
    selector = parse_field_selector("f=" + escape_field_value(value))
    assert selector.requirements == [("f", "=", value)]
    assert FieldSelector(selector.requirements) == selector


# --- hot loop ---------------------------------------------------------------------

def test_matching_ten_thousand_objects_is_fast():
    labels = [{"app": f"app{i % 10}", "tier": "fe" if i % 2 else "be", "pod-template-hash": str(i)}
              for i in range(10_000)]
    selector = parse_label_selector("app=app3,tier in (fe,cache),!canary")
    fields = [{"metadata.name": f"p{i}", "spec.nodeName": f"n{i % 5}"} for i in range(10_000)]
    field_selector = parse_field_selector("spec.nodeName=n1,metadata.name!=p1")
    start = time.perf_counter()
    matched = sum(map(selector.matches, labels))
    field_matched = sum(map(field_selector.matches, fields))
    elapsed = time.perf_counter() - start
    assert matched == 1000
    assert field_matched == 1999
    assert elapsed < 0.5  # ~10 ms in practice; generous for slow CI machines
