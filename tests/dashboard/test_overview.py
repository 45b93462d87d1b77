import pytest

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_shows_the_overview_to_a_logged_in_user(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 200
    assert b"Overview" in response.content


def test_it_serves_the_login_page(client):
    assert client.get("/login/").status_code == 200
