from django.urls import path

from recoup.intake import views

app_name = "intake"
urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("upload/", views.upload, name="upload"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/mapping/", views.job_mapping, name="job-mapping"),
    path("jobs/<int:job_id>/mapping/check/", views.job_mapping_check, name="job-mapping-check"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="job-progress"),
    path("jobs/<int:job_id>/report.xlsx", views.job_report, name="job-report"),
    path("jobs/<int:job_id>/quarantine.xlsx", views.job_quarantine, name="job-quarantine"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job-retry"),
    path("jobs/<int:job_id>/resubmit/", views.job_resubmit, name="job-resubmit"),
    path("stop-list/", views.stop_list, name="stop-list"),
    path("stop-list/<int:entry_id>/remove/", views.stop_list_remove, name="stop-list-remove"),
]
