import Domain
import Testing
import Web

@Suite struct ProblemTests {
    @Test func rendersRFC9457Document() {
        let problem = Problem.validation([FieldError(field: "name", message: "must not be empty")])
        let response = problem.response(requestID: "r1")
        #expect(response.status == 400)
        #expect(response.header("content-type") == "application/problem+json")
        guard case .bytes(let body) = response.body else {
            Issue.record("expected a byte body")
            return
        }
        #expect(
            String(decoding: body, as: UTF8.self)
                == #"{"type":"/problems/validation","title":"Invalid request","status":400,"#
                + #""detail":"The request has invalid fields.","instance":"r1","request_id":"r1","#
                + #""errors":[{"field":"name","message":"must not be empty"}]}"#)
    }

    @Test func headersTravelWithTheProblem() {
        let response = Problem.unavailable("down", retryAfterSeconds: 7).response(requestID: "r")
        #expect(response.status == 503)
        #expect(response.header("Retry-After") == "7")
    }

    @Test func errorsMemberOnlyWhenThereAreErrors() {
        let json = Problem.notFound().json(requestID: "r")
        #expect(json["errors"] == nil)
        #expect(json["type"] == .string("/problems/not-found"))
        #expect(json["status"] == .int(404))
    }

    @Test func everyKindHasADistinctSlug() {
        let kinds: [Problem.Kind] = [
            .badRequest, .validation, .unauthenticated, .invalidCredential, .expiredCredential, .revokedCredential,
            .invalidSignature, .invalidClaims, .inactivePrincipal, .loginFailed, .forbidden, .notFound,
            .methodNotAllowed, .conflict, .payloadTooLarge, .unsupportedMediaType, .idempotencyKeyReused,
            .rateLimited, .internalError, .unavailable, .timeout,
        ]
        #expect(Set(kinds.map(\.slug)).count == kinds.count)
        for kind in kinds {
            #expect((400...599).contains(kind.status))
        }
    }
}
