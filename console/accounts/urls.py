"""Sign-in, the user's own account, users and teams (administration), an endpoint's access and security pages,
and resource ownership changes."""

from __future__ import annotations

from django.urls import path

from console.accounts import admin_views, endpoint_views, ownership, signin, views

urlpatterns = [
    path("login/", signin.login_view, name="login"),
    path("login/code/", signin.login_code, name="login-code"),
    path("logout/", signin.logout_view, name="logout"),
    path("account/", views.account, name="account"),
    path("account/token/", views.api_token, name="api-token"),
    path("account/2fa/", views.two_factor, name="account-2fa"),
    path("account/password/", views.password_change, name="account-password"),
    path("users/", admin_views.user_list, name="user-list"),
    path("users/<int:uid>/", admin_views.user_edit, name="user-edit"),
    path("teams/", admin_views.team_list, name="team-list"),
    path("teams/<int:tid>/", admin_views.team_detail, name="team-detail"),
    path("teams/<int:tid>/members/<int:uid>/remove/", admin_views.team_member_remove, name="team-member-remove"),
    path("teams/<int:tid>/delete/", admin_views.team_delete, name="team-delete"),
    path("endpoints/<int:eid>/access/", endpoint_views.endpoint_access, name="access-roles"),
    path("endpoints/<int:eid>/access/<int:rid>/remove/", endpoint_views.endpoint_access_remove, name="access-role-remove"),
    path("endpoints/<int:eid>/security/", endpoint_views.endpoint_security, name="access-security"),
    path("endpoints/<int:eid>/ownership/", ownership.ownership_change, name="resource-ownership"),
]
