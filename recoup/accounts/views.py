"""Login and logout pages; people and roles administration."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.forms import BranchForm, LoginForm, PersonForm, TeamForm
from recoup.accounts.models import Role, User
from recoup.accounts.selectors import org_structure, people_list_for_user, person_get_for_admin
from recoup.accounts.services import (
    PersonInput,
    branch_create,
    person_create,
    person_depart,
    person_update,
    team_create,
    user_authenticate,
    user_login,
    user_logout,
    user_unlock,
)
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        result = user_authenticate(
            username=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        if result.user is not None:
            user_login(request=request, user=result.user)
            target = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = "/"
            return HttpResponseRedirect(target or "/")
        error = result.error
    return render(request, "accounts/login.html", {"form": form, "error": error})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    user_logout(request=request)
    return redirect("accounts:login")


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _person_input(form: PersonForm, username: str) -> PersonInput:
    cd = form.cleaned_data
    return PersonInput(
        username=username,
        display_name=cd["display_name"],
        unit_id=cd["unit"],
        team_id=cd["team"],
        roles=tuple(cd["roles"]),
        training_valid_until=cd["training_valid_until"],
        nda_valid_until=cd["nda_valid_until"],
    )


@require_GET
@login_required
def people_list(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    try:
        rows = people_list_for_user(user)
    except PermissionDenied as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    return render(
        request,
        "accounts/people_list.html",
        {"people": rows, "can_manage": user.has_role(Role.Code.SYSTEM_ADMIN)},
    )


@require_http_methods(["GET", "POST"])
@login_required
def person_create_view(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    if not user.has_role(Role.Code.SYSTEM_ADMIN) or user.organisation is None:
        return render(request, "403.html", status=403)
    units, teams = org_structure(user)
    form = PersonForm(request.POST or None, units=units, teams=teams, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            person = person_create(
                organisation=user.organisation,
                data=_person_input(form, form.cleaned_data["username"]),
                password=form.cleaned_data["password"],
                actor=user,
            )
        except RecoupError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已创建 %(name)s。") % {"name": person})
            return redirect("people:person-edit", person_id=person.pk)
    status = 400 if form.errors else 200
    return render(
        request, "accounts/person_form.html", {"form": form, "creating": True}, status=status
    )


@require_http_methods(["GET", "POST"])
@login_required
def person_edit_view(request: HttpRequest, person_id: int) -> HttpResponse:
    user = _actor(request)
    try:
        person = person_get_for_admin(user, person_id)
    except PermissionDenied as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    units, teams = org_structure(user)
    initial = {
        "username": person.username,
        "display_name": person.display_name,
        "unit": person.unit_id,
        "team": person.team_id,
        "roles": sorted(person.role_codes),
        "training_valid_until": person.training_valid_until,
        "nda_valid_until": person.nda_valid_until,
    }
    form = PersonForm(
        request.POST or None, initial=initial, units=units, teams=teams, creating=False
    )
    if request.method == "POST" and form.is_valid():
        try:
            person_update(person=person, data=_person_input(form, person.username), actor=user)
        except RecoupError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已保存。"))
            return redirect("people:person-edit", person_id=person.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "accounts/person_form.html",
        {"form": form, "person": person, "creating": False},
        status=status,
    )


@require_POST
@login_required
def person_action_view(request: HttpRequest, person_id: int, action: str) -> HttpResponse:
    """Unlock a locked-out person or mark a person as departed."""
    user = _actor(request)
    try:
        person = person_get_for_admin(user, person_id)
        if action == "unlock":
            user_unlock(user=person, actor=user)
            messages.success(request, _("已解除锁定。"))
        elif action == "depart":
            person_depart(person=person, actor=user)
            messages.success(request, _("已设为离职，登录与令牌均已失效。"))
        else:
            raise Http404
    except PermissionDenied as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except RecoupError as exc:
        messages.error(request, exc.message)
    return redirect("people:person-edit", person_id=person_id)


@require_http_methods(["GET", "POST"])
@login_required
def structure_view(request: HttpRequest) -> HttpResponse:
    """The agency's branches and teams; the system admin adds new ones here."""
    user = _actor(request)
    if not user.has_role(Role.Code.SYSTEM_ADMIN):
        return render(request, "403.html", status=403)
    units, teams = org_structure(user)
    branches = [u for u in units if u.kind == "branch"]
    branch_form = BranchForm(request.POST if request.POST.get("kind") == "branch" else None)
    team_form = TeamForm(
        request.POST if request.POST.get("kind") == "team" else None, branches=branches
    )
    if request.method == "POST":
        form: BranchForm | TeamForm = (
            branch_form if request.POST.get("kind") == "branch" else team_form
        )
        if form.is_valid():
            try:
                if isinstance(form, BranchForm):
                    branch_create(actor=user, **form.cleaned_data)
                else:
                    team_create(
                        actor=user,
                        branch_id=form.cleaned_data["branch"],
                        name=form.cleaned_data["name"],
                        code=form.cleaned_data["code"],
                    )
            except RecoupError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("已保存。"))
                return redirect("people:structure")
    status = 400 if branch_form.errors or team_form.errors else 200
    return render(
        request,
        "accounts/structure.html",
        {"units": units, "teams": teams, "branch_form": branch_form, "team_form": team_form},
        status=status,
    )
