"""``validate()``: Envoy's own verdict on a configuration, without serving.

``envoy --mode validate -c FILE`` reads the whole configuration, loads every
Wasm module and runs its plugin start, then exits: a module that fails to
start is caught here too.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from .._paths import state_dir
from ..errors import ConfigError
from ..toolchain import find_envoy
from .config import EnvoyConfig
from .explain import explain
from .reload import write_resource

__all__ = ["validate", "modules_in"]


def validate(config: EnvoyConfig | str | os.PathLike) -> None:
    """Check a config with ``envoy --mode validate``; raise ConfigError with Envoy's reason."""
    if not isinstance(config, EnvoyConfig) and not Path(config).is_file():
        path = Path(config).resolve()
        raise ConfigError(f"no Envoy config at {path}", path=str(path),
                          fix="check the path, or write one with EnvoyConfig(...).write(path)")
    envoy = find_envoy().require()
    with tempfile.TemporaryDirectory(prefix="labkit-ecds-") as ecds_dir:
        if isinstance(config, EnvoyConfig):
            # Reloadable filters read their resource from a folder a running Envoy
            # owns; a validation gets a throwaway one.
            for f in config.reloadable_filters:
                write_resource(Path(ecds_dir), f)
            text = config.yaml(ecds_dir=ecds_dir)
            # Named by content: the file stays for the learner to open, and
            # concurrent validations of different configs never collide.
            path = state_dir("envoy") / f"config-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
            path.write_text(text)
        else:
            path = Path(config).resolve()
        out = subprocess.run([envoy, "--mode", "validate", "-c", str(path), "-l", "warning",
                              "--component-log-level", "wasm:info"],
                             capture_output=True, text=True, cwd=path.parent)
    if out.returncode != 0:
        why = explain(out.stdout + out.stderr, modules_in(path))
        raise ConfigError(f"Envoy rejected {path}: {why.reason}", path=str(path), cause=why.relevant,
                          fix=why.fix or "correct the config at the place Envoy names")
    print(f"✔ Envoy accepts {path.name}")


def modules_in(path: Path) -> list[Path]:
    """The local Wasm files a bootstrap file loads (``code.local.filename``), resolved
    from the file's folder."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return []
    found: list[Path] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            local = node.get("local")
            if isinstance(local, dict) and isinstance(local.get("filename"), str):
                found.append(path.parent / local["filename"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found
