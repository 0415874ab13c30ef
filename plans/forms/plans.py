"""Input checks for the plan document, milestones, scope, comments, YAML and
templates. Rules that need the database live in the services."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from patchplan.accounts.models import User
from patchplan.core.forms import SingleLineFieldsMixin
from patchplan.teams.roles import Role
from plans.models import Plan
from plans.services.plans import Reference, references_parse
from plans.yaml_io import MAX_BYTES
from servers.choices import Environment

TEXT_HELP = _("Markdown: **bold**, lists, links, `code`.")
DATE_WIDGET = {"type": "date"}


def _member_queryset(team_id: int):
    return User.objects.filter(memberships__team_id=team_id).order_by(
        "first_name", "last_name", "username"
    )


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.display_name} ({obj.username})"


class MembersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.display_name} ({obj.username})"


class PlanForm(SingleLineFieldsMixin, forms.ModelForm):
    """The plan document, whole or one section (`only`: its field names). Bound with
    prefix="base" and rendered hidden, it carries the values the editor started from."""

    owner = MemberChoiceField(
        label=_("Owner"),
        queryset=User.objects.none(),
        error_messages={"invalid_choice": _("Choose a member of this team.")},
    )
    packages = forms.CharField(
        label=_("Packages"),
        required=False,
        help_text=_("Package names the plan is about, separated by spaces or commas."),
    )
    references = forms.CharField(
        label=_("References"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One a line: CVE-2024-3094, DSA-5678-1, USN-6543-1, RHSA-2024:1234, or a link."
        ),
    )

    class Meta:
        model = Plan
        fields = [
            "title",
            "kind",
            "risk",
            "owner",
            "objective",
            "success_criteria",
            "packages",
            "references",
            "backup_plan",
            "test_procedure",
            "rollback_plan",
            "communication_plan",
            "lessons_learned",
            "review_by",
        ]
        widgets = {
            "objective": forms.Textarea(attrs={"rows": 4}),
            "success_criteria": forms.Textarea(attrs={"rows": 3}),
            "backup_plan": forms.Textarea(attrs={"rows": 3}),
            "test_procedure": forms.Textarea(attrs={"rows": 3}),
            "rollback_plan": forms.Textarea(attrs={"rows": 3}),
            "communication_plan": forms.Textarea(attrs={"rows": 3}),
            "lessons_learned": forms.Textarea(attrs={"rows": 3}),
            "review_by": forms.DateInput(attrs=DATE_WIDGET),
        }

    def __init__(self, *args, team_id: int, is_template: bool = False, only=None, **kwargs):
        instance = kwargs.get("instance")
        initial = kwargs.setdefault("initial", {})
        if instance is not None and instance.pk:
            initial.setdefault("packages", " ".join(instance.packages or []))
            initial.setdefault(
                "references",
                "\n".join(r.identifier or r.url for r in instance.references.all()),
            )
        super().__init__(*args, **kwargs)
        # Limits a posted owner id to this team: another team's person is "not a valid choice".
        self.fields["owner"].queryset = _member_queryset(team_id)
        for name in (
            "objective",
            "success_criteria",
            "backup_plan",
            "test_procedure",
            "rollback_plan",
            "communication_plan",
            "lessons_learned",
        ):
            self.fields[name].help_text = TEXT_HELP
        if not is_template:
            del self.fields["review_by"]
        if only is not None:
            for name in set(self.fields) - set(only):
                del self.fields[name]

    def clean_packages(self) -> list[str]:
        return [p for p in re.split(r"[\s,]+", self.cleaned_data["packages"]) if p]

    def clean_references(self) -> list[Reference]:
        return references_parse(self.cleaned_data["references"].splitlines())

    def service_fields(self) -> dict:
        return dict(self.cleaned_data)


class MilestoneAddForm(SingleLineFieldsMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    starts_on = forms.DateField(
        label=_("Starts"), required=False, widget=forms.DateInput(DATE_WIDGET)
    )
    due_on = forms.DateField(label=_("Due"), required=False, widget=forms.DateInput(DATE_WIDGET))

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("due_on") and data["due_on"] < data["starts_on"]:
            self.add_error("due_on", _("The due date is before the start."))
        return data


class MilestoneForm(MilestoneAddForm):
    """Rename, re-date, and say which sign-offs the milestone will need."""

    signoff_roles = forms.MultipleChoiceField(
        label=_("Sign-off by roles"),
        choices=[(r, label) for r, label in Role.choices if r != Role.VIEWER],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    signoff_users = MembersChoiceField(
        label=_("Sign-off by named people"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Choose members of this team.")},
    )
    signoff_count = forms.IntegerField(label=_("Approvals needed"), min_value=1, max_value=20)
    # The milestone's gate, from the fixed catalogue (plans.readiness).
    entry_checks = forms.MultipleChoiceField(
        label=_("Before its work may start"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    exit_checks = forms.MultipleChoiceField(
        label=_("Before it is signed off as done"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, team_id: int, **kwargs):
        from plans.readiness import catalogue_choices

        super().__init__(*args, **kwargs)
        self.fields["signoff_users"].queryset = _member_queryset(team_id)
        self.fields["entry_checks"].choices = catalogue_choices()
        self.fields["exit_checks"].choices = catalogue_choices()


class ScopeFindForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=64)
    environment = forms.ChoiceField(
        label=_("Environment"),
        required=False,
        choices=[("", _("Any environment"))] + list(Environment.choices),
    )
    # A fleet search inside the picker: servers running this package (below a version).
    package = forms.CharField(label=_("Package"), required=False, max_length=200)
    below = forms.CharField(label=_("Below version"), required=False, max_length=200)


class ScopeChangeForm(forms.Form):
    """Server ids to add or remove; the queryset (the team's servers) refuses others."""

    servers = forms.ModelMultipleChoiceField(
        queryset=None,
        error_messages={
            "invalid_choice": _("%(value)s is not a server of this team."),
            "required": _("Tick at least one server."),
        },
    )

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["servers"].queryset = queryset


class TransitionForm(SingleLineFieldsMixin, forms.Form):
    to_status = forms.CharField(max_length=16)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"),
        max_length=10_000,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "class": "form-control",
                "placeholder": _("Write a comment; @username notifies a team member."),
            }
        ),
    )


