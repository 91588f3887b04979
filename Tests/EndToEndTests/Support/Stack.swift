import Foundation
import Glibc
import Testing

/// The stack that Tests/harness/with-stack.sh started, described by its TEST_* variables.
enum Stack {
    static let environment = ProcessInfo.processInfo.environment

    /// nginx's plain-HTTP address, or nil when the tests run without the harness.
    static let baseURL = environment["TEST_BASE_URL"]

    /// True when the harness is running.
    static var isAvailable: Bool { baseURL != nil }

    /// True when a missing stack must fail the run instead of skipping these suites (CI and scripts/test).
    static var isRequired: Bool { environment["CI"] != nil || environment["TEST_REQUIRE_STACK"] != nil }

    static var client: HTTPClient { HTTPClient(baseURL: baseURL!) }

    /// Runs a shell command of the harness (stopping or starting Postgres) and returns its exit status.
    @discardableResult
    static func shell(_ command: String) throws -> Int32 {
        try run("/bin/sh", ["-c", command]).status
    }

    /// Runs a program to completion, with `input` (if any) as its standard input, and returns its exit status and
    /// output.
    ///
    /// Uses posix_spawn and waitpid rather than Foundation's `Process`, whose `waitUntilExit` never returns when
    /// the child leaves a daemon behind (pg_ctl start does).
    static func run(
        _ executable: String, _ arguments: [String], input: String? = nil, environment extra: [String: String] = [:]
    ) throws -> (status: Int32, output: String, error: String) {
        let outputPath = NSTemporaryDirectory() + "switchyard-e2e-\(UUID().uuidString)"
        defer {
            unlink(outputPath + ".in")
            unlink(outputPath + ".out")
            unlink(outputPath + ".err")
        }
        if let input {
            guard FileManager.default.createFile(
                atPath: outputPath + ".in", contents: Data(input.utf8), attributes: [.posixPermissions: 0o600])
            else { throw POSIXError(.EIO) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input == nil ? "/dev/null" : outputPath + ".in", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, outputPath + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = Self.environment.merging(extra) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            environment.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environment)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let output = (try? String(contentsOfFile: outputPath + ".out", encoding: .utf8)) ?? ""
        let errorText = (try? String(contentsOfFile: outputPath + ".err", encoding: .utf8)) ?? ""
        return (exitStatus, output, errorText)
    }

    /// PIDs of the responder processes multiwatch supervises now.
    static func responderPIDs() throws -> Set<Int32> {
        let parent = environment["TEST_MULTIWATCH_PID"]!
        let result = try run("/usr/bin/pgrep", ["-P", parent])
        return Set(result.output.split(separator: "\n").compactMap { Int32($0) })
    }

    /// Polls `condition` until it holds or `seconds` pass; returns whether it held.
    static func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    /// Runs `body` on `count` threads at once and waits for all of them.
    static func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread.detachNewThread {
                body(index)
                group.leave()
            }
        }
        group.wait()
    }
}

/// Fails the run when the stack is required but absent, so a green run never means "tested nothing".
@Suite struct StackPresenceTests {
    @Test func stackIsPresentWhenRequired() {
        if Stack.isRequired {
            #expect(Stack.isAvailable, "TEST_BASE_URL is not set: run the end-to-end tests through scripts/test")
        }
    }
}
