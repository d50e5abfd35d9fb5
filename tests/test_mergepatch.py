"""Tests for minik8s.api.mergepatch (RFC 7386 JSON merge patch)."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minik8s.api.mergepatch import create_merge_patch, merge_patch, three_way_patch

# RFC 7386 Appendix A: target, patch, result
RFC_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]

MORE_EXAMPLES = [
    (None, {"a": 1}, {"a": 1}),
    ("scalar", {"a": {"b": None}}, {"a": {}}),
    ({"a": 1}, {}, {"a": 1}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"c": None, "d": 3}}, {"a": {"b": 1, "d": 3}}),
    ({"a": {"b": 1}}, {"a": None}, {}),
    ({"a": 1}, {"b": None}, {"a": 1}),
    ({"a": [1, 2]}, {"a": [None]}, {"a": [None]}),  # arrays are replaced as-is, nulls kept
    ({"spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "web"}}}}},
     {"spec": {"replicas": 3, "template": {"metadata": {"labels": {"tier": "fe"}}}}},
     {"spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}}}}),
]


@pytest.mark.parametrize("target,patch,expected", RFC_EXAMPLES + MORE_EXAMPLES)
def test_merge_patch(target, patch, expected):
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    assert merge_patch(target, patch) == expected
    assert target == target_before and patch == patch_before


def test_result_shares_nothing_with_inputs():
    target = {"keep": {"deep": [1, {"x": 1}]}, "change": {"a": 1}}
    patch = {"change": {"b": [1, 2]}, "new": {"n": {"m": 1}}}
    result = merge_patch(target, patch)
    result["keep"]["deep"][1]["x"] = 99
    result["change"]["b"].append(3)
    result["new"]["n"]["m"] = 2
    assert target == {"keep": {"deep": [1, {"x": 1}]}, "change": {"a": 1}}
    assert patch == {"change": {"b": [1, 2]}, "new": {"n": {"m": 1}}}


# original, modified, minimal patch
CREATE_EXAMPLES = [
    ({}, {}, {}),
    ({"a": 1}, {"a": 1}, {}),
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": 1}, {}, {"a": None}),
    ({}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, {"a": {"c": None}}),
    ({"a": [1, 2]}, {"a": [1, 2]}, {}),
    ({"a": [1, 2]}, {"a": [1, 2, 3]}, {"a": [1, 2, 3]}),
    ({"a": [{"b": 1}]}, {"a": [{"b": 2}]}, {"a": [{"b": 2}]}),
    ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
    ({"a": "x"}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ({"a": 1}, {"a": True}, {"a": True}),  # JSON true is not 1
    ({"a": True}, {"a": 1}, {"a": 1}),
    ({"a": 1}, {"a": 1.0}, {}),  # but 1 and 1.0 are the same JSON number
    ({"a": "1"}, {"a": 1}, {"a": 1}),
    ({"a": None}, {"a": None}, {}),
    ({"a": [1]}, {"a": [True]}, {"a": [True]}),
    ({"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 2}},
     {"metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}}, "spec": {"replicas": 2}},
     {"metadata": {"labels": {"tier": "fe"}}}),
]


@pytest.mark.parametrize("original,modified,expected", CREATE_EXAMPLES)
def test_create_merge_patch(original, modified, expected):
    before = copy.deepcopy((original, modified))
    patch = create_merge_patch(original, modified)
    assert patch == expected
    assert merge_patch(original, patch) == modified
    assert (original, modified) == before


def test_created_patch_shares_nothing_with_inputs():
    modified = {"a": {"b": [1, {"c": 2}]}}
    patch = create_merge_patch({}, modified)
    patch["a"]["b"][1]["c"] = 3
    assert modified == {"a": {"b": [1, {"c": 2}]}}


# --- properties ---------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
keys = st.text(max_size=4)
# Null cannot be a dict value (a merge patch reads it as "delete"), so dict
# values here are non-null; nulls may still sit inside lists.
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(keys, children.filter(lambda v: v is not None), max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(keys, json_values.filter(lambda v: v is not None), max_size=5)


@given(json_objects, json_objects)
def test_create_then_apply_round_trips(original, modified):
    before = copy.deepcopy((original, modified))
    patch = create_merge_patch(original, modified)
    assert merge_patch(original, patch) == modified
    assert (original, modified) == before
    if not patch:
        assert original == modified


@given(json_objects)
def test_patch_of_equal_objects_is_empty(obj):
    assert create_merge_patch(obj, copy.deepcopy(obj)) == {}


@given(json_values, json_values)
def test_merge_patch_never_mutates_and_is_idempotent(target, patch):
    before = copy.deepcopy((target, patch))
    once = merge_patch(target, patch)
    assert (target, patch) == before
    assert merge_patch(once, patch) == once
    if not isinstance(patch, dict):
        assert once == patch
        return
    for key, value in patch.items():
        if value is None:
            assert key not in once
        elif not isinstance(value, dict):
            assert once[key] == value


def test_three_way_apply_patch():
    last = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 2, "paused": True}}
    new = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 3}}
    live = {"metadata": {"labels": {"a": "1", "b": "2", "c": "3"}, "uid": "u"},
            "spec": {"replicas": 2, "paused": True, "revisionHistoryLimit": 10}}
    assert three_way_patch(last, new, live) == {"metadata": {"labels": {"b": None}},
                                                "spec": {"replicas": 3, "paused": None}}
    # lists are left alone when unchanged since the last apply and still contained in the live list
    last = {"spec": {"containers": [{"name": "c", "image": "x"}]}}
    live = {"spec": {"containers": [{"name": "c", "image": "x", "imagePullPolicy": "Always"}]}}
    assert three_way_patch(last, last, live) == {}
    new = {"spec": {"containers": [{"name": "c", "image": "y"}]}}
    assert three_way_patch(last, new, live) == new
    # a field dropped inside a list item: the list is sent whole
    last = {"spec": {"containers": [{"name": "c", "image": "x", "command": ["sh"]}]}}
    new = {"spec": {"containers": [{"name": "c", "image": "x"}]}}
    live = {"spec": {"containers": [{"name": "c", "image": "x", "command": ["sh"]}]}}
    assert three_way_patch(last, new, live) == new
