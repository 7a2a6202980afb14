from django.urls import path

from recoup.clients import views

app_name = "clients"
urlpatterns = [
    path("", views.contract_list, name="contract-list"),
    path("new/", views.client_create_view, name="client-create"),
    path("portal-users/", views.portal_link_view, name="portal-link"),
    path("contracts/new/", views.contract_create_view, name="contract-create"),
    path("contracts/<int:contract_id>/", views.contract_detail, name="contract-detail"),
]
