from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "console.images"
    label = "images"
    verbose_name = "Images"
