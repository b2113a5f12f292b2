"""Volume pages, under /endpoints/<eid>/volumes/.

A volume's own pages are under v/<name>/: a volume may be called "new" or
"import", which would otherwise collide with the fixed pages.
"""

from __future__ import annotations

from django.urls import path

from console.volumes import file_views, views

app_name = "volumes"
urlpatterns = [
    path("", views.volume_list, name="list"),
    path("sizes/", views.volume_sizes, name="sizes"),
    path("new/", views.volume_create, name="create"),
    path("prune/", views.volume_prune, name="prune"),
    path("import/", file_views.volume_import, name="import"),
    path("exports/<int:job_id>/", file_views.export_download, name="export-download"),
    path("v/<str:name>/", views.volume_detail, name="detail"),
    path("v/<str:name>/remove/", views.volume_remove, name="remove"),
    path("v/<str:name>/files/", file_views.volume_files, name="files"),
    path("v/<str:name>/download/", file_views.volume_download, name="download"),
    path("v/<str:name>/export/", file_views.volume_export, name="export"),
]