def _check_upload(upload) -> None:
    if upload.size > MAX_BYTES:
        raise forms.ValidationError(_("The file is larger than 1 MB."))


class _YamlSource(forms.Form):
    """A YAML upload or pasted text; `cleaned_data["yaml"]` is whichever was given."""

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload:
            _check_upload(upload)
            data["yaml"] = upload.read()
        elif data.get("text", "").strip():
            data["yaml"] = data["text"]
        else:
            raise forms.ValidationError(_("Choose a file or paste YAML."))
        return data


class PlanImportForm(SingleLineFieldsMixin, _YamlSource):
    file = forms.FileField(label=_("YAML file"), required=False)
    text = forms.CharField(
        label=_("…or paste YAML"), required=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    title = forms.CharField(
        label=_("Title"), max_length=200, required=False, help_text=_("Overrides the file's title.")
    )


class MilestonesImportForm(_YamlSource):
    file = forms.FileField(label=_("YAML file"), required=False)
    text = forms.CharField(
        label=_("…or paste YAML"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": 'milestones:\n  - assessment: "2023-10-01"'}
        ),
    )


class SaveTemplateForm(SingleLineFieldsMixin, forms.Form):
    title = forms.CharField(label=_("Template title"), max_length=200)
    review_by = forms.DateField(
        label=_("Review by"),
        required=False,
        widget=forms.DateInput(DATE_WIDGET),
        help_text=_("When the template needs a look (the guide: review and update the plan)."),
    )


class FromTemplateForm(SingleLineFieldsMixin, forms.Form):
    title = forms.CharField(label=_("Title of the new plan"), max_length=200)
    starts_on = forms.DateField(
        label=_("Timeline starts on"),
        widget=forms.DateInput(DATE_WIDGET),
        help_text=_("Milestones, windows and task due dates move by the same number of days."),
    )
