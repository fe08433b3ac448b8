"""The club's time zone: set in the cloud (``hilsim cloud --timezone``, ``CloudSettings.timezone``) and handed to
the dashboard by ``/api/me``, which shows every time in it (``system/cloud/static/clubtime.js``; the browser
tests in ``test_dashboard_browser.py`` check what a user sees)."""

from __future__ import annotations


import pytest

from cloud_fixtures import logged_in, make_cloud


@pytest.mark.parametrize("settings, zone", [({}, "Europe/Brussels"), ({"timezone": "Asia/Tokyo"}, "Asia/Tokyo")])
def test_the_page_learns_the_clubs_zone_from_api_me(loop, settings, zone):
    cloud = make_cloud(loop, **settings)

    async def me():
        client, _ = await logged_in(cloud)
        try:
            return (await client.get("/api/me")).json()
        finally:
            await client.aclose()
    assert cloud.run(me())["timezone"] == zone
