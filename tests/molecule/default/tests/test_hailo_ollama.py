"""Verify hailo-ollama as deployed by playbooks/site.yml on the sandbox target (molecule verify).

Checks run in file order: the deployed host (testinfra, as root on the target), real requests
from the host (the container shares the host network), then the operational behaviours, each by
running the project's playbooks against molecule's inventory: SIGKILL recovery, a changed role
variable restarts with the new config, a broken config fails the play and leaves the running
service untouched, the NPU budget check, uninstall + install keeps the models, --check is clean.
"""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

if "MOLECULE_INVENTORY_FILE" not in os.environ:  # collected outside molecule: nothing to verify
    pytest.skip("runs under molecule verify only", allow_module_level=True)

import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("all")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PORT = 21434
BASE = f"http://127.0.0.1:{PORT}"
SVC = "hailo-ollama"
CONFIG = "/etc/hailo/hailo-ollama.yaml"
MODEL = "/var/lib/hailo-services/models/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


MEASUREMENTS = os.environ.get(
    "HAILO_MOLECULE_MEASUREMENTS",
    os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp"), "measurements.txt"),
)


def measure(line):
    """Append a measurement; tools/molecule-test prints the file at the end."""
    print(line)
    with open(MEASUREMENTS, "a") as f:
        f.write(line + "\n")


