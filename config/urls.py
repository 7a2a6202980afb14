from django.urls import include, path

from recoup.web.api import api

urlpatterns = [
    path("healthz", include("recoup.web.health_urls")),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("recoup.accounts.urls")),
    path("cases/", include("recoup.cases.urls")),
    path("people/", include("recoup.accounts.people_urls")),
    path("clients/", include("recoup.clients.urls")),
    path("intake/", include("recoup.intake.urls")),
    path("allocation/", include("recoup.allocation.urls")),
    path("workdays/", include("recoup.workdays.urls")),
    path("messaging/", include("recoup.messaging.urls")),
    path("work/", include("recoup.contact.urls")),
    path("money/", include("recoup.money.urls")),
    path("compliance/", include("recoup.compliance.urls")),
    path("recordings/", include("recoup.contact.recording_urls")),
    path("", include("recoup.web.urls")),
]

handler404 = "recoup.web.views.page_not_found"
handler403 = "recoup.web.views.permission_denied"
