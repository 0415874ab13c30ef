"""Form behaviour shared by every app."""

from __future__ import annotations

from django import forms

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
