"""Input checks for a sign-off (the rules are in plans.services.signoff)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from plans.choices import SignOffDecision


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=SignOffDecision.choices)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    override_reason = forms.CharField(
        label=_("Reason to override the failing checks"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
