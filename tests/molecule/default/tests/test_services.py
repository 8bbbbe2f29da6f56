"""Verify the services deployed by playbooks/site.yml on the sandbox target (molecule verify).

The enabled services and their ports come from molecule's inventory (molecule.yml), their identity
from services.yaml and their model files from each catalog.yaml, so a new service enabled there is
checked without a change here. Checks run in file order: the deployed host (testinfra, as root on
the target), real requests from the host (the container shares the host network), then the
operational behaviours, each by running the project's playbooks against molecule's inventory:
SIGKILL recovery, a changed variable restarts that service only, a broken config fails the play and
leaves the running service untouched, the NPU budget check, an unpinned model needs an opt-in (or
require_ready false) and is then pinned by its first digest, uninstall + install keeps the models,
--check is clean, and verify.yml prints a row per service.
"""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

if "MOLECULE_INVENTORY_FILE" not in os.environ:  # collected outside molecule: nothing to verify
    pytest.skip("runs under molecule verify only", allow_module_level=True)

import testinfra.utils.ansible_runner
import yaml

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("all")

REPO = Path(__file__).resolve().parents[4]
SRC = REPO / "service_src" / "hailo_services"
ROLES = REPO / "roles"
STORE = "/var/lib/hailo-services/models"
EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY") or str(Path(INVENTORY).parents[1])
MEASUREMENTS = os.environ.get("HAILO_MOLECULE_MEASUREMENTS", os.path.join(EPHEMERAL, "measurements.txt"))


