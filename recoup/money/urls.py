from django.urls import path

from recoup.money import views, views_plans, views_reductions, views_statements

app_name = "money"

urlpatterns = [
    path("", views.payment_list, name="payment-list"),
    path("new/", views.payment_new, name="payment-new"),
    path("<int:payment_id>/", views.payment_detail, name="payment-detail"),
    path("<int:payment_id>/evidence/", views.payment_evidence, name="payment-evidence"),
    path("<int:payment_id>/match/", views.payment_match, name="payment-match"),
    path("<int:payment_id>/reject/", views.payment_reject, name="payment-reject"),
    path("<int:payment_id>/reverse/", views.payment_reverse, name="payment-reverse"),
]

urlpatterns += [
    path("plans/", views_plans.plan_list, name="plan-list"),
    path("plans/new/", views_plans.plan_new, name="plan-new"),
    path("plans/<int:plan_id>/", views_plans.plan_detail, name="plan-detail"),
    path("plans/<int:plan_id>/<str:step>/", views_plans.plan_step, name="plan-step"),
    path("plans/<int:plan_id>/file/<str:which>/", views_plans.plan_file, name="plan-file"),
]

urlpatterns += [
    path("reductions/", views_reductions.reduction_list, name="reduction-list"),
    path("reductions/new/", views_reductions.reduction_new, name="reduction-new"),
    path(
        "reductions/<int:reduction_id>/",
        views_reductions.reduction_detail,
        name="reduction-detail",
    ),
    path(
        "reductions/<int:reduction_id>/file/<str:which>/",
        views_reductions.reduction_file,
        name="reduction-file",
    ),
    path(
        "reductions/<int:reduction_id>/<str:step>/",
        views_reductions.reduction_step,
        name="reduction-step",
    ),
    path("authority/", views_reductions.authority, name="authority"),
]

urlpatterns += [
    path("statements/", views_statements.statement_list, name="statement-list"),
    path(
        "statements/<int:statement_id>/",
        views_statements.statement_detail,
        name="statement-detail",
    ),
    path(
        "statements/<int:statement_id>/export.<str:fmt>",
        views_statements.statement_download,
        name="statement-download",
    ),
    path(
        "statements/<int:statement_id>/<str:step>/",
        views_statements.statement_step,
        name="statement-step",
    ),
    path("scorecard/", views_statements.scorecard, name="scorecard"),
    path("statements/layout/", views_statements.statement_layout, name="statement-layout"),
]
