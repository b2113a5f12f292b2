"""Who may do what: teams, roles per endpoint, resource ownership, endpoint security settings,
API tokens, two-factor secrets and login throttling state.

The rules that read these rows live in one place, console/accounts/policy.py.
Global administrators (is_staff or is_superuser) are administrators on every
endpoint and need no row here.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from console.endpoints.models import Endpoint

ADMIN, OPERATOR, STANDARD, READONLY, NONE = "admin", "operator", "standard", "readonly", "none"
ROLE_CHOICES = (
    (ADMIN, "Administrator"),
    (OPERATOR, "Operator"),
    (STANDARD, "Standard user"),
    (READONLY, "Read-only"),
    (NONE, "No access"),
)

RESOURCE_KINDS = (("container", "container"), ("stack", "stack"), ("volume", "volume"),
                  ("network", "network"), ("image", "image"))
OWNER_USER, OWNER_TEAM, OWNER_ADMINS, OWNER_PUBLIC = "user", "team", "admins", "public"
OWNERSHIP_CHOICES = ((OWNER_USER, "A user"), (OWNER_TEAM, "A team"),
                     (OWNER_ADMINS, "Administrators only"), (OWNER_PUBLIC, "Everyone with access"))


class Team(models.Model):
    """A named group of users. Leaders (also members) may add and remove the team's members."""

    name = models.CharField(max_length=64, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="berth_teams", blank=True)
    leaders = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="led_teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class EndpointRole(models.Model):
    """A user's or a team's role on one endpoint (exactly one of `user`, `team`).

    A user's own row wins over their teams' rows; among teams the highest role wins.
    """

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="endpoint_roles")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="endpoint_roles")
    role = models.CharField(max_length=16, choices=ROLE_CHOICES, default=READONLY)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=(models.Q(user__isnull=False, team__isnull=True)
                                              | models.Q(user__isnull=True, team__isnull=False)),
                                   name="role_for_user_xor_team"),
            models.UniqueConstraint(fields=("endpoint", "user"), name="one_role_per_user",
                                    condition=models.Q(user__isnull=False)),
            models.UniqueConstraint(fields=("endpoint", "team"), name="one_role_per_team",
                                    condition=models.Q(team__isnull=False)),
        ]

    def clean(self) -> None:
        if (self.user_id is None) == (self.team_id is None):
            raise ValidationError("Give a role to a user or to a team, not both.")

    def __str__(self) -> str:
        return f"{self.user or self.team} is {self.role} on {self.endpoint}"


class ResourceControl(models.Model):
    """Who owns one resource of an endpoint: a user, a team, administrators only, or everyone with access.

    `resource_id` is the engine's full ID (a volume's name for volumes, a stack's
    name for stacks); `name` is kept for display. Resources without a row belong to
    administrators only (images excepted: see policy.visible).
    """

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="resource_controls")
    kind = models.CharField(max_length=16, choices=RESOURCE_KINDS)
    resource_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True, default="")
    ownership = models.CharField(max_length=16, choices=OWNERSHIP_CHOICES, default=OWNER_ADMINS)
    owner_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="owned_resources")
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_resources")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("endpoint", "kind", "resource_id"), name="one_control_per_resource")]

    def owner_label(self) -> str:
        if self.ownership == OWNER_USER:
            return f"user {self.owner_user.username}" if self.owner_user else "a deleted user"
        if self.ownership == OWNER_TEAM:
            return f"team {self.owner_team.name}" if self.owner_team else "a deleted team"
        return dict(OWNERSHIP_CHOICES)[self.ownership]

    def __str__(self) -> str:
        return f"{self.kind} {self.name or self.resource_id[:12]}: {self.owner_label()}"


class EndpointSecurity(models.Model):
    """What non-administrators may not ask of an endpoint's engine. Defaults forbid everything risky."""

    endpoint = models.OneToOneField(Endpoint, on_delete=models.CASCADE, related_name="security")
    forbid_bind_mounts = models.BooleanField("Bind mounts of host paths", default=True, help_text="Host paths: -v /host:/path, --mount type=bind, local volumes with o=bind")
    forbid_privileged = models.BooleanField("Privileged mode", default=True, help_text="--privileged containers and privileged exec")
    forbid_host_namespaces = models.BooleanField("The host's namespaces", default=True, help_text="Host network, PID or IPC namespace (also RUN --network=host in builds)")
    forbid_cap_add = models.BooleanField("Added capabilities", default=True, help_text="--cap-add")
    forbid_devices = models.BooleanField("Host devices", default=True, help_text="--device and GPU requests")
    forbid_sysctls = models.BooleanField("Kernel parameters (sysctls)", default=True, help_text="--sysctl")
    forbid_security_opt = models.BooleanField("Security options", default=True, help_text="--security-opt (also RUN --security=insecure in builds)")

    RULES = ("forbid_bind_mounts", "forbid_privileged", "forbid_host_namespaces", "forbid_cap_add",
             "forbid_devices", "forbid_sysctls", "forbid_security_opt")

    def __str__(self) -> str:
        return f"security settings of {self.endpoint}"


class ApiToken(models.Model):
    """An API token: only the SHA-256 of the key is stored; the key is shown once when it is made.

    `prefix` (the key's first characters) lets a person tell tokens apart. A token
    stops working when revoked or past `expires_at`; `last_used_at` is updated (at
    most once a minute) when it authenticates a request.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.user} {self.name} ({self.prefix}…)"


class UserSecurity(models.Model):
    """A user's two-factor settings: their TOTP secret once confirmed, and whether an administrator requires it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="berth_security")
    totp_secret = models.CharField(max_length=64, blank=True, default="")
    totp_confirmed = models.BooleanField(default=False)
    totp_required = models.BooleanField(default=False)
    last_totp_step = models.BigIntegerField(default=0)  # a code is accepted once

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_secret and self.totp_confirmed)


class LoginThrottle(models.Model):
    """Failed sign-ins counted per key ("user:<name>" or "ip:<address>") in the current window."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)
