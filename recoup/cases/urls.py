from django.urls import path

from recoup.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="case-list"),
    path("<int:case_id>/", views.case_detail, name="case-detail"),
    path("<int:case_id>/unmask/", views.debtor_unmask, name="debtor-unmask"),
    path(
        "<int:case_id>/contacts/<int:contact_id>/unmask/",
        views.contact_unmask,
        name="contact-unmask",
    ),
    path("<int:case_id>/custom/", views.custom_reveal, name="custom-reveal"),
    path("<int:case_id>/holds/", views.case_hold, name="case-hold"),
    path(
        "<int:case_id>/holds/<int:hold_id>/release/",
        views.case_hold_release,
        name="case-hold-release",
    ),
]
