"""Login throttling: django-axes' database handler with a narrower reset.

With ``AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]`` and
``AXES_RESET_ON_SUCCESS``, axes deletes on a successful login every attempt
that matches the username *or* the address. Anyone with an account could
then wipe the failures against someone else's username from their own
address by logging in to their own account between guesses (the outside
probe's bypass: issue 15). Here a success only forgives the failures of the
account that succeeded, from the address it succeeded from: the person's own
typos. Failures against other accounts keep counting, both for their
usernames and for the address.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt


class OwnAttemptsResetHandler(AxesDatabaseHandler):
    def reset_user_attempts(self, request, credentials=None) -> int:
        # Called by axes only from user_logged_in, with the account's username.
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        ).delete()
        return count
