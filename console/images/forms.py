"""Forms of the images pages (and the API, which validates through them): pull, build, load, tag, push, remove.

Image references are checked with Docker's grammar (`reference_error`) before an engine sees them, so
a typo is a field error, not a failed job.
"""

from __future__ import annotations

import re
import tarfile
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from console.images import buildctx

COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
DOMAIN_RE = re.compile(rf"^{DOMAIN}$")
PATH_RE = re.compile(rf"^{COMPONENT}(?:/{COMPONENT})*$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
BUILD_ARG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_TAGS = 10


def reference_error(text: str, *, allow_digest: bool = True, need_tag: bool = False) -> str:
    """What is wrong with an image reference ("" when nothing is): name[:tag][@digest]."""
    name, _, digest = text.partition("@")
    if digest and (not allow_digest or not DIGEST_RE.match(digest)):
        return "A digest is sha256: and 64 hex digits." if allow_digest else "Give a tag, not a digest."
    slash, colon = name.rfind("/"), name.rfind(":")
    repo, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, "")
    if not repo or len(name) > 255:
        return "Give an image name, e.g. busybox:latest or registry.example.com:5000/team/app:v1."
    first, sep, rest = repo.partition("/")
    has_domain = bool(sep) and ("." in first or ":" in first or first == "localhost")
    if (has_domain and not DOMAIN_RE.match(first)) or not PATH_RE.match(rest if has_domain else repo):
        return "Names are lowercase letters, digits and . _ - separated by slashes, after an optional registry host:port."
    if tag and not TAG_RE.match(tag):
        return "A tag is up to 128 letters, digits, _ . and -, not starting with . or -."
    if need_tag and not tag and not digest:
        return "Add a tag, e.g. :v1."
    return ""


def parse_tags(text: str) -> list[str]:
    """Tags typed one per line or separated by commas/spaces; ValidationError names the bad one."""
    tags = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if len(tags) > MAX_TAGS:
        raise forms.ValidationError(f"At most {MAX_TAGS} tags.")
    for tag in tags:
        problem = reference_error(tag, allow_digest=False)
        if problem:
            raise forms.ValidationError(f"{tag}: {problem}")
    return tags


def parse_build_args(text: str) -> dict[str, str]:
    """KEY=value, one per line (# comments and blank lines skipped)."""
    args: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not BUILD_ARG_RE.match(key.strip()):
            raise forms.ValidationError(f"Line {n}: write NAME=value (letters, digits and _ in the name).")
        args[key.strip()] = value
    return args


def tar_error(upload: UploadedFile) -> str:
    """"" when the upload is a tar archive (plain or compressed); the file is rewound either way."""
    try:
        upload.seek(0)
        with tarfile.open(fileobj=upload, mode="r:*") as tar:
            tar.next()
    except (tarfile.TarError, EOFError, OSError) as exc:
        return f"This is not a tar archive ({exc})."
    finally:
        upload.seek(0)
    return ""


class PullForm(forms.Form):
    image = forms.CharField(label="Image", max_length=255, widget=forms.TextInput(attrs={
        "placeholder": "busybox:latest or registry.example.com:5000/team/app:v1", "spellcheck": "false",
        "autocomplete": "off", "autofocus": True}),
        help_text="Without a tag, :latest is pulled. Credentials stored under Registries are used for their registry.")

    def clean_image(self) -> str:
        image = self.cleaned_data["image"].strip()
        problem = reference_error(image)
        if problem:
            raise forms.ValidationError(problem)
        return image


class BuildForm(forms.Form):
    text = forms.CharField(label="Dockerfile", required=False, strip=False, widget=forms.Textarea(attrs={
        "rows": 16, "spellcheck": "false", "autocomplete": "off", "wrap": "off", "class": "dockerfile-editor"}))
    context = forms.FileField(label="Build context (tar)", required=False,
                              help_text="A .tar, .tar.gz, .tar.bz2 or .tar.xz of the files COPY and ADD use. "
                                        "With a Dockerfile typed above, it replaces the one in the archive.")
    dockerfile = forms.CharField(label="Dockerfile path in the context", initial="Dockerfile", required=False,
                                 max_length=255, widget=forms.TextInput(attrs={"spellcheck": "false"}))
    tags = forms.CharField(label="Tags", required=False, widget=forms.TextInput(attrs={
        "placeholder": "myapp:latest, myapp:1.0", "spellcheck": "false", "autocomplete": "off"}),
        help_text="Comma- or space-separated. Without one the image is known by its ID only.")
    buildargs = forms.CharField(label="Build arguments", required=False, strip=False, widget=forms.Textarea(attrs={
        "rows": 3, "spellcheck": "false", "placeholder": "VERSION=1.2\nDEBUG=0"}), help_text="NAME=value, one per line.")
    nocache = forms.BooleanField(label="Do not use the build cache", required=False)
    pull = forms.BooleanField(label="Always pull the base images", required=False)

    def clean_dockerfile(self) -> str:
        try:
            return buildctx.dockerfile_name(self.cleaned_data.get("dockerfile") or "Dockerfile")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_tags(self) -> list[str]:
        return parse_tags(self.cleaned_data.get("tags", ""))

    def clean_buildargs(self) -> dict[str, str]:
        return parse_build_args(self.cleaned_data.get("buildargs", ""))

    def clean_context(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("context")
        if upload:
            problem = tar_error(upload)
            if problem:
                raise forms.ValidationError(problem)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("context") and "context" not in self.errors:
            self.add_error("text", "Write a Dockerfile here, or upload a build context that has one.")
        return data


class LoadForm(forms.Form):
    archive = forms.FileField(label="Image archive", help_text="A tar written by docker save (or this console's Export).")

    def clean_archive(self) -> UploadedFile:
        upload = self.cleaned_data["archive"]
        problem = tar_error(upload)
        if problem:
            raise forms.ValidationError(problem)
        return upload


class TagForm(forms.Form):
    target = forms.CharField(label="New tag", max_length=255, widget=forms.TextInput(attrs={
        "placeholder": "registry.example.com:5000/team/app:v1", "spellcheck": "false", "autocomplete": "off"}),
        help_text="Repository and tag; without :tag, :latest.")

    def clean_target(self) -> str:
        target = self.cleaned_data["target"].strip()
        problem = reference_error(target, allow_digest=False)
        if problem:
            raise forms.ValidationError(problem)
        return target


class PushForm(forms.Form):
    tag = forms.ChoiceField(label="Tag to push")

    def __init__(self, *args: Any, tags: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [(t, t) for t in tags]


class RemoveForm(forms.Form):
    ref = forms.CharField(max_length=255, required=False)
    force = forms.BooleanField(required=False, label="Force (also remove it from containers' view and all its tags)")
