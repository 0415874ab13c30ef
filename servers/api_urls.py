from django.urls import path

from . import api

urlpatterns = [
    path("servers/<str:hostname>/inventory", api.inventory_push, name="api_inventory_push"),
]
