from django.urls import path

from recoup.contact import views

app_name = "contact"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("views/", views.view_save, name="view-save"),
    path("views/<int:view_id>/delete/", views.view_delete, name="view-delete"),
    path("team/", views.team, name="team"),
    path("result-codes/", views.result_codes, name="result-codes"),
    path("case/<int:case_id>/", views.workspace, name="workspace"),
    path("case/<int:case_id>/dial/<int:point_id>/", views.dial, name="dial"),
    path("case/<int:case_id>/repair/", views.repair, name="repair"),
    path("case/<int:case_id>/lost-contact/", views.lost_contact, name="lost-contact"),
    path("decision/<uuid:decision_uid>/log/", views.log_call, name="log-call"),
]
