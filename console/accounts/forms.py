"""Forms of the users, teams, endpoint access and endpoint security pages (server-side validated)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation

from console.accounts.models import ROLE_CHOICES, EndpointSecurity, Team


class NewUserForm(forms.Form):
    username = forms.RegexField(label="Username", max_length=150, regex=r"^[\w.@+-]+$",
                                error_messages={"invalid": "Letters, digits and @ . + - _ only."})
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=password_validation.password_validators_help_text_html())
    is_admin = forms.BooleanField(label="Administrator (everything, on every endpoint)", required=False)

    def clean_username(self) -> str:
        name = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise forms.ValidationError("A user with this name exists.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("username") and data.get("password"):
            probe = get_user_model()(username=data["username"])
            try:
                password_validation.validate_password(data["password"], probe)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class EditUserForm(forms.Form):
    is_active = forms.BooleanField(label="Active (may sign in)", required=False)
    is_admin = forms.BooleanField(label="Administrator", required=False)
    totp_required = forms.BooleanField(label="Require two-factor sign-in", required=False)
    new_password = forms.CharField(label="New password", required=False, strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                   help_text="Leave empty to keep the current one.")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_new_password(self) -> str:
        password = self.cleaned_data.get("new_password") or ""
        if password:
            password_validation.validate_password(password, self.user)
        return password


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("name",)


class MemberForm(forms.Form):
    user = forms.ModelChoiceField(label="User", queryset=get_user_model().objects.filter(is_active=True).order_by("username"))
    leader = forms.BooleanField(label="Team leader (may manage members)", required=False)


class RoleForm(forms.Form):
    """Give a user or a team a role on the endpoint: `subject` is "user:<id>" or "team:<id>"."""

    subject = forms.ChoiceField(label="User or team")
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = [(f"user:{u.pk}", f"User {u.username}") for u in get_user_model().objects.filter(
            is_active=True, is_staff=False, is_superuser=False).order_by("username")]
        teams = [(f"team:{t.pk}", f"Team {t.name}") for t in Team.objects.all()]
        self.fields["subject"].choices = [("", "Choose…"), ("Teams", teams), ("Users", users)]


class SecurityForm(forms.ModelForm):
    class Meta:
        model = EndpointSecurity
        fields = EndpointSecurity.RULES
