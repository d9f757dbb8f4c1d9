"""EnvoyConfig data, and Envoy's own validation of configs (`envoy --mode validate`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import labkit
from helpers import REPO
from labkit.envoy import HTTPBIN, Listener, Route, TcpListener, WasmService
from labkit.envoy.config import NETWORK_WASM_TYPE, ROUTER_TYPE, STRING_TYPE, WASM_TYPE


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
# ------------------------------------------------- upstreams and the rest
def _clusters(d: dict) -> dict[str, int]:
    return {c["name"]: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            ["socket_address"]["port_value"] for c in d["static_resources"].get("clusters", [])}


def test_an_upstream_gets_a_cluster_and_the_route_goes_there():
    d = labkit.EnvoyConfig(upstream="http://127.0.0.1:8080").to_dict()
    route = _hcm(d)["route_config"]["virtual_hosts"][0]["routes"][0]
    assert route == {"match": {"prefix": "/"}, "route": {"cluster": "upstream_1"}}
    assert _clusters(d) == {"upstream_1": 8080}


def test_routes_share_a_cluster_per_address_and_carry_metadata():
    cfg = labkit.EnvoyConfig(routes=[Route("/a", upstream="http://127.0.0.1:8080"),
                                     Route("/b", upstream="http://localhost:8080"),
                                     Route("/", status=404, body="nothing\n", metadata={"lab": {"team": "x"}})])
    routes = _hcm(cfg.to_dict())["route_config"]["virtual_hosts"][0]["routes"]
    assert [r["match"]["prefix"] for r in routes] == ["/a", "/b", "/"]
    assert routes[2]["direct_response"]["status"] == 404
    assert routes[2]["metadata"] == {"filter_metadata": {"lab": {"team": "x"}}}
    assert set(_clusters(cfg.to_dict())) == {"upstream_1", "upstream_2"}
    assert not cfg.needs_httpbin


def test_httpbin_is_a_placeholder_until_an_envoy_runs_it():
    cfg = labkit.EnvoyConfig(clusters={"auth": HTTPBIN})
    assert cfg.needs_httpbin
    assert _clusters(cfg.to_dict()) == {"auth": 8000}
    assert _clusters(cfg.to_dict(httpbin="http://127.0.0.1:4321")) == {"auth": 4321}
    assert labkit.EnvoyConfig(listeners=[TcpListener("t", upstream=HTTPBIN)]).needs_httpbin


@pytest.mark.parametrize("upstream, error", [("http://example.com", "not on this machine"),
                                              ("auth", "is not an upstream labkit knows"),
                                              (8080, "is not an upstream labkit knows")])
def test_an_upstream_labkit_cannot_use_is_refused(upstream, error):
    with pytest.raises(labkit.LabError, match=error) as info:
        labkit.EnvoyConfig(upstream=upstream).to_dict()
    assert info.value.fix


def test_the_vm_fields_of_a_filter():
    f = labkit.WasmFilter("/m.wasm", name="f", root_id="r", vm_id="shared", vm_configuration={"a": 1},
                          environment={"MODE": "lab"}, failure_policy="FAIL_OPEN")
    plugin = f.plugin()
    assert plugin["root_id"] == "r" and plugin["failure_policy"] == "FAIL_OPEN"
    vm = plugin["vm_config"]
    assert vm["vm_id"] == "shared"
    assert json.loads(vm["configuration"]["value"]) == {"a": 1}
    assert vm["environment_variables"] == {"key_values": {"MODE": "lab"}}


def test_extra_listeners_get_their_own_ports():
    tcp = labkit.WasmFilter("/m.wasm", name="net")
    cfg = labkit.EnvoyConfig(listeners=[Listener("second"), TcpListener("tcp", upstream="http://127.0.0.1:9000",
                                                                       filters=tcp)])
    d = cfg.to_dict(port=10000, ports={"tcp": 12345})
    listeners = {ln["name"]: ln for ln in d["static_resources"]["listeners"]}
    ports = {n: ln["address"]["socket_address"]["port_value"] for n, ln in listeners.items()}
    assert ports == {"main": 10000, "second": 10001, "tcp": 12345}
    chain = listeners["tcp"]["filter_chains"][0]["filters"]
    assert chain[0]["typed_config"]["@type"] == NETWORK_WASM_TYPE
    assert chain[1]["name"] == "envoy.filters.network.tcp_proxy"
    assert chain[1]["typed_config"]["cluster"] == "upstream_1"
    with pytest.raises(labkit.LabError, match="reloads HTTP filters only"):
        labkit.EnvoyConfig(listeners=[TcpListener("t", upstream="http://127.0.0.1:1",
                                                  filters=labkit.WasmFilter("/m.wasm", reloadable=True))]).to_dict()


def test_a_service_is_a_bootstrap_extension():
    d = labkit.EnvoyConfig(services=[WasmService("/tick/main.wasm", configuration="x")]).to_dict()
    (ext,) = d["bootstrap_extensions"]
    assert ext["name"] == "envoy.bootstrap.wasm"
    assert ext["typed_config"]["singleton"] is True
    assert ext["typed_config"]["config"]["name"] == "tick"


@pytest.mark.go
@pytest.mark.envoy
def test_envoy_accepts_every_part_together(log_headers, capsys):
    build = log_headers[1]
    cfg = labkit.EnvoyConfig(
        labkit.WasmFilter(build, vm_configuration="vm", environment={"A": "1"}, root_id="", vm_id="v"),
        routes=[Route("/up", upstream=HTTPBIN), Route("/", metadata={"lab": {"team": "a"}})],
        clusters={"auth": HTTPBIN},
        listeners=[Listener("second", filters=labkit.WasmFilter(build, name="again")),
                   TcpListener("tcp", upstream=HTTPBIN, filters=labkit.WasmFilter(build, name="net"))],
        services=[WasmService(build, name="service")])
    labkit.validate(cfg)
    assert "Envoy accepts" in capsys.readouterr().out


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


def test_a_yaml_naming_a_missing_file_says_which(tmp_path):
    config = tmp_path / "envoy.yaml"
    text = (REPO / "examples" / "log-headers" / "envoy.yaml").read_text()
    config.write_text(text.replace("port_value: 10000", f"port_value: {labkit.free_port()}")
                      .replace("port_value: 9901", f"port_value: {labkit.free_port()}"))
    envoy = labkit.Envoy(config, name="missing-module")
    with pytest.raises(labkit.ConfigError) as info:
        envoy.start()
    error = info.value
    assert "names a file that does not exist" in str(error)
    assert "main.wasm" in str(error.cause) and str(tmp_path) in str(error.cause)
    assert "ext.build()" in error.fix
    assert not envoy.running
