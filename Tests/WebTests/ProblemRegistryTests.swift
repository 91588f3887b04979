import Foundation
import Testing
import Web

/// The registry of problem types against what stands for it outside Swift: `Problem.Kind.all`, the declarations in
/// `Problem.swift`, the pages nginx serves at `/problems/<slug>` and nginx's own problem documents in `www/_errors/`.
@Suite struct ProblemRegistryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every `public static let NAME = Kind(slug: …, title: …, status: …)` in Problem.swift, read from the source.
    static func declaredKinds() throws -> [(slug: String, title: String, status: Int)] {
        let source = try text("Sources/Web/Problem.swift")
        let declaration = #/public static let \w+ = Kind\(\s*slug: "([^"]+)", title: "([^"]+)", status: (\d+)\)/#
        return source.matches(of: declaration).map { (String($0.output.1), String($0.output.2), Int($0.output.3)!) }
    }

    @Test func allListsEveryDeclaredKindOnce() throws {
        let source = try Self.text("Sources/Web/Problem.swift")
        // However a declaration is written, it is counted here; the pattern above must read every one of them.
        let declarationCount = source.matches(of: #/static let \w+ = Kind\(/#).count
        let declared = try Self.declaredKinds()
        #expect(declared.count == declarationCount)
        #expect(Problem.Kind.all.count == declarationCount)
        #expect(Set(Problem.Kind.all.map(\.slug)).count == Problem.Kind.all.count)
        #expect(Problem.Kind.all.map(\.slug) == declared.map(\.slug))
        #expect(Problem.Kind.all.map(\.title) == declared.map(\.title))
        #expect(Problem.Kind.all.map(\.status) == declared.map(\.status))
    }

    @Test func everyKindHasAPageAndNothingElseDoes() throws {
        let pages = try FileManager.default.contentsOfDirectory(
            atPath: Self.root.appendingPathComponent("www/problems").path)
        #expect(Set(pages) == Set(Problem.Kind.all.map { $0.slug + ".html" } + ["index.html"]))
        let index = try Self.text("www/problems/index.html")
        for kind in Problem.Kind.all {
            let page = try Self.text("www/problems/\(kind.slug).html")
            #expect(page.contains("<h1>\(kind.title)</h1>"), "\(kind.slug)")
            #expect(page.contains("<dt>type</dt><dd><code>/problems/\(kind.slug)</code></dd>"), "\(kind.slug)")
            #expect(page.contains("<dt>title</dt><dd>\(kind.title)</dd>"), "\(kind.slug)")
            #expect(page.contains("<dt>status</dt><dd>\(kind.status)"), "\(kind.slug)")
            #expect(index.contains("<a href=\"/problems/\(kind.slug)\">"), "\(kind.slug)")
        }
    }

    /// The site's Content-Security-Policy allows no inline script or style.
    @Test func pagesLoadOnlyFiles() throws {
        let pages = try FileManager.default.contentsOfDirectory(
            atPath: Self.root.appendingPathComponent("www/problems").path
        ).map { "www/problems/" + $0 } + ["www/index.html"]
        for path in pages {
            let page = try Self.text(path)
            #expect(!page.contains("<style") && !page.contains(" style="), "\(path)")
            #expect(page.firstMatch(of: #/ on[a-z]+=/#) == nil, "\(path)")
            #expect(
                page.matches(of: #/<script/#).count == page.matches(of: #/<script src="[^"]+"><\/script>/#).count,
                "\(path)")
        }
    }

    /// One `error_page` directive of nginx.conf, from its servers or from the commented ones.
    struct ErrorPage {
        let codes: [Int]
        let answeredAs: Int?
        let uri: String
    }

    static func errorPages() throws -> [ErrorPage] {
        try text("nginx.conf").matches(of: #/error_page ([0-9 ]+?) (?:=([0-9]+) )?(\S+);/#).map {
            ErrorPage(
                codes: $0.output.1.split(separator: " ").map { Int($0)! }, answeredAs: $0.output.2.map { Int($0)! },
                uri: String($0.output.3))
        }
    }

    static func document(_ uri: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("www" + uri))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(uri)")
    }

    @Test func nginxAnswersItsErrorsWithProblemsOfRegisteredTypes() throws {
        let pages = try Self.errorPages()
        #expect(!pages.isEmpty)
        var used: Set<String> = []
        for page in pages {
            #expect(page.uri.hasPrefix("/_errors/") && page.uri.hasSuffix(".json"), "\(page.uri)")
            used.insert(String(page.uri.dropFirst("/_errors/".count)))
            let document = try Self.document(page.uri)
            // The status the client gets: the one error_page sets, else nginx's own, which must then be one.
            let status = page.answeredAs ?? page.codes.first
            #expect(page.answeredAs != nil || page.codes.count == 1, "\(page.uri)")
            #expect(document["status"] as? Int == status, "\(page.uri)")
            let type = try #require(document["type"] as? String)
            let kind = try #require(Problem.Kind.all.first { "/problems/" + $0.slug == type }, "\(page.uri): \(type)")
            #expect(document["title"] as? String == kind.title, "\(page.uri)")
            #expect(document["detail"] is String, "\(page.uri)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("www/_errors").path)
        #expect(Set(files) == used)
    }

    /// A 504 may come after the responder acted on the request: it keeps its status, says so, and is no 503.
    @Test func aTimeoutIsNotAnsweredAsRetryable() throws {
        let pages = try Self.errorPages()
        let timeouts = pages.filter { $0.codes.contains(504) }
        #expect(!timeouts.isEmpty)
        for page in timeouts {
            #expect(page.codes == [504] && page.answeredAs == nil)
            #expect(try Self.document(page.uri)["type"] as? String == "/problems/timeout")
        }
        for page in pages where page.codes.contains(502) || page.codes.contains(503) {
            #expect(page.answeredAs == 503 && page.uri == "/_errors/unavailable.json")
        }
        // Retry-After is sent with the 503 document only.
        let config = try Self.text("nginx.conf")
        let retryMap = try #require(config.firstMatch(of: #/map "\$status \$uri" \$switchyard_retry_after \{([^}]*)\}/#))
        let keys = retryMap.output.1.matches(of: #/"(\d+) (\S+)"/#).map { (Int($0.output.1)!, String($0.output.2)) }
        #expect(keys.count == 1 && keys.first! == (503, "/_errors/unavailable.json"))
    }

    @Test func everyServerSendsTheSecurityHeaders() throws {
        let config = try Self.text("nginx.conf")
        let servers = config.matches(of: #/server \{/#).count
        #expect(servers == 3)  // the plain one, the TLS one and port 80 under TLS (both commented)
        for header in [
            #"add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" always;"#,
            "add_header X-Content-Type-Options nosniff always;", "add_header X-Frame-Options DENY always;",
            "add_header Referrer-Policy no-referrer always;", "add_header X-Request-Id $request_id always;",
        ] {
            #expect(config.components(separatedBy: header).count - 1 == servers, "\(header)")
        }
        #expect(config.contains(#"fastcgi_param HTTP_PROXY         "";"#))
    }
}
