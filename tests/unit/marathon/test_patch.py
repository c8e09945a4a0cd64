"""Partial updates: `PUT /v2/apps/{id}` with `partialUpdate=true` (the default) and `PATCH` (marathon.md a.3):
present fields replace wholesale, absent ones stay, `{"version": ts}` alone is a rollback.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.marathon.errors import INVALID_JSON, OBJECT_NOT_VALID, ValidationError
from corral.marathon.model import AppDefinition, FetchUri, apply_patch, rollback_version
from corral.marathon.networking import Network, NetworkMode, PortDefinition
from corral.protocol.json import JsonObject

from .apps import app_json


def decode(obj: JsonObject) -> AppDefinition:
    return AppDefinition.from_json(obj)


WEB: JsonObject = {
    "id": "/web",
    "cmd": "python3 -m http.server",
    "instances": 2,
    "labels": {"a": "1", "b": "2"},
    "env": {"X": "1"},
    "portDefinitions": [{"port": 10000, "name": "http"}],
}


def test_a_scale_changes_only_instances() -> None:
    app = decode(WEB)
    assert apply_patch(app, {"instances": 5}) == dataclasses.replace(app, instances=5)


def test_present_fields_replace_wholesale_and_absent_or_null_ones_stay() -> None:
    app = decode(WEB)
    patched = apply_patch(app, {"labels": {"c": "3"}, "cmd": None, "env": {}})
    assert patched.labels == {"c": "3"}  # not merged with a, b
    assert patched.cmd == app.cmd
    assert patched.env == {}
    assert patched.port_definitions == app.port_definitions


def test_the_body_id_is_ignored_the_url_names_the_app() -> None:
    app = decode(WEB)
    assert apply_patch(app, {"id": "/elsewhere", "mem": 64}).id == app.id


def test_deprecated_fields_in_a_patch_replace_their_canonical_counterparts() -> None:
    app = decode(WEB)
    assert apply_patch(app, {"ports": [0, 0]}).port_definitions == (PortDefinition(), PortDefinition())
    assert apply_patch(app, {"uris": ["http://x/y"]}).fetch == (FetchUri(uri="http://x/y", extract=False),)
    ip = apply_patch(app, {"ipAddress": {"networkName": "dcos"}})
    assert ip.networks == (Network(mode=NetworkMode.CONTAINER, name="dcos"),)
    assert ip.port_definitions == ()
    bridged = apply_patch(app, {"container": {"docker": {"image": "nginx", "network": "BRIDGE"}}})
    assert bridged.networks == (Network(mode=NetworkMode.CONTAINER_BRIDGE),)


def test_a_patch_is_validated_on_the_merged_app() -> None:
    app = decode(WEB)
    with pytest.raises(ValidationError) as e:
        apply_patch(app, {"args": ["x"]})  # now both cmd and args
    assert e.value.message == OBJECT_NOT_VALID
    with pytest.raises(ValidationError) as e:
        apply_patch(app, {"instances": "5"})
    assert e.value.body() == {
        "message": INVALID_JSON,
        "details": [{"path": "/instances", "errors": ["error.expected.jsnumber"]}],
    }


def test_a_version_alone_is_a_rollback_left_to_the_caller() -> None:
    app = decode(WEB)
    assert rollback_version({"version": "2015-09-29T15:59:51.164Z"}) == "2015-09-29T15:59:51.164Z"
    assert (
        rollback_version({"id": "/web", "version": "2015-09-29T15:59:51.164Z"}) == "2015-09-29T15:59:51.164Z"
    )
    assert rollback_version({"instances": 3}) is None
    assert apply_patch(app, {"version": "2015-09-29T15:59:51.164Z"}) == app


def test_a_version_with_other_fields_is_refused() -> None:
    with pytest.raises(ValidationError) as e:
        apply_patch(decode(WEB), {"version": "2015-09-29T15:59:51.164Z", "instances": 3})
    assert e.value.body() == {
        "message": "Object is not valid",
        "details": [
            {"path": "/", "errors": ["The 'version' field may only be combined with the 'id' field."]}
        ],
    }


def test_a_patch_must_be_an_object() -> None:
    with pytest.raises(ValidationError) as e:
        apply_patch(decode(WEB), [1])
    assert e.value.errors_at("/") == ["error.expected.jsobject"]


@given(app_json(), st.integers(0, 100))
def test_scaling_any_app_changes_nothing_else(obj: JsonObject, instances: int) -> None:
    app = AppDefinition.from_json(obj)
    assert apply_patch(app, {}) == app
    assert apply_patch(app, {"instances": instances}) == dataclasses.replace(app, instances=instances)
