"""Client ids bound to accounts (system/decisions/mqtt_client_ids.py), as a table written from the rule."""

from __future__ import annotations

import pytest

from system.decisions.mqtt_client_ids import ClientIdRule, assigned_client_id, check_client_id, own_client_id


@pytest.mark.parametrize("account, client_id, clean, rule, verdict", [
    ("node-1", "node-1", True, ClientIdRule(), "ok"),
    ("node-1", "node-1-probe", False, ClientIdRule(), "ok"),
    ("node-1", "node-10", True, ClientIdRule(), "not_yours"),       # a prefix of another name is not enough
    ("node-1", "node-", True, ClientIdRule(), "not_yours"),
    ("mallory", "bridge", False, ClientIdRule(), "not_yours"),
    ("mallory", "bridge", True, ClientIdRule(), "not_yours"),
    ("bridge", "bridge", False, ClientIdRule(), "ok"),
    ("bridge", "", True, ClientIdRule(), "empty"),
    ("bridge", "", False, ClientIdRule(), "empty_persistent"),
    ("bridge", "bridge.main", True, ClientIdRule(separator="."), "ok"),
    ("bridge", "bridge-main", True, ClientIdRule(separator="."), "not_yours"),
    ("mallory", "bridge", False, ClientIdRule("free"), "ok"),
    ("mallory", "", False, ClientIdRule("free"), "empty_persistent"),
])
def test_client_id_rule(account, client_id, clean, rule, verdict):
    assert check_client_id(account, client_id, clean_session=clean, rule=rule) == verdict


def test_an_assigned_client_id_belongs_to_its_account():
    assigned = assigned_client_id("node-3", "a1b2c3")
    assert assigned == "node-3-a1b2c3"
    assert check_client_id("node-3", assigned, clean_session=True) == "ok"


@pytest.mark.parametrize("username, default, role, client_id", [
    ("cloud", "cloud", "jobs", "cloud-jobs"), (None, "cloud", "jobs", "cloud-jobs"),
    ("pi", "stadium", "controller", "pi-controller"), (None, "stadium", "controller", "stadium-controller")])
def test_hilsims_services_name_themselves_under_their_account(username, default, role, client_id):
    assert own_client_id(username, default, role) == client_id
