"""Every role variable is documented in meta/argument_specs.yml, with the same default.

Pure Python + PyYAML (no Ansible needed). For each role under roles/:
  - defaults/main.yml and meta/argument_specs.yml exist;
  - the keys of defaults/main.yml == the union of the options of all entry points;
  - each option's `default` equals the value in defaults/main.yml, and has a description;
  - non-templated defaults match the declared type and are among the `choices`;
  - every `<role>_*` name used in tasks/templates/handlers is a default, an internal var
    (vars/main.yml), a registered result, a set_fact or a loop_var (catches typos and
    variables that were added without a default and a spec).
"""

import re
from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks" / "main.yml").exists())

TYPES = {
    "str": (str,),
    "path": (str,),
    "raw": (object,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def load(path):
    with open(path) as f:
        return yaml.safe_load(f) or {}


def templated(value):
    return isinstance(value, str) and "{{" in value


def role_files(role, *subdirs):
    for sub in subdirs:
        d = ROLES_DIR / role / sub
        if d.is_dir():
            yield from sorted(p for p in d.rglob("*") if p.is_file())


@pytest.fixture(params=ROLES)
def role(request):
    return request.param


def specs_of(role):
    path = ROLES_DIR / role / "meta" / "argument_specs.yml"
    assert path.exists(), f"{role}: meta/argument_specs.yml is missing"
    eps = load(path).get("argument_specs") or {}
    assert "main" in eps, f"{role}: argument_specs has no 'main' entry point"
    return eps


def defaults_of(role):
    path = ROLES_DIR / role / "defaults" / "main.yml"
    return load(path) if path.exists() else {}


def test_roles_found():
    assert {"hailo_runtime", "hailo_service", "hailo_ollama", "hailo_detect", "hailo_pose"} <= set(ROLES)


def test_defaults_and_specs_have_the_same_variables(role):
    defaults, eps = defaults_of(role), specs_of(role)
    documented = set().union(*((ep.get("options") or {}).keys() for ep in eps.values()))
    required = {k for ep in eps.values() for k, o in (ep.get("options") or {}).items() if o.get("required")}
    missing = sorted(set(defaults) - documented)
    extra = sorted(documented - set(defaults) - required)
    assert not missing, f"{role}: in defaults/main.yml but not in meta/argument_specs.yml: {missing}"
    assert not extra, f"{role}: in meta/argument_specs.yml but not in defaults/main.yml: {extra}"


def test_spec_defaults_match(role):
    defaults, eps = defaults_of(role), specs_of(role)
    problems = []
    for ep_name, ep in eps.items():
        for name, opt in (ep.get("options") or {}).items():
            where = f"{role} {ep_name}.{name}"
            if not opt.get("description"):
                problems.append(f"{where}: no description")
            if name not in defaults:
                continue
            value = defaults[name]
            if "default" not in opt:
                problems.append(f"{where}: no default in the spec (defaults/main.yml: {value!r})")
            elif opt["default"] != value:
                problems.append(f"{where}: spec default {opt['default']!r} != defaults/main.yml {value!r}")
            t = opt.get("type", "str")
            if t not in TYPES:
                problems.append(f"{where}: unknown type {t}")
            elif value is not None and not templated(value):
                if not isinstance(value, TYPES[t]) or (t in ("int", "float") and isinstance(value, bool)):
                    problems.append(f"{where}: default {value!r} is not a {t}")
                if "choices" in opt and value not in opt["choices"]:
                    problems.append(f"{where}: default {value!r} not in choices {opt['choices']}")
            if t == "list" and "elements" not in opt:
                problems.append(f"{where}: list without elements")
    assert not problems, "\n".join(problems)


def _defined_in_tasks(node, names):
    """Names a task file defines: register, set_fact keys, vars keys, loop_var."""
    if isinstance(node, list):
        for x in node:
            _defined_in_tasks(x, names)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "register" and isinstance(v, str):
                names.add(v)
            elif k in ("vars", "ansible.builtin.set_fact", "set_fact") and isinstance(v, dict):
                names |= set(v)
            elif k == "loop_control" and isinstance(v, dict) and "loop_var" in v:
                names.add(v["loop_var"])
            _defined_in_tasks(v, names)


def _without_tags(node):
    if isinstance(node, list):
        return [_without_tags(x) for x in node]
    if isinstance(node, dict):
        return {k: _without_tags(v) for k, v in node.items() if k != "tags"}
    return node


def test_every_used_role_variable_is_known(role):
    known = set(defaults_of(role))
    vars_main = ROLES_DIR / role / "vars" / "main.yml"
    if vars_main.exists():
        known |= set(load(vars_main))
    text = ""
    for p in role_files(role, "tasks", "handlers", "templates", "vars"):
        if p.suffix in (".yml", ".yaml"):
            data = load(p)
            _defined_in_tasks(data, known)
            text += yaml.safe_dump(_without_tags(data), width=10**6) + "\n"
        else:
            text += p.read_text() + "\n"
    used = set(re.findall(r"(?<![\w.'\"/-])(_?" + re.escape(role) + r"_\w+)", text))
    unknown = sorted(u for u in used if u not in known)
    assert not unknown, f"{role}: variables used but not defined anywhere: {unknown}"
