import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"]["status"] == "ok"


def test_pages_need_login(client):
    response = client.get("/cases/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_an_unknown_page_is_a_friendly_404(world, client, login):
    login(world.ada)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面或案件不存在" in response.content.decode()


def test_navigation_follows_the_role(world, client, login):
    login(world.sam)
    body = client.get("/").content.decode()
    assert "/people/" in body
    assert "/cases/" not in body
    response = client.get("/people/")
    assert response.status_code == 200
    assert "ada" in response.content.decode()


def test_a_collector_may_not_open_the_people_list(world, client, login):
    login(world.ada)
    assert client.get("/people/").status_code == 403


def test_english_is_available(world, client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    page = client.get("/accounts/login/")
    assert 'lang="en"' in page.content.decode()


def test_static_assets_are_vendored_not_from_a_cdn(client):
    body = client.get("/accounts/login/").content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in body
    assert "/static/vendor/htmx/htmx.min.js" in body
    assert "http://" not in body.replace("http://www.w3.org", "")
    assert "https://" not in body


def test_the_browser_language_does_not_override_the_chinese_default(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert 'lang="zh-hans"' in page.content.decode()
