"""Development defaults: DEBUG on, everything embedded. Reads nothing itself."""

import os

os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402,F403
