"""EnvoyConfig data, and Envoy's own validation of configs (`envoy --mode validate`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import labkit
from labkit.envoy.config import ROUTER_TYPE, STRING_TYPE, WASM_TYPE


def _hcm(d: dict) -> dict:
    return d["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]


def _addresses(node):
    """Every socket_address in a config, wherever it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "socket_address":
                yield value
            else:
                yield from _addresses(value)
    elif isinstance(node, list):
        for item in node:
            yield from _addresses(item)


# -------------------------------------------------------------------- data
def test_to_dict_structure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = labkit.EnvoyConfig(labkit.WasmFilter("relative/main.wasm", name="hello"),
                             body="hi\n", status=201)
    d = cfg.to_dict(port=18080, admin_port=18081)

    addresses = list(_addresses(d))
    assert len(addresses) == 2
    assert all(a["address"] == "127.0.0.1" for a in addresses)
    assert d["admin"]["address"]["socket_address"]["port_value"] == 18081
    assert d["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] == 18080

    filters = _hcm(d)["http_filters"]
    assert [f["name"] for f in filters] == ["hello", "envoy.filters.http.router"]
    assert filters[-1]["typed_config"] == {"@type": ROUTER_TYPE}
    wasm = filters[0]["typed_config"]
    assert wasm["@type"] == WASM_TYPE
    assert wasm["config"]["name"] == "hello"
    assert wasm["config"]["vm_config"]["runtime"] == "envoy.wasm.runtime.v8"
    filename = wasm["config"]["vm_config"]["code"]["local"]["filename"]
    assert Path(filename).is_absolute()
    assert Path(filename) == (tmp_path / "relative" / "main.wasm").resolve()

    route = _hcm(d)["route_config"]["virtual_hosts"][0]["routes"][0]
    assert route["direct_response"] == {"status": 201, "body": {"inline_string": "hi\n"}}
    assert d["node"]["id"] and d["node"]["cluster"]


def test_filters_keep_their_order_and_the_router_stays_last(tmp_path):
    build = labkit.Build(tmp_path / "hello" / "main.wasm", "0" * 64, 1, 0.1, "go", "hello")
    cfg = labkit.EnvoyConfig([labkit.WasmFilter(build, name="first"),
                              labkit.WasmFilter(build, name="second", failure_policy="FAIL_OPEN")])
    filters = _hcm(cfg.to_dict())["http_filters"]
    assert [f["name"] for f in filters] == ["first", "second", "envoy.filters.http.router"]
    assert filters[1]["typed_config"]["config"]["failure_policy"] == "FAIL_OPEN"
    assert "failure_policy" not in filters[0]["typed_config"]["config"]
    # A Build's path is used as is.
    assert filters[0]["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"] == str(build.path)


def test_yaml_and_write_round_trip(tmp_path):
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(tmp_path / "m.wasm", configuration={"a": 1}))
    assert yaml.safe_load(cfg.yaml()) == cfg.to_dict()
    path = cfg.write(tmp_path / "sub" / "envoy.yaml")
    assert yaml.safe_load(path.read_text()) == cfg.to_dict()


def test_runtime_values_are_given_when_rendering(tmp_path):
    """A config holds what Envoy runs; ports and the ECDS folder come from whoever runs it."""
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(tmp_path / "m.wasm", name="hot", reloadable=True))
    d = cfg.to_dict(port=20000, admin_port=20001, ecds_dir=tmp_path / "ecds")
    assert d["admin"]["address"]["socket_address"]["port_value"] == 20001
    assert d["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] == 20000
    source = _hcm(d)["http_filters"][0]["config_discovery"]["config_source"]["path_config_source"]
    assert source["path"] == f"{tmp_path / 'ecds'}/hot.yaml"
    # Printed without them: Envoy's usual ports and a placeholder.
    printed = cfg.to_dict()
    assert printed["admin"]["address"]["socket_address"]["port_value"] == 9901
    assert "<ecds dir>" in cfg.yaml()
    assert not hasattr(cfg, "port") and not hasattr(cfg, "ecds_dir")
    path = cfg.write(tmp_path / "envoy.yaml", port=20000, admin_port=20001)
    assert "port_value: 20001" in path.read_text()


def test_the_plugin_is_named_after_the_project(tmp_path):
    build = labkit.Build(tmp_path / "my-filter" / "main.wasm", "0" * 64, 1, 0.1, "go", "my-filter")
    assert labkit.WasmFilter(build).name == "my-filter"
    assert labkit.WasmFilter(tmp_path / "other" / "main.wasm").name == "other"
    assert labkit.WasmFilter(tmp_path / "auth.wasm").name == "auth"
    assert labkit.WasmFilter(build, name="explicit").name == "explicit"


def test_with_filter_replaces_one_filter_by_name(tmp_path):
    cfg = labkit.EnvoyConfig([labkit.WasmFilter(tmp_path / "a.wasm"), labkit.WasmFilter(tmp_path / "b.wasm")])
    new = labkit.WasmFilter(tmp_path / "b2.wasm", name="b", configuration="x")
    changed = cfg.with_filter(new)
    assert [f.name for f in changed.filters] == ["a", "b"] and changed.filters[1] is new
    assert cfg.filters[1].name == "b" and cfg.filters[1] is not new
    with pytest.raises(labkit.LabError, match="no filter named 'c'"):
        cfg.with_filter(labkit.WasmFilter(tmp_path / "c.wasm"))


def test_plugin_configuration():
    assert labkit.envoy.plugin_configuration(None) is None
    assert labkit.envoy.plugin_configuration("header=x") == {"@type": STRING_TYPE, "value": "header=x"}
    conf = labkit.envoy.plugin_configuration({"header": "x-lab", "values": [1, 2]})
    assert conf["@type"] == STRING_TYPE
    assert json.loads(conf["value"]) == {"header": "x-lab", "values": [1, 2]}
    assert json.loads(labkit.envoy.plugin_configuration([1, "a"])["value"]) == [1, "a"]

    plugin = labkit.WasmFilter("/m.wasm", configuration={"k": "v"}).plugin()
    assert json.loads(plugin["configuration"]["value"]) == {"k": "v"}
    assert "configuration" not in labkit.WasmFilter("/m.wasm").plugin()


# -------------------------------------------------------------- validation
@pytest.mark.go
@pytest.mark.envoy
def test_validate_accepts_a_good_config(log_headers, capsys):
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1], configuration={"any": "thing"}))
    labkit.validate(cfg)  # raises ConfigError when Envoy disagrees
    assert "Envoy accepts" in capsys.readouterr().out


