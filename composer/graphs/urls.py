"""URL routes of the graphs app (mounted under ``/api/``)."""
from django.urls import path, re_path

from composer.graphs import apis

urlpatterns = [
    path("graphs/", apis.GraphListCreateApi.as_view(), name="graph-list"),
    path("graphs/validate/", apis.GraphValidateApi.as_view(), name="graph-validate"),
    path("graphs/<int:graph_id>/", apis.GraphDetailApi.as_view(), name="graph-detail"),
    path("graphs/<int:graph_id>/fork/", apis.GraphForkApi.as_view(), name="graph-fork"),
    path("graphs/<int:graph_id>/star/", apis.GraphStarApi.as_view(), name="graph-star"),
    path("graphs/<int:graph_id>/lineage/", apis.GraphLineageApi.as_view(), name="graph-lineage"),
    path("graphs/<int:graph_id>/versions/", apis.GraphVersionListApi.as_view(), name="graph-versions"),
    path("graphs/<int:graph_id>/versions/<int:number>/", apis.GraphVersionDetailApi.as_view(), name="graph-version"),
    path(
        "graphs/<int:graph_id>/versions/<int:number>/restore/",
        apis.GraphVersionRestoreApi.as_view(),
        name="graph-version-restore",
    ),
    path("graphs/<int:graph_id>/diff/", apis.GraphDiffApi.as_view(), name="graph-diff"),
    re_path(r"^graphs/(?P<graph_id>[0-9]+)/diagram\.(?P<fmt>svg|png)$", apis.GraphDiagramApi.as_view(), name="graph-diagram"),
    path("graphs/<int:graph_id>/export/", apis.GraphExportApi.as_view(), name="graph-export"),
    # An unlisted graph's link: its token, never its id (see selectors.graph_get_shared).
    re_path(r"^graphs/shared/(?P<token>[A-Za-z0-9_-]{1,64})/$", apis.SharedGraphDetailApi.as_view(), name="graph-shared"),
    re_path(r"^graphs/shared/(?P<token>[A-Za-z0-9_-]{1,64})/fork/$", apis.GraphForkApi.as_view(), name="graph-shared-fork"),
    re_path(r"^graphs/shared/(?P<token>[A-Za-z0-9_-]{1,64})/diagram\.(?P<fmt>svg|png)$", apis.GraphDiagramApi.as_view(),
            name="graph-shared-diagram"),
    re_path(r"^graphs/shared/(?P<token>[A-Za-z0-9_-]{1,64})/export/$", apis.GraphExportApi.as_view(), name="graph-shared-export"),
]
