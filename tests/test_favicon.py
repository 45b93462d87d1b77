"""/favicon.ico, which browsers ask for on every page: a redirect to the static icon, not a 404."""

import pytest

pytestmark = pytest.mark.django_db


def test_it_redirects_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"
    assert "max-age=86400" in response["Cache-Control"]


def test_the_icon_is_served(client):
    response = client.get("/static/favicon.svg")
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(response.streaming_content if response.streaming else [response.content])


def test_every_page_links_it(client, django_user_model):
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in client.get("/login/").content.decode()
    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw"))
    assert 'rel="icon"' in client.get("/").content.decode()


def test_it_answers_get_and_head_only(client):
    assert client.head("/favicon.ico").status_code == 301
    assert client.post("/favicon.ico").status_code == 405
