"""Input checks for evidence: backup records, test runs and change approvals."""

from __future__ import annotations

from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from patchplan.accounts.models import User
from patchplan.core.forms import SingleLineFieldsMixin, ZonedDateTimeField
from plans.choices import TestResult
from plans.models import Plan
from servers.choices import Environment

_SCOPE_ERROR = {"invalid_choice": _("That server is not in this plan's scope.")}


class BackupForm(SingleLineFieldsMixin, forms.Form):
    """A backup record for one or several servers of the scope (the same backup method for
    each: a record per server): what, where, how, verified by whom."""

    servers = forms.ModelMultipleChoiceField(
        label=_("Servers"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The same backup on several servers: each gets its own record."),
        error_messages={
            "invalid_choice": _("That server is not in this plan's scope."),
            "required": _("Choose at least one server."),
        },
    )
    what = forms.CharField(label=_("What was backed up"), max_length=300)
    location = forms.CharField(label=_("Where it is stored"), max_length=300)
    command = forms.CharField(
        label=_("Command or tool"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}),
        help_text=_("e.g. pg_dump dbname > db_backup.sql"),
    )
    verified_by = forms.ModelChoiceField(label=_("Verified by"), queryset=None, required=False)
    verified_at = ZonedDateTimeField(label=_("Verified at"), required=False)
    restore_tested = forms.BooleanField(label=_("A restore was tested"), required=False)
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["servers"].queryset = plan.servers.order_by("environment", "hostname")
        self.fields["servers"].label_from_instance = lambda s: (
            f"{s.hostname} ({s.get_environment_display()})"
        )
        self.fields["verified_by"].queryset = User.objects.filter(
            memberships__team_id=plan.team_id
        ).order_by("first_name", "last_name", "username")
        self.fields["verified_by"].label_from_instance = lambda u: u.display_name


class TestRunForm(SingleLineFieldsMixin, forms.Form):
    """A run of the test procedure: where, on which servers, the result."""

    environment = forms.ChoiceField(
        label=_("Environment"), choices=Environment.choices, initial=Environment.STAGING
    )
    servers = forms.ModelMultipleChoiceField(
        label=_("Servers"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages=_SCOPE_ERROR,
    )
    result = forms.ChoiceField(
        label=_("Result"), choices=TestResult.choices, widget=forms.RadioSelect
    )
    procedure = forms.CharField(
        label=_("Procedure followed"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Left empty: the plan's test procedure."),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    run_at = ZonedDateTimeField(label=_("Run at"), required=False, help_text=_("Left empty: now."))

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["servers"].queryset = plan.servers.order_by("environment", "hostname")
        # As the backup form names them: "web-prd-01 (Production)".
        self.fields["servers"].label_from_instance = lambda s: (
            f"{s.hostname} ({s.get_environment_display()})"
        )


class ChangeApprovalForm(SingleLineFieldsMixin, forms.Form):
    """The change's approval (the CAB's): its id and link in the ITSM tool, who approved
    it and when. The service checks the link and the date again (it is the rule)."""

    change_id = forms.CharField(
        label=_("Change request"),
        max_length=100,
        help_text=_("Its identifier in your ITSM tool, e.g. CHG0031337."),
        error_messages={"required": _("Give the change request's identifier.")},
    )
    url = forms.CharField(
        label=_("Link to the change"),
        required=False,
        max_length=500,
        help_text=_("Optional: the change's page in your ITSM tool (http or https)."),
        widget=forms.URLInput,
        validators=[
            URLValidator(
                schemes=["http", "https"],
                message=_("Give an http(s) link to the change, or nothing."),
            )
        ],
    )
    approved_by = forms.CharField(
        label=_("Approved by"),
        max_length=200,
        help_text=_("e.g. CAB of 1 Dec, or the change manager's name."),
        error_messages={"required": _("Say who approved the change.")},
    )
    approved_at = ZonedDateTimeField(
        label=_("Approved at"),
        error_messages={"required": _("Say when the change was approved.")},
    )
