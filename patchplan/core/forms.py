"""Form behaviour shared by every app."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext as _

from .text import validate_single_line


class SingleLineFieldsMixin:
    """Every one-line text field of the form (a CharField not drawn as a
    textarea) refuses control characters, with the message at the field.

    A mixin rather than a validator on each model field: most of PatchPlan's
    forms are plain forms whose fields do not come from the model, and a new
    one-line field is covered the day it is added to such a form."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and not isinstance(
                field.widget, forms.Textarea | forms.PasswordInput
            ):
                # Each form instance has deep copies of its fields.
                field.validators.append(validate_single_line)


DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def _current_zone_help() -> str:
    return _("%(zone)s (your time zone)") % {"zone": timezone.get_current_timezone_name()}


# Lazy: a form class is built once, and each request's zone is known only when it renders.
zone_help_text = lazy(_current_zone_help, str)


class ZonedDateTimeField(forms.DateTimeField):
    """A date and time typed in the viewer's zone (the zone the middleware activated):
    a `datetime-local` input whose help text names that zone, and a value read in it,
    DST days included. A local time that does not exist or happens twice on a day the
    clocks change is refused at the field, not guessed."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL_FORMAT)
    input_formats = [DATETIME_LOCAL_FORMAT, "%Y-%m-%d %H:%M"]

    def __init__(self, *, help_text=None, **kwargs):
        zone = zone_help_text()
        # `is None`, not truthiness: a lazy help text must not be translated at import.
        help_text = zone if help_text is None else format_lazy("{}. {}", zone, help_text)
        super().__init__(help_text=help_text, **kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            if exc.code != "ambiguous_timezone":
                raise
            raise ValidationError(
                _(
                    "%(value)s does not exist or happens twice in %(zone)s (the clocks "
                    "change that night): choose a time an hour earlier or later."
                ),
                code="ambiguous_timezone",
                params={"value": value, "zone": timezone.get_current_timezone_name()},
            ) from exc
