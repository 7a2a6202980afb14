from django.urls import path

from recoup.workdays import views

app_name = "workdays"
urlpatterns = [
    path("", views.calendar_page, name="calendar"),
    path("days/<str:iso>/", views.day_edit, name="day-edit"),
    path("import/", views.year_import, name="year-import"),
]
