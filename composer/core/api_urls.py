"""API routes served from the registries (being written)."""
urlpatterns: list = []
