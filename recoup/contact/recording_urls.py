from django.urls import path

from recoup.contact import recording_views

app_name = "recordings"
urlpatterns = [
    path("<uuid:uid>/", recording_views.recording_play, name="recording-play"),
]