@pytest.mark.go
@pytest.mark.envoy
def test_validate_a_config_with_a_reloadable_filter(log_headers, capsys):
    """Its ECDS resource lives in a folder a running Envoy owns: validation makes its own."""
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1], reloadable=True))
    labkit.validate(cfg)
    assert "Envoy accepts" in capsys.readouterr().out


@pytest.mark.go
@pytest.mark.envoy
def test_validate_accepts_a_good_file(log_headers, tmp_path, capsys):
    path = labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1])).write(tmp_path / "good.yaml")
    labkit.validate(str(path))
    assert "Envoy accepts good.yaml" in capsys.readouterr().out


@pytest.mark.go
@pytest.mark.envoy
def test_typo_in_a_field_name_is_a_config_error(log_headers, tmp_path):
    good = labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1])).yaml()
    assert good.count("stat_prefix:") == 1
    path = tmp_path / "typo.yaml"
    path.write_text(good.replace("stat_prefix:", "stat_prefx:"))
    with pytest.raises(labkit.ConfigError) as info:
        labkit.validate(path)
    err = info.value
    assert err.path == str(path)
    assert "stat_prefx" in err.message  # Envoy's reason, naming the field
    assert "unknown fields" in err.message
    assert "stat_prefx" in err.cause
    assert err.fix


SEED_YAML = """\
static_resources:
  listeners:
  - name: main
    address:
      socket_address: {{address: 127.0.0.1, port_value: 10000}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          codec_type: auto
          route_config:
            name: local_route
            virtual_hosts:
            - name: local_service
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response:
                  status: 200
                  body: {{inline_string: "Hello world"}}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/udpa.type.v1.TypedStruct
              type_url: type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              value:
                config:
                  vm_config:
                    runtime: envoy.wasm.runtime.v8
                    code: {{local: {{filename: "{wasm}"}}}}
          - name: envoy.filters.http.router
admin:
  address:
    socket_address: {{address: 127.0.0.1, port_value: 9901}}
"""


@pytest.mark.go
@pytest.mark.envoy
def test_seed_router_without_typed_config_is_explained(log_headers, tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(SEED_YAML.format(wasm=log_headers[1].path))
    with pytest.raises(labkit.ConfigError) as info:
        labkit.validate(path)
    err = info.value
    assert "envoy.filters.http.router" in err.message
    assert "typed_config" in err.fix
    assert ROUTER_TYPE in err.fix

    # The same file with the router's typed_config added is accepted.
    fixed = tmp_path / "seed-fixed.yaml"
    fixed.write_text(path.read_text().replace(
        "- name: envoy.filters.http.router\n",
        f"- name: envoy.filters.http.router\n            typed_config: {{'@type': {ROUTER_TYPE}}}\n"))
    labkit.validate(fixed)


@pytest.mark.go
@pytest.mark.envoy
def test_missing_module_file_is_a_config_error(tmp_path):
    missing = tmp_path / "never-built" / "main.wasm"
    with pytest.raises(labkit.ConfigError) as info:
        labkit.validate(labkit.EnvoyConfig(labkit.WasmFilter(missing)))
    err = info.value
    assert "Invalid path" in err.message
    assert str(missing) in err.message
    assert "build" in err.fix


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(labkit.ConfigError, match="no Envoy config") as info:
        labkit.validate(tmp_path / "nothing.yaml")
    assert info.value.path == str((tmp_path / "nothing.yaml").resolve())
