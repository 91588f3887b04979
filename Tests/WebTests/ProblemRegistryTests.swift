import Foundation
import Testing
import Web

/// The registry of problem types against what stands for it outside Swift: `Problem.Kind.all` and the declarations
/// in `Problem.swift`.
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
}
