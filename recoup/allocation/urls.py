from django.urls import path  # noqa: F401

app_name = "allocation"
urlpatterns: list = []  # type: ignore[type-arg]
