from django.urls import path

from recoup.allocation import views

app_name = "allocation"
urlpatterns = [
    path("", views.index, name="index"),
    path("rule-sets/new/", views.rule_set_edit, name="rule-set-new"),
    path("rule-sets/<int:rule_set_id>/", views.rule_set_edit, name="rule-set-edit"),
    path("rule-sets/<int:rule_set_id>/preview/", views.rule_set_preview, name="rule-set-preview"),
    path("runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("runs/<int:run_id>/commit/", views.run_commit, name="run-commit"),
    path("runs/<int:run_id>/discard/", views.run_discard, name="run-discard"),
    path("runs/<int:run_id>/sign-off/", views.run_sign_off, name="run-sign-off"),
    path("runs/<int:run_id>/report.xlsx", views.run_report, name="run-report"),
    path("manual/", views.manual, name="manual"),
    path("handover/", views.handover, name="handover"),
    path("period/", views.period, name="period"),
    path("period/cases/<int:case_id>/extend/", views.extension_request, name="extension-request"),
    path(
        "period/extensions/<int:extension_id>/decide/",
        views.extension_decide,
        name="extension-decide",
    ),
    path("runs/<int:run_id>/returned.xlsx", views.return_report, name="return-report"),
    path("breaches/", views.breaches, name="breaches"),
    path("collectors/", views.collectors, name="collectors"),
    path("collectors/<int:user_id>/", views.collector_edit, name="collector-edit"),
]
