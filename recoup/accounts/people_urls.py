from django.urls import path

from recoup.accounts import views

app_name = "people"
urlpatterns = [
    path("", views.people_list, name="people-list"),
    path("new/", views.person_create_view, name="person-create"),
    path("structure/", views.structure_view, name="structure"),
    path("<int:person_id>/", views.person_edit_view, name="person-edit"),
    path("<int:person_id>/<slug:action>/", views.person_action_view, name="person-action"),
]
