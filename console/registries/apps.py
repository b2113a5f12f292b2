from django.apps import AppConfig


class RegistriesConfig(AppConfig):
    name = "console.registries"
    label = "registries"
    verbose_name = "Registry credentials"
