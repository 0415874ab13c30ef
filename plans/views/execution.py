"""Run mode: a window's servers as a checklist, one click per status change,
refreshed by itself for everyone watching (htmx polling of the board partial)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user
from plans import live
from plans.forms.execution import DowntimeForm, ListingForm, StatusForm, WindowTimesForm
from plans.selectors.execution import run_board, run_gate, window_for_run
from plans.services import execution as services
from plans.services.gates import window_override_gate
from servers.models import Server

BOARD = "plans/partials/_run_board.html"


def _server(request: HttpRequest, server_id: int) -> Server:
    # Another team's server does not exist for the user (404); one of the team
    # outside the window is refused by the service with a reason.
    return get_for_user(Server.objects.all(), user=request.user, pk=server_id)


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _respond(request: HttpRequest, window, *, error: str = "", error_server: int | None = None):
    """The board partial for htmx (errors shown at the row, status 400), else back to
    the page with a message.

    A refused change comes back as the whole board with the reason at the row and
    what the person typed still in its fields (`posted`); the response names its
    own target and swap (HX-Retarget/HX-Reswap), so whatever element sent it, the
    board and never the page is replaced."""
    if request.htmx:
        context = run_board(window=window, user=request.user)
        if not any(r.server.pk == error_server for r in context["rows"]):
            error_server = None  # a server not on the board: the reason goes on top
        context.update(error=error, error_server=error_server, posted=request.POST)
        response = render(request, BOARD, context, status=400 if error else 200)
        response["HX-Retarget"] = "#run-board"
        response["HX-Reswap"] = "outerHTML"
        return response
    if error:
        messages.error(request, error)
    return redirect("plan_window_run", plan_id=window.plan_id, window_id=window.pk)


@login_required
@require_safe
def run_page(request: HttpRequest, plan_id: int, window_id: int) -> HttpResponse:
    """The window in run mode: its checklist (polled), actual times, listing uploads."""
    # Read before the page's data, as the plan page does: a change between is not missed.
    live_state = live.page_state(plan_id)
    window = window_for_run(user=request.user, plan_id=plan_id, window_id=window_id)
    context = run_board(window=window, user=request.user)
    context.update(run_gate(window=window, user=request.user))
    initial = {
        "actual_starts_at": window.actual_starts_at and timezone.localtime(window.actual_starts_at),
        "actual_ends_at": window.actual_ends_at and timezone.localtime(window.actual_ends_at),
    }
    context.update(
        times_form=WindowTimesForm(initial=initial),
        listing_form=ListingForm(),
    )
    # The board refreshes through the plan's live poll (js/live.js) when anything changes.
    context["live_rev"], context["live_sections"] = live_state
    return render(request, "plans/run_window.html", context)


@login_required
@require_safe
def run_board_partial(request: HttpRequest, plan_id: int, window_id: int) -> HttpResponse:
    """The checklist alone, for the page's polling: 5 queries (see run_board)."""
    window = window_for_run(user=request.user, plan_id=plan_id, window_id=window_id)
    return render(request, BOARD, run_board(window=window, user=request.user))


@login_required
@require_POST
def run_status(request: HttpRequest, plan_id: int, window_id: int, server_id: int) -> HttpResponse:
    """One click: move a server of the window to another status."""
    window = window_for_run(
        user=request.user, plan_id=plan_id, window_id=window_id, action=Action.EXECUTE
    )
    server = _server(request, server_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _respond(request, window, error=_("Choose a valid status."), error_server=server.pk)
    data = form.cleaned_data
    try:
        services.execution_set_status(
            window=window,
            server=server,
            status=data["status"],
            expected=data["expected"] or None,
            note=data["note"],
            verification_note=data["verification_note"],
            by=request.user,
        )
    except ValidationError as exc:
        return _respond(request, window, error=_errors(exc), error_server=server.pk)
    return _respond(request, window)


@login_required
@require_POST
def run_downtime(
    request: HttpRequest, plan_id: int, window_id: int, server_id: int
) -> HttpResponse:
    """Record a server's actual downtime."""
    window = window_for_run(
        user=request.user, plan_id=plan_id, window_id=window_id, action=Action.EXECUTE
    )
    server = _server(request, server_id)
    form = DowntimeForm(request.POST)
    if not form.is_valid():
        return _respond(
            request,
            window,
            error=_errors(ValidationError(form.errors["downtime_minutes"])),
            error_server=server.pk,
        )
    try:
        services.execution_record_downtime(
            window=window,
            server=server,
            minutes=form.cleaned_data["downtime_minutes"],
            by=request.user,
        )
    except ValidationError as exc:
        return _respond(request, window, error=_errors(exc), error_server=server.pk)
    return _respond(request, window)


@login_required
@require_POST
def run_listing(request: HttpRequest, plan_id: int, window_id: int, server_id: int) -> HttpResponse:
    """Upload the server's package listing after patching (the inventory import)."""
    window = window_for_run(
        user=request.user, plan_id=plan_id, window_id=window_id, action=Action.EXECUTE
    )
    server = _server(request, server_id)
    form = ListingForm(request.POST, request.FILES)
    if not form.is_valid():
        return _respond(
            request, window, error=" ".join(form.non_field_errors()), error_server=server.pk
        )
    try:
        result = services.execution_import_listing(
            window=window, server=server, data=form.cleaned_data["data"], by=request.user
        )
    except ValidationError as exc:
        line = getattr(exc, "line", None)
        error = _errors(exc) + (f" ({_('line')} {line})" if line else "")
        return _respond(request, window, error=error, error_server=server.pk)
    if not request.htmx:
        messages.success(
            request,
            _("Listing of %(host)s imported: %(summary)s.")
            % {"host": server.hostname, "summary": result.summary()},
        )
    return _respond(request, window)


@login_required
@require_POST
def run_times(request: HttpRequest, plan_id: int, window_id: int) -> HttpResponse:
    """The window's actual start and end: "start now", "end now", or both typed in."""
    window = window_for_run(
        user=request.user, plan_id=plan_id, window_id=window_id, action=Action.EXECUTE
    )
    action = request.POST.get("action", "")
    if action in ("start", "finish"):
        try:
            if action == "start":
                services.window_start(
                    window=window,
                    by=request.user,
                    confirm_early=request.POST.get("confirm_early") == "yes",
                )
            else:
                services.window_finish(window=window, by=request.user)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect("plan_window_run", plan_id=window.plan_id, window_id=window.pk)
    form = WindowTimesForm(request.POST)
    if form.is_valid():
        try:
            services.window_record_times(
                window=window,
                starts_at=form.cleaned_data["actual_starts_at"],
                ends_at=form.cleaned_data["actual_ends_at"],
                by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Actual times saved."))
            return redirect("plan_window_run", plan_id=window.plan_id, window_id=window.pk)
    window.refresh_from_db()
    context = run_board(window=window, user=request.user)
    context.update(run_gate(window=window, user=request.user))
    context.update(times_form=form, listing_form=ListingForm())
    return render(request, "plans/run_window.html", context, status=400)


@login_required
@require_POST
def run_override(request: HttpRequest, plan_id: int, window_id: int) -> HttpResponse:
    """An approver's emergency change: the window's work may start although its
    milestone's entry checks fail (a written reason, recorded and reported)."""
    window = window_for_run(user=request.user, plan_id=plan_id, window_id=window_id)
    try:
        window_override_gate(window=window, by=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.warning(request, _("Emergency change recorded: the window's work may start."))
    return redirect("plan_window_run", plan_id=window.plan_id, window_id=window.pk)
