"""Messaging screens: templates and their approval, client settings; sending SMS and letters.

The sending endpoints are HTMX fragments for the case page (``messaging:sms-send``,
``messaging:letter-send``) and file downloads (``messaging:letter-pdf``). The gateway's
delivery callback (``messaging:sms-callback``) authenticates by its HMAC signature, not by
a session, so it is exempt from CSRF.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.models import User
from recoup.accounts.roles import WORK
from recoup.cases.selectors import case_get_for_user
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError
from recoup.messaging import selectors
from recoup.messaging.adapters import SIGNATURE_HEADER
from recoup.messaging.forms import (
    ApproveForm,
    LetterSendForm,
    SettingsForm,
    SmsSendForm,
    TemplateForm,
)
from recoup.messaging.letters import letter_open, letter_render_pdf, letter_send
from recoup.messaging.models import MessageTemplate
from recoup.messaging.permissions import (
    can_approve_templates,
    can_edit_settings,
    can_edit_templates,
    can_read_templates,
)
from recoup.messaging.services import (
    TemplateInput,
    TemplateRefused,
    messaging_settings_save,
    template_approve,
    template_save,
)
from recoup.messaging.sms import sms_delivery_report, sms_send
from recoup.messaging.variables import LABELS, LETTER_VARIABLES, SMS_VARIABLES


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def _add_errors(form: Any, exc: RecoupError) -> None:
    if isinstance(exc, TemplateRefused):
        for problem in exc.problems:
            form.add_error(None, problem.message)
    else:
        form.add_error(None, exc.message)


def _variable_help() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "label": label,
            "sms": name in SMS_VARIABLES,
            "letter": name in LETTER_VARIABLES,
        }
        for name, label in LABELS.items()
    ]


# --- templates ----------------------------------------------------------------------------


@require_GET
@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_read_templates(user):
        return _forbidden(request)
    by_client = selectors.settings_by_client(user)
    return render(
        request,
        "messaging/template_list.html",
        {
            "families": selectors.template_families_for_user(user),
            "client_rows": [
                (client, by_client.get(client.pk))
                for client in selectors.clients_for_settings(user)
            ],
            "can_edit": can_edit_templates(user),
            "can_edit_settings": can_edit_settings(user),
        },
    )


def _template_form(user: User, data: Any = None, **kwargs: Any) -> TemplateForm:
    return TemplateForm(
        data,
        clients=selectors.clients_for_settings(user),
        contracts=selectors.contracts_for_templates(user),
        **kwargs,
    )


def _save_from_form(
    user: User, form: TemplateForm, template: MessageTemplate | None
) -> MessageTemplate | None:
    cd = form.cleaned_data
    try:
        client = (
            template.client
            if template is not None
            else selectors.client_get_for_settings(user, cd["client"])
        )
        contract = None
        if cd.get("contract"):
            contract = selectors.contracts_for_templates(user).filter(pk=cd["contract"]).first()
            if contract is None:
                raise NotFound(_("合作协议不存在。"))
        return template_save(
            actor=user,
            template=template,
            data=TemplateInput(
                kind=cd["kind"],
                name=cd["name"],
                audience=cd["audience"],
                body=cd["body"],
                client=client,
                contract=contract,
            ),
        )
    except RecoupError as exc:
        _add_errors(form, exc)
        return None


@require_http_methods(["GET", "POST"])
@login_required
def template_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_edit_templates(user):
        return _forbidden(request)
    form = _template_form(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = _save_from_form(user, form, None)
        if saved is not None:
            messages.success(request, _("模板已保存为草稿，待批准后可使用。"))
            return redirect("messaging:template-detail", saved.pk)
    return render(
        request,
        "messaging/template_form.html",
        {"form": form, "title": _("新建模板"), "variables": _variable_help()},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def template_detail(request: HttpRequest, template_id: int) -> HttpResponse:
    user = _user(request)
    try:
        template = selectors.template_get_for_user(user, template_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    versions = list(selectors.template_versions(template))
    is_latest = versions[0].pk == template.pk
    can_edit = can_edit_templates(user) and is_latest
    initial = {
        "name": template.name,
        "kind": template.kind,
        "audience": template.audience,
        "client": template.client_id,
        "contract": template.contract_id or "",
        "body": template.body,
    }
    if request.method == "POST":
        if not can_edit:
            return _forbidden(request, "" if is_latest else _("只能编辑最新版本。"))
        data = request.POST.copy()
        data["client"] = str(template.client_id)
        form = _template_form(user, data, editing=True, initial=initial)
        if form.is_valid():
            saved = _save_from_form(user, form, template)
            if saved is not None:
                if saved.pk != template.pk:
                    messages.success(
                        request,
                        _("已生成新的草稿版本 v%(v)s，批准后替换当前版本。") % {"v": saved.version},
                    )
                else:
                    messages.success(request, _("草稿已保存。"))
                return redirect("messaging:template-detail", saved.pk)
    else:
        form = _template_form(user, initial=initial, editing=True)
    return render(
        request,
        "messaging/template_detail.html",
        {
            "template": template,
            "versions": versions,
            "form": form,
            "can_edit": can_edit,
            "can_approve": can_approve_templates(user)
            and template.status == MessageTemplate.Status.DRAFT
            and template.created_by_id != user.pk,
            "approve_form": ApproveForm(),
            "variables": _variable_help(),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def template_approve_view(request: HttpRequest, template_id: int) -> HttpResponse:
    user = _user(request)
    try:
        template = selectors.template_get_for_user(user, template_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写委托方的审批编号。"))
        return redirect("messaging:template-detail", template.pk)
    try:
        template_approve(
            actor=user,
            template=template,
            approval_reference=form.cleaned_data["approval_reference"],
        )
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except TemplateRefused as exc:
        for problem in exc.problems:
            messages.error(request, problem.message)
    except RecoupError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("模板已批准，可用于发送。"))
    return redirect("messaging:template-detail", template.pk)


@require_http_methods(["GET", "POST"])
@login_required
def settings_edit(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    try:
        client = selectors.client_get_for_settings(user, client_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    if not can_edit_settings(user):
        return _forbidden(request)
    current = selectors.settings_for_client(client.pk)
    initial = (
        {
            "repayment_channel": current.repayment_channel,
            "agency_phone": current.agency_phone,
            "bank_contact": current.bank_contact,
        }
        if current
        else {}
    )
    form = SettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            messaging_settings_save(actor=user, client=client, **form.cleaned_data)
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except RecoupError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request, _("已保存 %(client)s 的短信和信函设置。") % {"client": client.name}
            )
            return redirect("messaging:template-list")
    return render(
        request,
        "messaging/settings_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


# --- sending --------------------------------------------------------------------------------


def _fragment(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, "messaging/send_result.html#send-result", context, status=status)


@require_POST
@login_required
def sms_send_view(request: HttpRequest) -> HttpResponse:
    """POST case, contact_point (uid), template → the sent SMS or the gate's reasons."""
    user = _user(request)
    form = SmsSendForm(request.POST)
    if not form.is_valid():
        return _fragment(request, {"error": _("请选择案件、号码和模板。")}, status=400)
    cd = form.cleaned_data
    try:
        case = case_get_for_user(user, cd["case"], WORK)
        point = selectors.contact_point_for_case(case, cd["contact_point"])
        template = selectors.template_for_case(case, cd["template"], "sms")
        outcome = sms_send(
            actor=user,
            case=case,
            contact_point=point,
            template=template,
            due_date=cd.get("due_date"),
            queue_outside_window=bool(cd.get("queue")),
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        return _fragment(request, {"error": exc.message}, status=403)
    except RecoupError as exc:
        return _fragment(request, {"error": exc.message}, status=400)
    return _fragment(request, {"kind": "sms", "outcome": outcome})


@require_POST
@login_required
def letter_send_view(request: HttpRequest) -> HttpResponse:
    """POST case, address (uid), template, delivery → the sent letter or the gate's reasons."""
    user = _user(request)
    form = LetterSendForm(request.POST)
    if not form.is_valid():
        return _fragment(request, {"error": _("请选择案件、地址、模板和送达方式。")}, status=400)
    cd = form.cleaned_data
    try:
        case = case_get_for_user(user, cd["case"], WORK)
        address = selectors.contact_point_for_case(case, cd["address"])
        template = selectors.template_for_case(case, cd["template"], "letter")
        outcome = letter_send(
            actor=user, case=case, template=template, address=address, delivery=cd["delivery"]
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        return _fragment(request, {"error": exc.message}, status=403)
    except RecoupError as exc:
        return _fragment(request, {"error": exc.message}, status=400)
    return _fragment(request, {"kind": "letter", "outcome": outcome, "case": case})


def _pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def letter_pdf(request: HttpRequest, case_id: int, template_id: int) -> HttpResponse:
    """The letter for a case as a PDF download (``?address=<uid>``, default: the debtor's)."""
    user = _user(request)
    try:
        case = case_get_for_user(user, case_id, WORK)
        template = selectors.template_for_case(case, template_id, "letter")
        address_uid = request.GET.get("address", "")
        address = selectors.contact_point_for_case(case, address_uid) if address_uid else None
        letter = letter_render_pdf(actor=user, case=case, template=template, address=address)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except RecoupError as exc:
        return render(request, "messaging/letter_error.html", {"error": exc.message}, status=400)
    return _pdf_response(letter.pdf, letter.filename)


@require_GET
@login_required
def letter_download(request: HttpRequest, case_id: int, message_uid: uuid.UUID) -> HttpResponse:
    """The kept copy of a sent letter, checked against its SHA-256."""
    user = _user(request)
    try:
        case = case_get_for_user(user, case_id, WORK)
        message = selectors.message_get_for_case(case, message_uid)
        letter = letter_open(actor=user, case=case, message=message)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except RecoupError as exc:
        return render(request, "messaging/letter_error.html", {"error": exc.message}, status=400)
    return _pdf_response(letter.pdf, letter.filename)


@csrf_exempt  # the gateway signs its reports (HMAC-SHA256); it has no session or CSRF token
@require_POST
def sms_callback(request: HttpRequest) -> HttpResponse:
    """Delivery report from the SMS gateway: bad signature → 403 and nothing changes."""
    try:
        message = sms_delivery_report(
            body=request.body, signature=request.headers.get(SIGNATURE_HEADER, "")
        )
    except PermissionDenied as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=403)
    except NotFound as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=404)
    except RecoupError as exc:
        status = 409 if exc.code == "conflict" else 400
        return JsonResponse({"error": exc.message, "code": exc.code}, status=status)
    return JsonResponse({"id": str(message.uid), "status": message.status})
