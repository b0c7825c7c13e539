"""REST routes of transport, mounted under /api/ (spec/transports.md §8)."""

from project import rest
from transport import views

urlpatterns = rest.routes(
    rest.route("transports/routes", GET=views.routes_list),
    rest.route("transports/routes/{routeId}", GET=views.route_get),
    # Where a route document's schedule links point (api2go's /api/<type>/<id>/...).
    rest.route("routes/{routeId}/schedule", GET=views.route_schedule),
    rest.route("routes/{routeId}/relationships/schedule", GET=views.route_schedule),
    rest.route("transports/instance-routes", GET=views.instance_routes_list),
    rest.route("transports/instance-routes/{routeId}", GET=views.instance_route_get),
    rest.route("transports/instance-routes/{routeId}/status", GET=views.instance_route_status),
    rest.route("transports/instance-routes/{routeId}/start", POST=views.instance_route_start),
)
