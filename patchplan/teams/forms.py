from django import forms
from django.utils.translation import gettext_lazy as _

from patchplan.accounts.models import time_zone_choices
from patchplan.core.forms import SingleLineFieldsMixin

from .models import FreezePeriod, OffPeakPeriod, Team
from .roles import Role


class TeamSettingsForm(SingleLineFieldsMixin, forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=())

    class Meta:
        model = Team
        fields = ["name", "time_zone", "four_eyes", "listing_max_age_days"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()


class OffPeakForm(forms.ModelForm):
    class Meta:
        model = OffPeakPeriod
        fields = ["weekday", "starts_at", "ends_at"]
        widgets = {
            "starts_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "ends_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("starts_at") == data.get("ends_at"):
            self.add_error("ends_at", _("The slot must not be empty."))
        return data


OffPeakFormSet = forms.formset_factory(OffPeakForm, extra=1, can_delete=True, max_num=50)


class FreezeForm(SingleLineFieldsMixin, forms.ModelForm):
    class Meta:
        model = FreezePeriod
        fields = ["starts_on", "ends_on", "reason"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", _("The freeze ends before it starts."))
        return data


class InviteForm(SingleLineFieldsMixin, forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.ENGINEER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class SwitchTeamForm(forms.Form):
    team = forms.IntegerField()
