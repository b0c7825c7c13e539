"""REST routes of transport, mounted under /api/."""

from project import rest
from transport import views

ROUTE_ID = {"routeId": "uuid"}

urlpatterns = rest.routes(
    rest.get_route(
        "transports/routes",
        views.routes_list,
        summary="Scheduled routes with their state",
        returns=rest.many(views.ROUTES),
        query=[
            rest.Query(
                "filter[startMapId]",
                "only the first route starting in this map",
                {"type": "integer", "minimum": 0, "maximum": 4294967295},
            ),
            rest.Query("include", "schedule: each route's trips, in included"),
        ],
    ),
    rest.get_route(
        "transports/routes/{routeId}",
        views.route_get,
        ids=ROUTE_ID,
        summary="One scheduled route, its schedule included",
        returns=rest.one(views.ROUTES),
        errors={500: rest.UPSTREAM_500},
    ),
    # Where a route document's schedule links point (api2go's /api/<type>/<id>/...).
    *(
        rest.get_route(
            path,
            views.route_schedule,
            ids=ROUTE_ID,
            summary="The route's trips (where its schedule links point)",
            returns=rest.many(views.TRIPS),
            errors={404: "no such route"},
        )
        for path in ("routes/{routeId}/schedule", "routes/{routeId}/relationships/schedule")
    ),
    rest.get_route(
        "transports/instance-routes",
        views.instance_routes_list,
        summary="On-demand (instance) routes",
        returns=rest.many(views.INSTANCE_ROUTES),
    ),
    rest.get_route(
        "transports/instance-routes/{routeId}",
        views.instance_route_get,
        ids=ROUTE_ID,
        summary="One instance route",
        returns=rest.one(views.INSTANCE_ROUTES),
        errors={404: "no such instance route"},
    ),
    rest.get_route(
        "transports/instance-routes/{routeId}/status",
        views.instance_route_status,
        ids=ROUTE_ID,
        summary="The route's live instances",
        returns=rest.many(views.INSTANCE_STATUS),
    ),
    rest.route(
        "transports/instance-routes/{routeId}/start",
        ids=ROUTE_ID,
        POST=rest.op(
            views.instance_route_start,
            summary="START: the character boards now (204), or is refused (400)",
            body=rest.RequestDocument(
                "start-transport",
                views.StartAttributes,
                integer_id=False,
                id_description="any string (not read)",
            ),
            returns=rest.no_body(204),
        ),
    ),
)
