"""One-line text: refused at input, and made safe again where it is used.

Names, titles and hostnames end up in email subjects, iCalendar properties
and file names, where a line break splits the header or the content line
(Django raises BadHeaderError, icalendar an AssertionError: both were 500s).
Forms refuse control characters in every one-line field
(`patchplan.core.forms.SingleLineFieldsMixin`); the builders of headers,
subjects and calendar properties still pass every value through
`single_line()`, because a bad value may predate the check or arrive by a
path without a form (YAML or CSV import, the admin, `update()`).
"""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

# C0 controls (NUL, tab, CR, LF, ESC...), DEL and the C1 controls (NEL...).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

validate_single_line = RegexValidator(
    CONTROL_CHARACTERS,
    message=_("Use one line of plain text: line breaks, tabs and control characters are refused."),
    code="control_characters",
    inverse_match=True,
)


def single_line(value: object) -> str:
    """`value` as one line: control characters and every run of whitespace
    (Unicode line and paragraph separators included) become one space."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", str(value)).split())
