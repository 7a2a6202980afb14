from django.urls import path

from recoup.compliance import views

app_name = "compliance"
urlpatterns = [
    path("", views.index, name="index"),
    path("profiles/<int:profile_id>/", views.profile_detail, name="profile-detail"),
    path("profiles/<int:profile_id>/edit/", views.profile_edit, name="profile-edit"),
    path("contracts/<int:contract_id>/", views.contract_rules, name="contract-rules"),
    path(
        "contracts/<int:contract_id>/override/", views.contract_override, name="contract-override"
    ),
    path("lexicon/", views.lexicon_page, name="lexicon"),
    path(
        "lexicon/categories/<int:category_id>/terms/",
        views.lexicon_term_add,
        name="lexicon-term-add",
    ),
    path(
        "lexicon/terms/<int:term_id>/remove/", views.lexicon_term_remove, name="lexicon-term-remove"
    ),
    path("lexicon/scan/", views.lexicon_scan, name="lexicon-scan"),
]
