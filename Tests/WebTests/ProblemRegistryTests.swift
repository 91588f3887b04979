import Foundation
import Testing
import Web

/// The registry of problem types against what stands for it outside Swift: `Problem.Kind.all` and the declarations
/// in `Problem.swift`; and the pages nginx serves with the headers it sends.
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

    /// The site's Content-Security-Policy allows no inline script or style.
    @Test func pagesLoadOnlyFiles() throws {
        let pages = ["www/index.html"]
        for path in pages {
            let page = try Self.text(path)
            #expect(!page.contains("<style") && !page.contains(" style="), "\(path)")
            #expect(page.firstMatch(of: #/ on[a-z]+=/#) == nil, "\(path)")
            #expect(
                page.matches(of: #/<script/#).count == page.matches(of: #/<script src="[^"]+"><\/script>/#).count,
                "\(path)")
        }
    }

    @Test func everyServerSendsTheSecurityHeaders() throws {
        let config = try Self.text("nginx.conf")
        let servers = config.matches(of: #/server \{/#).count
        #expect(servers == 2)  // the plain one and the TLS one (commented)
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
