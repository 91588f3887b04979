import ArgumentParser
import Domain
import Jobs
import Postgres

/// `switchyardctl audit`: the tamper-evident trail.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Seal and verify the audit trail.", subcommands: [Verify.self, Seal.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every link of the audit hash chain and report the first broken one (exit 65).",
            discussion: """
                Prints the head (last sealed seq and hash); record it somewhere outside the database and pass it \
                back with --expect-head to also catch rows removed from the end of the chain.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "SEQ:HASH recorded earlier.") var expectHead: String?

        func run() throws {
            let config = try loadConfiguration(global)
            var head: (Int64, String)?
            if let expectHead {
                let parts = expectHead.split(separator: ":")
                guard parts.count == 2, let seq = Int64(parts[0]), parts[1].count == 64 else {
                    StandardError.write("--expect-head must be SEQ:HASH (64 hex digits)")
                    throw ExitCode(64)
                }
                head = (seq, String(parts[1]))
            }
            let connection = openConnection(config)
            let report: AuditChain.Report
            do {
                report = try AuditChain(connection: connection).verify(expectedHead: head)
            } catch let error as DatabaseError {
                StandardError.write("switchyardctl audit verify: \(error.debugDescription)")
                throw ExitCode(error.isConnectionFailure ? 69 : 70)
            }
            if let broken = report.firstBreak {
                print("audit chain BROKEN after \(report.checked) good rows: \(broken)")
                throw ExitCode(65)
            }
            print("audit chain intact: \(report.checked) sealed rows, head \(report.headSeq):\(report.headHash), \(report.unsealed) not yet sealed")
        }
    }

    struct Seal: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal every committed audit row into the chain now (switchyard-sweeper does this every minute).")

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let config = try loadConfiguration(global)
            let connection = openConnection(config)
            do {
                let sealed = try AuditChain(connection: connection).sealAll()
                print("switchyardctl audit seal: sealed=\(sealed)")
            } catch let error as DatabaseError {
                StandardError.write("switchyardctl audit seal: \(error.debugDescription)")
                throw ExitCode(error.isConnectionFailure ? 69 : 70)
            }
        }
    }
}
