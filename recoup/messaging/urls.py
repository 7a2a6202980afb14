from django.urls import path

from recoup.messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.template_list, name="template-list"),
    path("templates/new/", views.template_create, name="template-create"),
    path("templates/<int:template_id>/", views.template_detail, name="template-detail"),
    path(
        "templates/<int:template_id>/approve/",
        views.template_approve_view,
        name="template-approve",
    ),
    path("settings/<int:client_id>/", views.settings_edit, name="settings-edit"),
    path("sms/send/", views.sms_send_view, name="sms-send"),
    path("sms/callback/", views.sms_callback, name="sms-callback"),
    path("letters/send/", views.letter_send_view, name="letter-send"),
    path(
        "cases/<int:case_id>/letters/<int:template_id>.pdf",
        views.letter_pdf,
        name="letter-pdf",
    ),
    path(
        "cases/<int:case_id>/letters/sent/<uuid:message_uid>.pdf",
        views.letter_download,
        name="letter-download",
    ),
]
