"""The compliance officer's screens: profiles as versioned data, contract stacks, the lexicon.

Readers (``services.can_read``: compliance officer, HQ, risk, supervisor, branch manager,
system administrator, quality inspector) see everything here; only the compliance officer
(``services.can_edit``) writes a new profile version or changes the lexicon. Everyone else
gets 403; another agency's profile, contract or term is 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.models import User
from recoup.compliance import lexicon, selectors, services
from recoup.compliance.forms import LexiconTermForm, ProfileForm, ScanForm, initial_from
from recoup.compliance.models import ComplianceProfile, LexiconCategory
from recoup.core.exceptions import NotFound, PermissionDenied, ValidationError


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def _reader(request: HttpRequest) -> HttpResponse | None:
    if not services.can_read(_user(request)):
        return _forbidden(request, _("只有合规、风控、管理人员可以查看合规配置。"))
    return None


def _editor(request: HttpRequest) -> HttpResponse | None:
    if not services.can_edit(_user(request)):
        return _forbidden(request, _("只有合规专员可以修改合规配置和禁语词库。"))
    return None


def _profile(user: User, profile_id: int) -> ComplianceProfile:
    try:
        return selectors.profile_get_for_user(user, profile_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    return render(
        request,
        "compliance/index.html",
        {
            "profiles": selectors.profile_list_for_user(user),
            "stacks": selectors.contract_stacks_for_user(user),
            "can_edit": services.can_edit(user),
        },
    )


@require_GET
@login_required
def profile_detail(request: HttpRequest, profile_id: int) -> HttpResponse:
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    profile = _profile(user, profile_id)
    history = selectors.profile_history(profile)
    current = history[0].version if history else None
    return render(
        request,
        "compliance/profile_detail.html",
        {
            "profile": profile,
            "current": current,
            "values": selectors.param_values(current.params if current else {}),
            "history": history,
            "contracts": selectors.contracts_using_profile(profile),
            "can_edit": services.can_edit(user),
        },
    )


def _apply_service_error(form: ProfileForm, exc: ValidationError) -> None:
    form.add_error("note" if exc.field == "note" else None, exc.message)


@require_http_methods(["GET", "POST"])
@login_required
def profile_edit(request: HttpRequest, profile_id: int) -> HttpResponse:
    """A new version of a profile: every parameter, and why it changes."""
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    profile = _profile(user, profile_id)
    if (denied := _editor(request)) is not None:
        return denied
    current = selectors.latest_version(profile)
    form = ProfileForm(
        request.POST or None, initial=initial_from(current.params if current else {})
    )
    if request.method == "POST" and form.is_valid():
        try:
            version = services.profile_update(
                actor=user, profile=profile, params=form.params, note=form.cleaned_data["note"]
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            messages.success(
                request,
                _("%(code)s 已保存为第 %(number)s 版。")
                % {"code": profile.code, "number": version.number},
            )
            return redirect("compliance:profile-detail", profile_id=profile.pk)
    return render(
        request,
        "compliance/profile_form.html",
        {"form": form, "profile": profile, "current": current, "contract": profile.contract},
        status=400 if form.errors else 200,
    )


@require_GET
@login_required
def contract_rules(request: HttpRequest, contract_id: int) -> HttpResponse:
    """The rules in force for one contract: the stacked result and which profile won."""
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    try:
        contract = selectors.contract_get_for_compliance(user, contract_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(
        request,
        "compliance/contract_rules.html",
        {
            "contract": contract,
            "preview": selectors.effective_preview(contract),
            "can_edit": services.can_edit(user),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def contract_override(request: HttpRequest, contract_id: int) -> HttpResponse:
    """Create the contract's own profile (合同约定), stacked on the profiles it names."""
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    try:
        contract = selectors.contract_get_for_compliance(user, contract_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if (denied := _editor(request)) is not None:
        return denied
    existing = getattr(contract, "compliance_override", None)
    if existing is not None:
        return redirect("compliance:profile-edit", profile_id=existing.pk)
    form = ProfileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.contract_override_create(
                actor=user, contract=contract, params=form.params, note=form.cleaned_data["note"]
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            messages.success(
                request,
                _("已为合作协议 %(number)s 建立合规配置 %(code)s。")
                % {"number": contract.number, "code": version.profile.code},
            )
            return redirect("compliance:contract-rules", contract_id=contract.pk)
    return render(
        request,
        "compliance/profile_form.html",
        {"form": form, "profile": None, "current": None, "contract": contract},
        status=400 if form.errors else 200,
    )


def _lexicon_context(
    user: User,
    *,
    failed: tuple[int, LexiconTermForm] | None = None,
    scan_form: ScanForm | None = None,
    hits: list[lexicon.Hit] | None = None,
) -> dict[str, Any]:
    rows = []
    for category in selectors.lexicon_for_user(user):
        form = failed[1] if failed and failed[0] == category.pk else None
        rows.append(
            {"category": category, "form": form or LexiconTermForm(prefix=f"c{category.pk}")}
        )
    return {
        "rows": rows,
        "can_edit": services.can_edit(user),
        "scan_form": scan_form or ScanForm(),
        "hits": hits,
        "tiers": LexiconCategory.Tier,
    }


@require_GET
@login_required
def lexicon_page(request: HttpRequest) -> HttpResponse:
    if (denied := _reader(request)) is not None:
        return denied
    return render(request, "compliance/lexicon.html", _lexicon_context(_user(request)))


@require_POST
@login_required
def lexicon_term_add(request: HttpRequest, category_id: int) -> HttpResponse:
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    try:
        category = selectors.lexicon_category_get_for_user(user, category_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if (denied := _editor(request)) is not None:
        return denied
    form = LexiconTermForm(request.POST, prefix=f"c{category.pk}")
    if form.is_valid():
        try:
            term = services.lexicon_term_add(
                actor=user,
                category=category,
                term=form.cleaned_data["term"],
                is_pattern=form.cleaned_data["is_pattern"],
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            form.add_error("term", exc.message)
        else:
            messages.success(
                request,
                _("已在「%(category)s」中加入：%(term)s")
                % {"category": category.name, "term": term.term},
            )
            return redirect("compliance:lexicon")
    context = _lexicon_context(user, failed=(category.pk, form))
    return render(request, "compliance/lexicon.html", context, status=400)


@require_POST
@login_required
def lexicon_term_remove(request: HttpRequest, term_id: int) -> HttpResponse:
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    try:
        term = selectors.lexicon_term_get_for_user(user, term_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if (denied := _editor(request)) is not None:
        return denied
    try:
        services.lexicon_term_remove(actor=user, term=term)
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    messages.success(
        request,
        _("已从「%(category)s」中删除：%(term)s")
        % {"category": term.category.name, "term": term.term},
    )
    return redirect("compliance:lexicon")


@require_POST
@login_required
def lexicon_scan(request: HttpRequest) -> HttpResponse:
    """The "try it" box: which terms a pasted text hits (an HTMX fragment, or the whole page)."""
    if (denied := _reader(request)) is not None:
        return denied
    user = _user(request)
    form = ScanForm(request.POST)
    hits: list[lexicon.Hit] | None = None
    if form.is_valid() and user.organisation_id is not None:
        hits = lexicon.scan(
            user.organisation_id,
            form.cleaned_data["text"],
            third_party=form.cleaned_data["third_party"],
        )
    status = 400 if form.errors else 200
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request,
            "compliance/lexicon.html#scan-result",
            {"scan_form": form, "hits": hits},
            status=status,
        )
    context = _lexicon_context(user, scan_form=form, hits=hits)
    return render(request, "compliance/lexicon.html", context, status=status)