def playbook(name, *args, timeout=1200):
    """Run one of the project's playbooks against molecule's inventory; return (rc, output)."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_ROLES_PATH=os.path.join(REPO, "roles"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
    )
    t0 = time.monotonic()
    p = subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, os.path.join(REPO, "playbooks", name), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    print(p.stdout[-6000:])
    measure(f"ansible-playbook {name} {' '.join(args)}: rc={p.returncode} {time.monotonic() - t0:.1f} s")
    return p.returncode, p.stdout


def recap(out):
    m = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out.split("PLAY RECAP")[-1])
    assert m, out[-2000:]
    return {k: int(v) for k, v in zip(("ok", "changed", "unreachable", "failed"), m.groups(), strict=False)}


def get(path, timeout=5):
    try:
        with urllib.request.urlopen(BASE + path, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def wait_ready(limit):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if get("/health/ready", timeout=2)[0] == 200:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


# Every test takes the testinfra `host` fixture, even when it only talks HTTP: pytest-testinfra
# parametrizes by host, and mixing fixtures would reorder the (stateful) tests below.


def main_pid(host):
    return int(host.check_output(f"systemctl show -p MainPID --value {SVC}"))


# --- the deployed host ------------------------------------------------------------------------


def test_pid1_is_systemd(host):
    assert host.run("ps -p 1 -o comm=").stdout.strip() == "systemd"


def test_user(host):
    u = host.user(SVC)
    assert u.exists and u.uid < 1000 and u.shell == "/usr/sbin/nologin"
    assert {"hailo", "hailo-models"} <= set(u.groups)


def test_directories(host):
    venv = host.file("/opt/hailo-services/ollama/venv")
    assert venv.is_directory and venv.user == "root"
    store = host.file("/var/lib/hailo-services/models")
    assert store.is_directory and store.user == "root" and store.group == "hailo-models" and store.mode == 0o3770
    state = host.file("/var/lib/hailo-ollama")
    assert state.is_directory and state.user == SVC and state.mode == 0o750


def test_config(host):
    f = host.file(CONFIG)
    assert f.exists and f.user == "root" and f.group == SVC and f.mode == 0o640
    cfg = f.content_string
    assert f"port: {PORT}" in cfg and "engine: cpu" in cfg and "model: smollm2:135m" in cfg
    assert host.run(f"/opt/hailo-services/ollama/venv/bin/hailo-services check-config {SVC} {CONFIG}").rc == 0


def test_model_in_store(host):
    f = host.file(MODEL)
    assert f.exists and f.group == "hailo-models" and f.mode == 0o640
    assert f.sha256sum == MODEL_SHA256


def test_unit_hardening(host):
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            f"systemctl show {SVC} -p Type -p User -p NotifyAccess -p Restart -p WatchdogUSec -p NoNewPrivileges "
            "-p ProtectSystem -p ProtectHome -p PrivateTmp -p PrivateDevices -p CapabilityBoundingSet "
            "-p MemoryDenyWriteExecute -p RestrictAddressFamilies -p ProtectProc -p ProcSubset -p MemoryMax "
            "-p UMask -p ActiveState -p UnitFileState"
        ).splitlines()
    )
    assert props["Type"] == "notify" and props["NotifyAccess"] == "main" and props["User"] == SVC
    assert props["Restart"] == "on-failure" and props["WatchdogUSec"] not in ("0", "infinity")
    assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes" and props["PrivateTmp"] == "yes" and props["PrivateDevices"] == "yes"
    assert props["CapabilityBoundingSet"] == "" and props["MemoryDenyWriteExecute"] == "yes"
    assert props["ProtectProc"] == "invisible" and props["ProcSubset"] == "pid" and props["UMask"] == "0027"
    assert props["ActiveState"] == "active" and props["UnitFileState"] == "enabled"


def test_security_exposure(host):
    out = host.check_output(f"systemd-analyze security {SVC} --no-pager")
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
    measure(f"systemd-analyze security {SVC}: {score}")
    assert score <= 2.5


def test_process_and_socket(host):
    procs = host.process.filter(user=SVC)
    assert any("hailo-services run hailo-ollama" in p.args for p in procs)
    assert host.socket(f"tcp://127.0.0.1:{PORT}").is_listening


# --- real requests from the host -----------------------------------------------------------------


def test_health_and_ready(host):
    status, body = get("/health")
    assert status == 200
    health = json.loads(body)
    assert health["engine"] == "cpu" and health["model"] == "smollm2:135m"
    assert get("/health/ready")[0] == 200
    status, body = get("/metrics")
    assert status == 200 and b"hailo_" in body


def test_chat_with_the_ollama_client(host):
    import ollama

    client = ollama.Client(host=BASE, timeout=120)
    assert "smollm2:135m" in [m.model for m in client.list().models]
    r = client.chat(
        model="smollm2:135m",
        messages=[{"role": "user", "content": "Say hello."}],
        options={"num_predict": 16, "temperature": 0},
    )
    assert r.message.role == "assistant" and r.message.content.strip()
    chunks = list(
        client.chat(
            model="smollm2:135m",
            messages=[{"role": "user", "content": "Count to three."}],
            options={"num_predict": 8},
            stream=True,
        )
    )
    assert chunks[-1].done and "".join(c.message.content for c in chunks).strip()


# --- operational behaviours --------------------------------------------------------------------


def test_sigkill_recovers_within_10s(host):
    before = main_pid(host)
    host.check_output(f"systemctl kill -s KILL {SVC}")
    time.sleep(0.2)
    took = wait_ready(10)
    assert took is not None, host.run(f"journalctl -u {SVC} -n 30 --no-pager").stdout
    assert host.service(SVC).is_running and main_pid(host) != before
    measure(f"ready again {took + 0.2:.1f} s after SIGKILL")


def test_changed_variable_restarts_with_new_config(host):
    before = main_pid(host)
    rc, out = playbook("site.yml", "-e", "hailo_ollama_num_ctx=1024")
    assert rc == 0 and recap(out)["changed"] >= 2  # config + restart handler
    assert "num_ctx: 1024" in host.file(CONFIG).content_string
    assert main_pid(host) != before and get("/health/ready")[0] == 200


@pytest.mark.parametrize(
    "extra, key",
    [
        ('{"hailo_ollama_config_extra": {"bogus_key": 1}}', "bogus_key"),
        ('{"hailo_ollama_keep_alive": "soonish"}', "keep_alive"),
    ],
)
def test_broken_config_fails_and_leaves_service_untouched(host, extra, key):
    before_pid, before_cfg = main_pid(host), host.file(CONFIG).sha256sum
    rc, out = playbook("site.yml", "-e", extra)
    assert rc != 0 and recap(out)["failed"] == 1
    assert "failed to validate" in out and key in out
    assert host.file(CONFIG).sha256sum == before_cfg
    assert main_pid(host) == before_pid and get("/health/ready")[0] == 200


def test_npu_budget_fails_before_installing(host):
    before_pid = main_pid(host)
    rc, out = playbook(
        "site.yml",
        "-e",
        "hailo_npu=true",
        "-e",
        "hailo_ollama_engine=auto",
        "-e",
        "hailo_ollama_model=llama3.2:3b",
        "-e",
        "hailo_runtime_npu_memory_mb=2048",
    )
    assert rc != 0 and recap(out)["changed"] == 0
    assert "NPU memory budget exceeded" in out and "hailo-ollama (llama3.2:3b): 3130 MB" in out
    assert main_pid(host) == before_pid


def test_uninstall_and_install_keep_the_models(host):
    model = host.file(MODEL)
    inode, mtime = host.check_output(f"stat -c '%i %Y' {MODEL}"), model.mtime
    rc, out = playbook("uninstall.yml")
    assert rc == 0 and recap(out)["failed"] == 0
    assert not host.file("/etc/systemd/system/hailo-ollama.service").exists
    assert not host.file("/opt/hailo-services/ollama").exists and not host.file(CONFIG).exists
    assert host.file(MODEL).sha256sum == MODEL_SHA256 and host.file("/var/lib/hailo-ollama").is_directory
    assert get("/health")[0] == 0
    rc, out = playbook("site.yml")
    assert rc == 0
    assert host.check_output(f"stat -c '%i %Y' {MODEL}") == inode and host.file(MODEL).mtime == mtime
    assert get("/health/ready")[0] == 200


def test_check_mode_and_second_run_change_nothing(host):
    rc, out = playbook("site.yml", "--check")
    assert rc == 0 and recap(out)["changed"] == 0 and recap(out)["failed"] == 0
    rc, out = playbook("site.yml")
    assert rc == 0 and recap(out)["changed"] == 0


def test_verify_playbook_table(host):
    rc, out = playbook("verify.yml")
    assert rc == 0
    assert re.search(r"hailo-molecule\s+hailo-ollama\s+cpu\s+smollm2:135m\s+yes\s+[\d.]+s\s+ok", out)
