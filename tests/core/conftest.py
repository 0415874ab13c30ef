# The URL-conf walk's world (one object of every kind) serves the CSRF and
# safe-method walks here too.
from tests.teams.test_access import world  # noqa: F401
