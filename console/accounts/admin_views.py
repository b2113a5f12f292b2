"""Users and teams pages. Users: administrators. Teams: administrators, and each team's leaders for its members.

Every change is audited (user.create, user.update, team.create, team.member_add, …).
An administrator cannot take away their own administrator rights or deactivate themselves,
so the console always keeps someone who can administer it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from console.accounts import totp
from console.accounts.access import admin_required, is_console_admin, record_denied, signed_in
from console.accounts.forms import EditUserForm, MemberForm, NewUserForm, TeamForm
from console.accounts.models import Team, UserSecurity
from console.audit.log import record


@admin_required
@sensitive_post_parameters("password")
def user_list(request: HttpRequest) -> HttpResponse:
    """Every user (with their teams and 2FA state), and the form that adds one."""
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = get_user_model().objects.create_user(data["username"], password=data["password"])
        user.is_staff = user.is_superuser = data["is_admin"]
        user.save()
        record(request, "user.create", user.username, admin=data["is_admin"])
        messages.success(request, f"Added {user.username}. Give them a role on an endpoint (or a team) so they see something.")
        return redirect("user-list")
    users = get_user_model().objects.order_by("username").prefetch_related("berth_teams")
    two_factor = {s.user_id: s for s in UserSecurity.objects.all()}
    rows = [{"user": u, "admin": is_console_admin(u), "sec": two_factor.get(u.pk)} for u in users]
    return render(request, "accounts/users.html", {"rows": rows, "form": form}, status=400 if form.is_bound else 200)


@admin_required
@sensitive_post_parameters("new_password")
def user_edit(request: HttpRequest, uid: int) -> HttpResponse:
    """Activate/deactivate, administrator or not, require 2FA, reset 2FA, set a new password."""
    user = get_object_or_404(get_user_model(), pk=uid)
    sec = totp.security_of(user)
    if request.method == "POST" and request.POST.get("action") == "reset-2fa":
        totp.disable(user)
        record(request, "user.reset_2fa", user.username)
        messages.success(request, f"Two-factor sign-in of {user.username} is reset; they set it up again.")
        return redirect("user-edit", uid=uid)
    initial = {"is_active": user.is_active, "is_admin": is_console_admin(user) or user.is_staff,
               "totp_required": sec.totp_required}
    form = EditUserForm(request.POST or None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if user.pk == request.user.pk and (not data["is_active"] or not data["is_admin"]):
            form.add_error(None, "You cannot deactivate yourself or take away your own administrator rights.")
        else:
            user.is_active, user.is_staff, user.is_superuser = data["is_active"], data["is_admin"], data["is_admin"]
            if data["new_password"]:
                user.set_password(data["new_password"])
            user.save()
            sec.totp_required = data["totp_required"]
            sec.save(update_fields=["totp_required"])
            record(request, "user.update", user.username, active=user.is_active, admin=data["is_admin"],
                   require_2fa=sec.totp_required, new_password=bool(data["new_password"]))
            messages.success(request, f"Saved {user.username}.")
            return redirect("user-list")
    context = {"subject": user, "form": form, "sec": sec, "teams": user.berth_teams.all()}
    return render(request, "accounts/user_edit.html", context, status=400 if form.is_bound else 200)


def _manageable(request: HttpRequest, team: Team) -> bool:
    return is_console_admin(request.user) or team.leaders.filter(pk=request.user.pk).exists()


@signed_in
def team_list(request: HttpRequest) -> HttpResponse:
    """Administrators: every team, and a form to add one. Leaders: the teams they lead. Others: their teams."""
    admin = is_console_admin(request.user)
    form = TeamForm(request.POST or None) if admin else None
    if request.method == "POST":
        if not admin:
            record_denied(request, "only administrators add teams")
            raise PermissionDenied("only administrators add teams")
        if form is not None and form.is_valid():
            team = form.save()
            record(request, "team.create", team.name)
            messages.success(request, f"Added team {team.name}.")
            return redirect("team-detail", tid=team.pk)
    teams = Team.objects.all() if admin else Team.objects.filter(members=request.user).distinct()
    context = {"teams": teams.prefetch_related("members", "leaders"), "form": form, "admin": admin}
    return render(request, "accounts/teams.html", context, status=400 if form is not None and form.is_bound else 200)


@signed_in
def team_detail(request: HttpRequest, tid: int) -> HttpResponse:
    """A team's members. Leaders and administrators add and remove members; only administrators name leaders."""
    team = get_object_or_404(Team, pk=tid)
    admin, manage = is_console_admin(request.user), _manageable(request, team)
    if not manage and not team.members.filter(pk=request.user.pk).exists():
        raise PermissionDenied("not your team")
    form = MemberForm(request.POST or None) if manage else None
    if request.method == "POST":
        if not manage:
            record_denied(request, "not a leader of this team")
            raise PermissionDenied("not a leader of this team")
        if form is not None and form.is_valid():
            member, leader = form.cleaned_data["user"], form.cleaned_data["leader"] and admin
            team.members.add(member)
            if leader:
                team.leaders.add(member)
            record(request, "team.member_add", f"{team.name}: {member.username}", leader=leader)
            messages.success(request, f"{member.username} is in {team.name}.")
            return redirect("team-detail", tid=tid)
    leaders = set(team.leaders.values_list("pk", flat=True))
    members = [{"user": u, "leader": u.pk in leaders} for u in team.members.order_by("username")]
    context = {"team": team, "members": members, "form": form, "manage": manage, "admin": admin}
    return render(request, "accounts/team_detail.html", context, status=400 if form is not None and form.is_bound else 200)


@signed_in
@require_POST
def team_member_remove(request: HttpRequest, tid: int, uid: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=tid)
    if not _manageable(request, team):
        record_denied(request, "not a leader of this team")
        raise PermissionDenied("not a leader of this team")
    member = get_object_or_404(get_user_model(), pk=uid)
    team.members.remove(member)
    team.leaders.remove(member)
    record(request, "team.member_remove", f"{team.name}: {member.username}")
    messages.success(request, f"{member.username} left {team.name}.")
    return redirect("team-detail", tid=tid)


@admin_required
@require_POST
def team_delete(request: HttpRequest, tid: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=tid)
    name = team.name
    team.delete()
    record(request, "team.delete", name)
    messages.success(request, f"Removed team {name}; its resources are now administrators' only.")
    return redirect("team-list")
