from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import Source
from .models import RemediationPolicy

MAX_FEED_UPLOAD = 200 * 1024 * 1024


class FeedUploadForm(forms.Form):
    source = forms.ChoiceField(label=_("Feed"), choices=Source.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("Debian tracker JSON, an OSV all.zip, or the KEV JSON, downloaded elsewhere."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FEED_UPLOAD:
            raise forms.ValidationError(_("The file is larger than 200 MB."))
        return upload


class RemediationPolicyForm(forms.ModelForm):
    class Meta:
        model = RemediationPolicy
        fields = ["critical_days", "high_days", "medium_days", "low_days"]
