"""Input checks for tasks, RACI roles and in-place changes."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from patchplan.core.forms import SingleLineFieldsMixin
from plans.choices import Raci, TaskStatus
from plans.models import Milestone, Plan
from plans.services.tasks import MAX_CHECKLIST_LINES


def _members(plan: Plan):
    # Only members of the plan's team: another team's person posted by id is refused.
    return (
        get_user_model()
        .objects.filter(memberships__team_id=plan.team_id)
        .order_by("first_name", "last_name", "username")
    )


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.display_name


class TaskForm(SingleLineFieldsMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    milestone = forms.ModelChoiceField(
        label=_("Milestone"), queryset=Milestone.objects.none(), required=False
    )
    assignee = MemberChoiceField(label=_("Assignee"), queryset=None, required=False)
    due_on = forms.DateField(
        label=_("Due"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(label=_("Status"), choices=TaskStatus.choices)
    checklist = forms.CharField(
        label=_("Checklist"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One item a line."),
        max_length=MAX_CHECKLIST_LINES * 301,
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].queryset = Milestone.objects.filter(plan_id=plan.pk)
        self.fields["assignee"].queryset = _members(plan)

    def checklist_lines(self) -> list[str]:
        return self.cleaned_data.get("checklist", "").splitlines()


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=TaskStatus.choices)


class TaskAssignForm(forms.Form):
    assignee = MemberChoiceField(queryset=None, required=False)

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _members(plan)


class PlanRoleForm(forms.Form):
    user = MemberChoiceField(label=_("Person"), queryset=None)
    raci = forms.ChoiceField(label=_("Role"), choices=Raci.choices)

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = _members(plan)
