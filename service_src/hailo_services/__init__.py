"""hailo-services: AI services for the Raspberry Pi 5 + Hailo-10H, with CPU engines for any Linux box."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hailo_services")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+src"
