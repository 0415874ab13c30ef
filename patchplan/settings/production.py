"""Production defaults: DEBUG off (so SECRET_KEY is required). Reads nothing itself."""

import os

os.environ.setdefault("DEBUG", "false")

from .base import *  # noqa: E402,F403
