from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from patchplan.core.forms import SingleLineFieldsMixin

from .models import User, time_zone_choices


class ProfileForm(SingleLineFieldsMixin, forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[("", _("Team's time zone"))],
        required=False,
        help_text=_("Times on pages and in emails are shown in this zone."),
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", _("Team's time zone")), *time_zone_choices()]
        self.fields["email"].required = True

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another account uses this address."))
        return email


class SignUpForm(SingleLineFieldsMixin, UserCreationForm):
    """Account creation for someone accepting an invitation (email is fixed)."""

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name"]
