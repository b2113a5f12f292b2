from django.apps import AppConfig


class StacksConfig(AppConfig):
    name = "console.stacks"
    label = "stacks"
    verbose_name = "Stacks"
