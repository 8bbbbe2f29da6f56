#!/usr/bin/env python3
"""Write a multipart/form-data body for the verify request; print its Content-Type.

    multipart_body.py OUT '{"image": {"file": "/path/cat.jpg", "mime_type": "image/jpeg"}, "min_confidence": "0.4"}'

ansible.builtin.uri cannot send binary files as multipart (it base64-encodes them, or rewrites
line ends), so hailo_service's verify entry point builds the body here on the controller and
sends it with `uri src:`. The boundary is fixed: the same input gives the same bytes.
"""

import json
import mimetypes
import os
import sys

BOUNDARY = "hailo-services-verify-7d1f0c9b"


def main() -> int:
    out, fields = sys.argv[1], json.loads(sys.argv[2])
    parts = []
    for name, value in fields.items():
        if isinstance(value, dict):
            path = value["file"]
            with open(path, "rb") as f:
                data = f.read()
            mime = value.get("mime_type") or mimetypes.guess_type(path)[0] or "application/octet-stream"
            head = (
                f'Content-Disposition: form-data; name="{name}"; filename="{os.path.basename(path)}"\r\n'
                f"Content-Type: {mime}\r\n\r\n"
            )
        else:
            data = str(value).encode()
            head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"--{BOUNDARY}\r\n".encode() + head.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as f:
        f.write(body)
    print(f"multipart/form-data; boundary={BOUNDARY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
