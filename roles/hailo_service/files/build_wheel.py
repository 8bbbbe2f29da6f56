#!/usr/bin/env python3
"""Build (or take) the hailo-services wheel on the controller and describe it as JSON.

    build_wheel.py --src CHECKOUT --out DIR [--python PY]     build with `PY -m pip wheel --no-deps`
    build_wheel.py --wheel FILE                               describe a prebuilt wheel

Prints {"path", "filename", "version", "content_id"}. content_id is the sha256 of the wheel's
dist-info/RECORD (the hashes of every file in it), so two builds of the same source have the
same id even when the zip timestamps differ: hosts reinstall only when the content changed.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

SOURCE_DIRS = {"service_src"}
SOURCE_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in", "README", "LICENSE")
KEEP_BUILDS = 3
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")


def describe(path):
    with zipfile.ZipFile(path) as zf:
        record = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
        if len(record) != 1:
            sys.exit(f"{path}: no single dist-info/RECORD")
        content_id = hashlib.sha256(zf.read(record[0])).hexdigest()
    name = os.path.basename(path)
    return {"path": os.path.abspath(path), "filename": name, "version": name.split("-")[1], "content_id": content_id}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src")
    ap.add_argument("--out")
    ap.add_argument("--wheel")
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    if a.wheel:
        print(json.dumps(describe(a.wheel)))
        return
    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="build-", dir=a.out)
    try:
        # Build from a copy of what the wheel needs: keeps build/ and *.egg-info out of the checkout.
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        for name in sorted(os.listdir(a.src)):
            p = os.path.join(a.src, name)
            if name in SOURCE_DIRS and os.path.isdir(p):
                shutil.copytree(p, os.path.join(src, name), ignore=IGNORE)
            elif name.startswith(SOURCE_FILES) and os.path.isfile(p):
                shutil.copy2(p, src)
        env = dict(
            os.environ,
            SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH", "315532800"),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
        )
        proc = subprocess.run(
            [a.python, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp, src],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if proc.returncode:
            sys.exit(f"pip wheel failed ({proc.returncode}):\n{proc.stdout}")
        wheels = glob.glob(os.path.join(tmp, "hailo_services-*.whl"))
        if len(wheels) != 1:
            sys.exit(f"expected one hailo_services wheel in {tmp}, got {wheels}")
        info = describe(wheels[0])
        dest_dir = os.path.join(a.out, info["content_id"][:16])
        os.makedirs(dest_dir, exist_ok=True)
        dest = os.path.join(dest_dir, info["filename"])
        shutil.move(wheels[0], dest)
        os.utime(dest_dir)
        info["path"] = dest
        # keep the newest few builds only
        builds = sorted(
            (d for d in glob.glob(os.path.join(a.out, "*" * 16)) if os.path.isdir(d)),
            key=os.path.getmtime,
            reverse=True,
        )
        for old in builds[KEEP_BUILDS:]:
            shutil.rmtree(old, ignore_errors=True)
        print(json.dumps(info))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
