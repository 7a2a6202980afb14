from django.urls import path

from recoup.web import views

urlpatterns = [path("", views.healthz, name="healthz")]
