"""Service roles stay thin: hailo_service does the work, services.yaml holds each service's identity.

Pure Python + PyYAML (no Ansible needed):
  - every service in services.yaml has a role hailo_<svc>, and every other hailo_* role is a service
    (only the shared roles hailo_runtime and hailo_service are not);
  - a service role holds only defaults/main.yml, meta/main.yml, meta/argument_specs.yml, vars/main.yml,
    README.md, tasks/main.yml and files/ (samples for its verify request);
  - its only task file is tasks/main.yml, and that is one task: include_role hailo_service at the entry
    point `hailo_service_entry`, with the service's services.yaml name and hailo_service_* facts only;
    no task anywhere in a service role duplicates a task of hailo_service;
  - hailo_service has every entry point, as a task file and in its argument spec;
  - the identity is not re-typed: no port of services.yaml in role or playbook YAML, no
    hailo_<svc>_{port,extra,memory_max,description,model} default in a service role;
  - the config keys hailo_service writes are settings of ServiceSettings (core/settings.py), a service
    role's own config keys are settings of its service, and hailo_service_log_level allows exactly the
    levels the settings allow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES_DIR = ROOT / "roles"
SRC = ROOT / "service_src" / "hailo_services"
SHARED_ROLES = {"hailo_runtime", "hailo_service"}
ENTRY_POINTS = {"main", "install", "models", "configure", "verify", "footprint", "uninstall"}
ALLOWED_FILES = {
    "defaults/main.yml",
    "meta/main.yml",
    "meta/argument_specs.yml",
    "vars/main.yml",
    "README.md",
    "tasks/main.yml",
}
IDENTITY_KEYS = ("port", "extra", "memory_max", "description", "model", "unit")


def load(path: Path):
    with open(path) as f:
        return yaml.safe_load(f) or {}


SERVICES = load(SRC / "services.yaml")["services"]
SERVICE_ROLES = sorted(
    p.name for p in ROLES_DIR.iterdir() if p.is_dir() and p.name.startswith("hailo_") and p.name not in SHARED_ROLES
)


def role_of(service: str) -> str:
    return service.replace("-", "_")


@pytest.fixture(params=SERVICE_ROLES)
def role(request):
    return request.param


def test_every_service_has_a_role_and_every_role_a_service():
    assert {role_of(s) for s in SERVICES} == set(SERVICE_ROLES), (
        f"services.yaml: {sorted(SERVICES)}; service roles: {SERVICE_ROLES}"
    )


def test_service_role_holds_only_its_facts(role):
    d = ROLES_DIR / role
    files = {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    extra = sorted(f for f in files - ALLOWED_FILES if not f.startswith("files/"))
    assert not extra, f"{role}: files a service role must not have (hailo_service provides them): {extra}"
    assert files >= ALLOWED_FILES, f"{role}: missing {sorted(ALLOWED_FILES - files)}"


def test_service_role_has_no_task_file_but_main(role):
    tasks = sorted(p.name for p in (ROLES_DIR / role / "tasks").iterdir())
    assert tasks == ["main.yml"], (
        f"{role}: tasks/{tasks}: entry points (install, verify, footprint, uninstall, ...) are hailo_service's;"
        " playbooks run them through the role's main.yml with hailo_service_entry"
    )


def test_service_role_main_is_one_include_of_hailo_service(role):
    service = role.replace("_", "-")
    tasks = load(ROLES_DIR / role / "tasks" / "main.yml")
    assert isinstance(tasks, list) and len(tasks) == 1, f"{role}: tasks/main.yml must be exactly one task"
    task = tasks[0]
    action = task.get("ansible.builtin.include_role") or task.get("include_role")
    assert action, f"{role}: the task must be ansible.builtin.include_role of hailo_service"
    assert action["name"] == "hailo_service"
    assert re.fullmatch(r"\{\{\s*hailo_service_entry\s*\|\s*default\('main'\)\s*\}\}", action["tasks_from"])
    params = task.get("vars") or {}
    assert params.get("hailo_service_name") == service, f"{role}: hailo_service_name must be {service}"
    assert all(k.startswith("hailo_service_") for k in params), f"{role}: vars other than hailo_service_*"
    unknown = set(params) - set(load(ROLES_DIR / "hailo_service" / "defaults" / "main.yml"))
    assert not unknown, f"{role}: facts hailo_service does not take: {sorted(unknown)}"


def _tasks(node):
    """Every task (a mapping with a module) in a task list, blocks flattened, without names and tags."""
    if isinstance(node, list):
        for x in node:
            yield from _tasks(x)
    elif isinstance(node, dict):
        if "block" in node:
            for k in ("block", "rescue", "always"):
                yield from _tasks(node.get(k) or [])
        else:
            yield {k: v for k, v in node.items() if k not in ("name", "tags")}


def test_no_service_task_duplicates_hailo_service(role):
    shared = [t for p in (ROLES_DIR / "hailo_service" / "tasks").glob("*.yml") for t in _tasks(load(p))]
    for p in (ROLES_DIR / role).rglob("*.yml"):
        if "tasks" not in p.relative_to(ROLES_DIR / role).parts:
            continue
        for t in _tasks(load(p)):
            assert t not in shared, f"{role}/{p.name}: duplicates a task of hailo_service: {t}"


def test_hailo_service_has_every_entry_point():
    tasks = {p.stem for p in (ROLES_DIR / "hailo_service" / "tasks").glob("*.yml") if not p.stem.startswith("_")}
    assert tasks == ENTRY_POINTS
    specs = load(ROLES_DIR / "hailo_service" / "meta" / "argument_specs.yml")["argument_specs"]
    assert set(specs) == ENTRY_POINTS
    assert set(specs["main"]["options"]["hailo_service_entry"]["choices"]) == ENTRY_POINTS


def test_identity_is_not_retyped():
    ports = {str(s["port"]) for s in SERVICES.values()}
    files = [*ROLES_DIR.rglob("*.yml"), *(ROOT / "playbooks").rglob("*.yml"), *ROLES_DIR.rglob("*.j2")]
    for p in files:
        found = ports & set(re.findall(r"\b\d{4,5}\b", p.read_text()))
        assert not found, f"{p.relative_to(ROOT)}: port(s) {sorted(found)} of services.yaml re-typed"
    for service in SERVICES:
        defaults = ROLES_DIR / role_of(service) / "defaults" / "main.yml"
        if defaults.exists():
            retyped = [f"{role_of(service)}_{k}" for k in IDENTITY_KEYS if f"{role_of(service)}_{k}" in load(defaults)]
            assert not retyped, f"{service}: {retyped} come from services.yaml, not role defaults"


# --- the config hailo_service writes is what the services' settings accept ---------------------


def _settings_fields(path: Path, base: str | None = None) -> dict[str, ast.expr]:
    """Annotated fields (not ClassVar) of the settings classes in a module: of `base` itself when
    given, else of every class."""
    tree = ast.parse(path.read_text())
    out: dict[str, ast.expr] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        if base and cls.name != base:
            continue
        for st in cls.body:
            if (
                isinstance(st, ast.AnnAssign)
                and isinstance(st.target, ast.Name)
                and "ClassVar" not in ast.unparse(st.annotation)
            ):
                out[st.target.id] = st.annotation
    return out


CORE = _settings_fields(SRC / "core" / "settings.py", "ServiceSettings")


def test_core_config_keys_are_service_settings():
    vars_main = load(ROLES_DIR / "hailo_service" / "vars" / "main.yml")
    written = set(vars_main["_hailo_service_core_keys"])
    config = vars_main["_hailo_service_config"]
    device = re.search(r"'hailo': \{([^}]*)\}", config).group(1)
    written |= set(re.findall(r"'(\w+)':", config.replace(device, "")))
    unknown = sorted(written - set(CORE))
    assert not unknown, f"hailo_service writes config keys ServiceSettings does not have: {unknown}"
    hailo = set(_settings_fields(SRC / "core" / "settings.py", "HailoDeviceSettings"))
    assert set(re.findall(r"'(\w+)':", device)) <= hailo


def test_log_level_choices_are_the_settings_levels():
    levels = {c.value for c in ast.walk(CORE["log_level"]) if isinstance(c, ast.Constant)}
    spec = load(ROLES_DIR / "hailo_service" / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(spec["hailo_service_log_level"]["choices"]) == levels


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_own_config_keys_are_settings_of_the_service(service):
    own = load(ROLES_DIR / role_of(service) / "vars" / "main.yml").get(f"{role_of(service)}_own_config") or {}
    settings = SRC / SERVICES[service]["package"] / "settings.py"
    if not own:
        return
    fields = set(CORE) | set(_settings_fields(settings))
    unknown = sorted(set(own) - fields)
    assert not unknown, f"{service}: own config keys its settings do not have: {unknown}"
