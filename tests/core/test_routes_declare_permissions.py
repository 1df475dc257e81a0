"""Every endpoint and page declares its permission (Requires, PageRequires or public)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from trustdesk.web.deps import PageRequires, Requires, public


def _declared(dependant: Dependant) -> list[object]:
    found: list[object] = []
    for sub in dependant.dependencies:
        call = sub.call
        if isinstance(call, Requires | PageRequires) or call is public:
            found.append(call)
        found.extend(_declared(sub))
    return found


def test_every_route_declares_exactly_one_permission(app: FastAPI) -> None:
    missing, doubled = [], []
    routes = [(prefix, route) for prefix, router in app.state.routers for route in router.routes]
    assert len(routes) > 20
    for prefix, route in routes:
        assert isinstance(route, APIRoute)
        declared = _declared(route.dependant)
        name = f"{sorted(route.methods)} {prefix}{route.path}"
        if not declared:
            missing.append(name)
        elif len({id(d) if d is not public else "public" for d in declared}) > 1 and any(
            d is public for d in declared
        ):
            doubled.append(name)
    assert not missing, f"routes without a declared permission: {missing}"
    assert not doubled, f"routes both public and protected: {doubled}"


def test_all_routes_are_reachable_in_the_app(app: FastAPI) -> None:
    paths = {getattr(r, "path", None) for r in app.router.routes}
    paths |= {f"{p}{r.path}" for p, router in app.state.routers for r in router.routes}
    assert "/api/v1/cases" in paths
    assert "/api/v1/health" in paths
