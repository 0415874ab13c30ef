"""Input validation only; the services decide and write."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from patchplan.core.forms import SingleLineFieldsMixin

from .choices import Criticality, Environment
from .parsers import DEFAULT_MAX_BYTES, SUPPORTED_FORMATS

FORMAT_CHOICES = [("", _("Detect automatically"))] + [
    (key, command) for key, command in SUPPORTED_FORMATS.items()
]


class ServerForm(SingleLineFieldsMixin, forms.Form):
    hostname = forms.CharField(label=_("Hostname"), max_length=253)
    fqdn = forms.CharField(label=_("FQDN"), max_length=253, required=False)
    ip_address = forms.GenericIPAddressField(label=_("IP address"), required=False)
    environment = forms.ChoiceField(label=_("Environment"), choices=Environment.choices)
    criticality = forms.ChoiceField(
        label=_("Criticality"), choices=Criticality.choices, initial=Criticality.MEDIUM
    )
    tags = forms.CharField(
        label=_("Tags"), required=False, help_text=_("Comma-separated, e.g. web, eu-west")
    )
    os_name = forms.CharField(label=_("OS"), max_length=100, required=False)
    os_version = forms.CharField(label=_("OS version"), max_length=50, required=False)
    release = forms.CharField(
        label=_("Release"),
        max_length=40,
        required=False,
        help_text=_("For advisories, e.g. bookworm, jammy, almalinux:9; empty: from the OS"),
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False)
    notes = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(memberships__team=team)
            .order_by("first_name", "last_name", "username")
        )
        self.fields["owner"].label_from_instance = lambda u: u.display_name

    def clean_ip_address(self):
        return self.cleaned_data["ip_address"] or None


class InventoryForm(forms.Form):
    """Upload a file or paste text; one of the two."""

    file = forms.FileField(label=_("Listing file"), required=False)
    text = forms.CharField(
        label=_("Or paste the output"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "font-monospace"}),
    )
    format = forms.ChoiceField(label=_("Format"), choices=FORMAT_CHOICES, required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        text = data.get("text") or ""
        if upload and text.strip():
            raise forms.ValidationError(_("Upload a file or paste text, not both."))
        if upload:
            # Refused on the size the browser declared, before reading it.
            if upload.size > DEFAULT_MAX_BYTES:
                self.add_error("file", _("The listing is larger than the 5 MB limit."))
            return data
        if not text.strip():
            raise forms.ValidationError(_("Upload a file or paste a listing."))
        if len(text) > DEFAULT_MAX_BYTES:
            self.add_error("text", _("The listing is larger than the 5 MB limit."))
        return data


class BulkForm(SingleLineFieldsMixin, forms.Form):
    action = forms.ChoiceField(choices=[("tag", _("Tag"))])
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)
    tags = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Ids are checked against the team by the view, not listed here.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()


class FleetSearchForm(forms.Form):
    name = forms.CharField(label=_("Package"), max_length=200, required=False)
    below = forms.CharField(label=_("Below version"), max_length=200, required=False)
    environment = forms.ChoiceField(
        label=_("Environment"), choices=[("", _("All"))] + Environment.choices, required=False
    )


class CsvImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), required=False)
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    only_valid = forms.BooleanField(label=_("Import only the good rows"), required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > 2 * 1024 * 1024:
                raise forms.ValidationError(_("The file is larger than 2 MB."))
            data["data"] = upload.read()
        elif data.get("content"):
            data["data"] = data["content"]
        else:
            raise forms.ValidationError(_("Choose a CSV file."))
        return data


class TokenForm(SingleLineFieldsMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    can_create_servers = forms.BooleanField(
        label=_("May create servers it does not know yet"), required=False
    )
