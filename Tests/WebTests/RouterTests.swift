import Domain
import Testing
import Web

@Suite struct RouterTests {
    func makeRouter() -> Router<Void> {
        var router = Router<Void>()
        let ok: Handler<Void> = { _, _ in Response(status: 200) }
        router.add("GET", "/api/v1/jobs", access: .authenticated, handler: ok)
        router.add("POST", "/api/v1/jobs", access: .authenticated, handler: ok)
        router.add("GET", "/api/v1/jobs/{id}", access: .authenticated, handler: ok)
        router.add("DELETE", "/api/v1/jobs/{id}", access: .authenticated, handler: ok)
        router.add("GET", "/api/v1/jobs/{id}/status", access: .authenticated, handler: ok)
        router.add("POST", "/api/v1/keys/rotate", access: .authenticated, handler: ok)
        router.add("DELETE", "/api/v1/keys/{prefix}", access: .authenticated, handler: ok)
        return router
    }

    @Test func matchesLiteralAndParameterSegments() {
        guard case .found(let route, let parameters) = makeRouter().match(method: "GET", path: "/api/v1/jobs/42") else {
            Issue.record("expected a match")
            return
        }
        #expect(route.pattern == "/api/v1/jobs/{id}")
        #expect(parameters == ["id": "42"])
    }

    @Test func literalSegmentsWinOverParameters() {
        var router = Router<Void>()
        router.add("GET", "/a/{x}", access: .public) { _, _ in Response(status: 1) }
        router.add("GET", "/a/b", access: .public) { _, _ in Response(status: 2) }
        guard case .found(let route, _) = router.match(method: "GET", path: "/a/b") else {
            Issue.record("expected a match")
            return
        }
        #expect(route.pattern == "/a/b")
    }

    @Test func unknownPathIsNotFound() {
        guard case .notFound = makeRouter().match(method: "GET", path: "/api/v1/nothing") else {
            Issue.record("expected not found")
            return
        }
        guard case .notFound = makeRouter().match(method: "GET", path: "/api/v1/jobs/1/status/extra") else {
            Issue.record("expected not found")
            return
        }
    }

    @Test func wrongMethodListsAllowedMethods() {
        guard case .methodNotAllowed(let allowed) = makeRouter().match(method: "PUT", path: "/api/v1/jobs/7") else {
            Issue.record("expected method not allowed")
            return
        }
        #expect(allowed == ["DELETE", "GET", "HEAD"])
    }

    @Test func headMatchesGet() {
        guard case .found(let route, _) = makeRouter().match(method: "HEAD", path: "/api/v1/jobs") else {
            Issue.record("expected a match")
            return
        }
        #expect(route.method == "GET")
    }

    @Test func aTrailingSlashIsIgnored() {
        guard case .found(let route, _) = makeRouter().match(method: "GET", path: "/api/v1/jobs/") else {
            Issue.record("expected a match")
            return
        }
        #expect(route.pattern == "/api/v1/jobs")
    }
}
