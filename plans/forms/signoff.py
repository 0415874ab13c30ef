"""Input checks for a sign-off (the rules are in plans.services.signoff)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from plans.choices import SignOffDecision, SignOffStage


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=SignOffDecision.choices)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # The go (entry) or done (exit); a sign-off never overrides failing checks.
    stage = forms.ChoiceField(
        choices=SignOffStage.choices, required=False, initial=SignOffStage.EXIT
    )

    def clean_stage(self) -> str:
        return self.cleaned_data.get("stage") or SignOffStage.EXIT