def _inventory_vars():
    host = testinfra_hosts[0]
    out = subprocess.run(
        ["ansible-inventory", "-i", INVENTORY, "--host", host], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


HOSTVARS = _inventory_vars()
IDENTITY = yaml.safe_load((SRC / "services.yaml").read_text())["services"]


class Service:
    """One enabled service as deployed here: the CPU engine and its default model."""

    def __init__(self, name):
        ident = IDENTITY[name]
        self.name = name
        self.prefix = name.replace("-", "_")
        self.slug = name.removeprefix("hailo-")
        self.port = int(HOSTVARS.get(f"{self.prefix}_port") or ident["port"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = f"/etc/hailo/{name}.yaml"
        self.venv = f"/opt/hailo-services/{self.slug}/venv"
        self.model = ident["default_model"]["cpu"]
        catalog = yaml.safe_load((SRC / ident["package"] / "catalog.yaml").read_text())["models"]
        raw = catalog[self.model]["cpu"]
        self.files = {f["file"]: f.get("sha256") for f in (raw if isinstance(raw, list) else [raw])}

    def __repr__(self):
        return self.name

    def get(self, path, timeout=5):
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def wait_ready(self, limit):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if self.get("/health/ready", timeout=2)[0] == 200:
                return time.monotonic() - t0
            time.sleep(0.1)
        return None


SERVICES = [Service(n) for n in HOSTVARS["hailo_services_enabled"]]
BY_NAME = {s.name: s for s in SERVICES}
# Stand-in models (prepare.yml: pose, depth, vision, clip) come from the controller cache, each with its
# digest beside it; those digests, not the catalog's, are what the store must hold.
for _svc in SERVICES:
    for _file in _svc.files:
        _pin = Path(EPHEMERAL, "model-cache", _file + ".sha256")
        if _pin.exists():
            _svc.files[_file] = _pin.read_text().split()[0]

each = pytest.mark.parametrize("svc", SERVICES, ids=str)


def measure(line):
    """Append a measurement; tools/molecule-test prints the file at the end."""
    print(line)
    with open(MEASUREMENTS, "a") as f:
        f.write(line + "\n")


def playbook(name, *args, timeout=1200):
    """Run one of the project's playbooks against molecule's inventory; return (rc, output)."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROLES),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        MOLECULE_EPHEMERAL_DIRECTORY=EPHEMERAL,
    )
    t0 = time.monotonic()
    p = subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, str(REPO / "playbooks" / name), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    print(p.stdout[-6000:])
    shown = " ".join(args)
    shown = shown if len(shown) <= 110 else shown[:107] + "..."
    measure(f"ansible-playbook {name} {shown}: rc={p.returncode} {time.monotonic() - t0:.1f} s")
    return p.returncode, p.stdout


def only(svc, **extra):
    """-e that restricts site.yml to one service (plus variables): the other services are not run."""
    return json.dumps({"hailo_services_enabled": [svc.name], **extra})


def recap(out):
    m = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out.split("PLAY RECAP")[-1])
    assert m, out[-2000:]
    return {k: int(v) for k, v in zip(("ok", "changed", "unreachable", "failed"), m.groups(), strict=False)}


def main_pid(host, svc):
    return int(host.check_output(f"systemctl show -p MainPID --value {svc.name}"))


def pids(host):
    return {s.name: main_pid(host, s) for s in SERVICES}


def post_image(svc, path, image, timeout=120):
    """POST a JPEG as multipart field `image`; return (status, json)."""
    import httpx

    with open(image, "rb") as f:
        r = httpx.post(svc.base + path, files={"image": (Path(image).name, f, "image/jpeg")}, timeout=timeout)
    return r.status_code, r.json()


# Every test takes the testinfra `host` fixture, even when it only talks HTTP: pytest-testinfra
# parametrizes by host, and mixing fixtures would reorder the (stateful) tests below.


# --- the deployed host ------------------------------------------------------------------------


def test_services_enabled(host):
    assert {"hailo-ollama", "hailo-detect", "hailo-pose"} <= set(BY_NAME)
    assert len({s.port for s in SERVICES}) == len(SERVICES)


def test_pid1_is_systemd(host):
    assert host.run("ps -p 1 -o comm=").stdout.strip() == "systemd"


@each
def test_user(host, svc):
    u = host.user(svc.name)
    assert u.exists and u.uid < 1000 and u.shell == "/usr/sbin/nologin"
    assert {"hailo", "hailo-models"} <= set(u.groups)


@each
def test_directories(host, svc):
    venv = host.file(svc.venv)
    assert venv.is_directory and venv.user == "root"
    store = host.file(STORE)
    assert store.is_directory and store.user == "root" and store.group == "hailo-models" and store.mode == 0o3770
    state = host.file(f"/var/lib/{svc.name}")
    assert state.is_directory and state.user == svc.name and state.mode == 0o750


@each
def test_config(host, svc):
    f = host.file(svc.config)
    assert f.exists and f.user == "root" and f.group == svc.name and f.mode == 0o640
    cfg = yaml.safe_load(f.content_string)
    assert cfg["port"] == svc.port and cfg["engine"] == "cpu" and cfg["model"] == svc.model
    assert cfg["hailo"]["group_id"] == "SHARED"
    assert host.run(f"{svc.venv}/bin/hailo-services check-config {svc.name} {svc.config}").rc == 0


@each
def test_models_in_store(host, svc):
    assert svc.files
    for name, sha256 in svc.files.items():
        f = host.file(f"{STORE}/{name}")
        assert f.exists and f.group == "hailo-models" and f.mode == 0o640, name
        if sha256:
            assert f.sha256sum == sha256, name


@each
def test_unit_hardening(host, svc):
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            f"systemctl show {svc.name} -p Type -p User -p NotifyAccess -p Restart -p WatchdogUSec "
            "-p NoNewPrivileges -p ProtectSystem -p ProtectHome -p PrivateTmp -p PrivateDevices "
            "-p CapabilityBoundingSet -p MemoryDenyWriteExecute -p ProtectProc -p ProcSubset -p MemoryMax "
            "-p UMask -p ActiveState -p UnitFileState -p Description"
        ).splitlines()
    )
    assert props["Type"] == "notify" and props["NotifyAccess"] == "main" and props["User"] == svc.name
    assert props["Restart"] == "on-failure" and props["WatchdogUSec"] not in ("0", "infinity")
    assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes" and props["PrivateTmp"] == "yes" and props["PrivateDevices"] == "yes"
    # hailo-whisper's CTranslate2 compiles kernels at run time: its role turns W^X off for its unit alone.
    wx = yaml.safe_load((ROLES / svc.prefix / "defaults" / "main.yml").read_text()) or {}
    wx = wx.get(f"{svc.prefix}_memory_deny_write_execute", True)
    assert props["CapabilityBoundingSet"] == "" and props["MemoryDenyWriteExecute"] == ("yes" if wx else "no")
    assert props["ProtectProc"] == "invisible" and props["ProcSubset"] == "pid" and props["UMask"] == "0027"
    assert props["ActiveState"] == "active" and props["UnitFileState"] == "enabled"
    assert IDENTITY[svc.name]["description"] in props["Description"]


@each
def test_security_exposure(host, svc):
    out = host.check_output(f"systemd-analyze security {svc.name} --no-pager")
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
    measure(f"systemd-analyze security {svc.name}: {score}")
    assert score <= 2.5


@each
def test_process_and_socket(host, svc):
    procs = host.process.filter(user=svc.name)
    assert any(f"hailo-services run {svc.name}" in p.args for p in procs)
    assert host.socket(f"tcp://127.0.0.1:{svc.port}").is_listening


@each
def test_health_ready_and_metrics(host, svc):
    status, body = svc.get("/health")
    assert status == 200
    health = json.loads(body)
    assert health["engine"] == "cpu" and health["model"] == svc.model
    assert svc.get("/health/ready")[0] == 200
    status, body = svc.get("/metrics")
    assert status == 200 and b"hailo_" in body


# --- real requests from the host -----------------------------------------------------------------


def test_ollama_chat_with_the_ollama_client(host):
    import ollama

    svc = BY_NAME["hailo-ollama"]
    client = ollama.Client(host=svc.base, timeout=120)
    assert svc.model in [m.model for m in client.list().models]
    r = client.chat(
        model=svc.model,
        messages=[{"role": "user", "content": "Say hello."}],
        options={"num_predict": 16, "temperature": 0},
    )
    assert r.message.role == "assistant" and r.message.content.strip()
    chunks = list(
        client.chat(
            model=svc.model,
            messages=[{"role": "user", "content": "Count to three."}],
            options={"num_predict": 8},
            stream=True,
        )
    )
    assert chunks[-1].done and "".join(c.message.content for c in chunks).strip()


def test_detect_finds_the_cat(host):
    status, body = post_image(BY_NAME["hailo-detect"], "/v1/vision/detection", ROLES / "hailo_detect/files/cat.jpg")
    assert status == 200 and body["success"] is True
    assert "cat" in [p["label"] for p in body["predictions"]], body


def test_ocr_reads_the_verify_page(host):
    status, body = post_image(BY_NAME["hailo-ocr"], "/v1/ocr", ROLES / "hailo_ocr/files/hello.png")
    assert status == 200 and body["text"].split("\n") == ["Hello from hailo-ocr", "Invoice total: $42.17"], body


def test_pose_answers_with_the_stand_in_model(host):
    status, body = post_image(BY_NAME["hailo-pose"], "/v1/pose/detect", ROLES / "hailo_pose/files/astronaut.jpg")
    assert status == 200 and isinstance(body["poses"], list) and body["count"] == len(body["poses"])
    assert body["image_size"] == {"width": 416, "height": 416}


def wyoming_describe(port, timeout=10):
    """Send Wyoming's describe and read the info event back (JSON header line + data), without the
    wyoming library (the controller's venv is requirements-test.txt)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b'{"type": "describe"}\n')
        stream = sock.makefile("rb")
        header = json.loads(stream.readline())
        data = json.loads(stream.read(header["data_length"])) if header.get("data_length") else {}
    return header["type"], data


def test_whisper_transcribes_the_verify_sentence_and_its_wyoming_port_answers(host):
    import httpx

    whisper = BY_NAME["hailo-whisper"]
    audio = ROLES / "hailo_whisper/files/lights.wav"
    r = httpx.post(
        whisper.base + "/v1/audio/transcriptions",
        files={"file": (audio.name, audio.read_bytes(), "audio/wav")},
        data={"model": "whisper-1"},
        timeout=120,
    )
    assert r.status_code == 200 and "kitchen lights" in r.json()["text"].lower(), r.text
    kind, info = wyoming_describe(int(HOSTVARS["hailo_whisper_wyoming_port"]))
    assert kind == "info" and info["asr"][0]["name"] == "hailo-whisper", info


def test_piper_speaks_and_whisper_hears_it_and_its_wyoming_port_answers(host):
    import httpx

    piper, whisper = BY_NAME["hailo-piper"], BY_NAME["hailo-whisper"]
    r = httpx.post(
        piper.base + "/v1/audio/speech",
        json={"model": "tts-1", "input": "Turn on the kitchen lights.", "response_format": "wav"},
        timeout=120,
    )
    assert r.status_code == 200 and r.content[:4] == b"RIFF", r.text[:300]
    heard = httpx.post(
        whisper.base + "/v1/audio/transcriptions", files={"file": ("speech.wav", r.content, "audio/wav")}, timeout=120
    )
    assert "kitchen lights" in heard.json()["text"].lower(), heard.text
    kind, info = wyoming_describe(int(HOSTVARS["hailo_piper_wyoming_port"]))
    assert kind == "info" and info["tts"][0]["name"] == "hailo-piper", info


# --- operational behaviours --------------------------------------------------------------------


@each
def test_sigkill_recovers_within_10s(host, svc):
    before = main_pid(host, svc)
    host.check_output(f"systemctl kill -s KILL {svc.name}")
    time.sleep(0.2)
    took = svc.wait_ready(10)
    assert took is not None, host.run(f"journalctl -u {svc.name} -n 30 --no-pager").stdout
    assert host.service(svc.name).is_running and main_pid(host, svc) != before
    measure(f"{svc.name} ready again {took + 0.2:.1f} s after SIGKILL")


@pytest.mark.timeout(1800)  # a run over every service
def test_changed_variable_restarts_that_service_only(host):
    ollama = BY_NAME["hailo-ollama"]
    before = pids(host)
    rc, out = playbook("site.yml", "-e", "hailo_ollama_num_ctx=1024")
    assert rc == 0 and recap(out)["changed"] >= 2  # config + restart handler
    assert "num_ctx: 1024" in host.file(ollama.config).content_string
    after = pids(host)
    assert after[ollama.name] != before[ollama.name] and ollama.get("/health/ready")[0] == 200
    assert {k: v for k, v in after.items() if k != ollama.name} == {k: v for k, v in before.items() if k != ollama.name}


# Every service's config is checked by the same role step and core's settings, so one service of each
# kind (LLM, vision, speech) stands for all: each case is a playbook run (~40 s on 2 cores).
SAMPLE = [BY_NAME[n] for n in ("hailo-ollama", "hailo-detect", "hailo-whisper") if n in BY_NAME] or SERVICES[:1]
BROKEN = [(s, {f"{s.prefix}_config": {"bogus_key": 1}}, "bogus_key", "failed to validate") for s in SAMPLE] + [
    (BY_NAME["hailo-ollama"], {"hailo_ollama_keep_alive": "soonish"}, "keep_alive", "failed to validate"),
    # log_level trace: the service rejects it, so the role's spec does too, before anything is written
    (BY_NAME["hailo-detect"], {"hailo_detect_log_level": "trace"}, "hailo_detect_log_level", "critical, error"),
]


@pytest.mark.parametrize("svc, extra, key, why", BROKEN, ids=[f"{s.name}-{next(iter(e))}" for s, e, _, _ in BROKEN])
def test_broken_config_fails_and_leaves_service_untouched(host, svc, extra, key, why):
    before_pid, before_cfg = main_pid(host, svc), host.file(svc.config).sha256sum
    rc, out = playbook("site.yml", "-e", only(svc, **extra))
    assert rc != 0 and recap(out)["failed"] == 1 and recap(out)["changed"] == 0
    assert why in out and key in out
    assert host.file(svc.config).sha256sum == before_cfg
    assert main_pid(host, svc) == before_pid and svc.get("/health/ready")[0] == 200


def test_npu_budget_fails_before_installing(host):
    before = pids(host)
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
    assert pids(host) == before


@pytest.fixture
def model_server():
    """An HTTP server on the host serving the controller model cache (the target shares the network)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=os.path.join(EPHEMERAL, "model-cache"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/pose.sha256", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_unpinned_model_needs_an_opt_in_and_is_pinned_by_its_first_digest(host, model_server):
    pose = BY_NAME["hailo-pose"]
    stand_in = next(iter(pose.files))  # served under another name: not in the controller cache
    extra = {
        "hailo_pose_models_extra": {
            **HOSTVARS["hailo_pose_models_extra"],
            "unpinned-pose": {"cpu": {"file": "unpinned-pose.onnx", "url": f"{model_server}/{stand_in}"}},
        },
        "hailo_pose_extra_models": ["unpinned-pose"],
    }
    target, record = f"{STORE}/unpinned-pose.onnx", f"{STORE}/unpinned-pose.onnx.sha256"
    before = main_pid(host, pose)
    # refused: the play names the file and the ways out, downloads nothing
    rc, out = playbook("site.yml", "-e", only(pose, **extra))
    assert rc != 0 and recap(out)["changed"] == 0
    assert "unpinned-pose.onnx" in out and "no pinned sha256" in out and "hailo_pose_models_extra" in out
    assert "hailo_pose_allow_unpinned_models" in out and not host.file(target).exists
    # a service that may run unready: the play goes on without the file
    rc, out = playbook("site.yml", "-e", only(pose, hailo_pose_require_ready=False, **extra))
    assert rc == 0 and recap(out)["changed"] == 0 and "NOT FETCHED" in out
    assert not host.file(target).exists
    # opt-in: downloaded once, its digest printed and recorded beside it (as `hailo-services pull
    # --allow-unpinned` does) ...
    rc, out = playbook("site.yml", "-e", only(pose, hailo_pose_allow_unpinned_models=True, **extra))
    digest = pose.files[stand_in]
    assert rc == 0 and recap(out)["changed"] == 2 and digest in out  # the file, its record
    assert host.file(target).sha256sum == digest
    assert host.file(record).content_string.split()[0] == digest
    # ... and from then on the record pins it: no opt-in needed, nothing changes
    rc, out = playbook("site.yml", "-e", only(pose, **extra))
    assert rc == 0 and recap(out)["changed"] == 0
    host.run(f"rm -f {target} {record}")
    assert main_pid(host, pose) == before


# A packaged model (ollama), stand-ins from the controller cache (vision) and a CPU-only service
# (piper): the same role steps as every other service, at a third of a full reinstall's time.
REINSTALLED = [BY_NAME[n] for n in ("hailo-ollama", "hailo-vision", "hailo-piper") if n in BY_NAME] or SERVICES


@pytest.mark.timeout(1800)
def test_uninstall_and_install_keep_the_models(host):
    files = {f"{STORE}/{name}" for s in REINSTALLED for name in s.files}
    subset = json.dumps({"hailo_services_enabled": [s.name for s in REINSTALLED]})
    before = {f: host.check_output(f"stat -c '%i %Y' {f}") for f in files}
    rc, out = playbook("uninstall.yml", "-e", subset)
    assert rc == 0 and recap(out)["failed"] == 0
    for s in REINSTALLED:
        assert not host.file(f"/etc/systemd/system/{s.name}.service").exists
        assert not host.file(f"/opt/hailo-services/{s.slug}").exists and not host.file(s.config).exists
        assert host.file(f"/var/lib/{s.name}").is_directory and s.get("/health")[0] == 0
    assert all(host.file(f).exists for f in files)
    rc, out = playbook("site.yml", "-e", subset)
    assert rc == 0
    assert {f: host.check_output(f"stat -c '%i %Y' {f}") for f in files} == before
    assert all(s.get("/health/ready")[0] == 200 for s in REINSTALLED)


@pytest.mark.timeout(1800)  # two runs over every service: past pytest's default 300 s
def test_check_mode_and_second_run_change_nothing(host):
    rc, out = playbook("site.yml", "--check")
    assert rc == 0 and recap(out)["changed"] == 0 and recap(out)["failed"] == 0
    rc, out = playbook("site.yml")
    assert rc == 0 and recap(out)["changed"] == 0


@pytest.mark.timeout(900)
def test_verify_playbook_table(host):
    rc, out = playbook("verify.yml")
    assert rc == 0
    for s in SERVICES:
        assert re.search(rf"{testinfra_hosts[0]}\s+{s.name}\s+cpu\s+{re.escape(s.model)}\s+yes\s+[\d.]+s\s+ok", out), s
    assert re.search(r"hailo-detect\s.*\sok\s+.*cat \d", out)
