import ArgumentParser
import Domain
import Jobs
import OpenSSL
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
                back with --expect-head to also catch rows removed from the end of the chain. After rows were \
                archived and deleted (README, Retention), pass the last deleted row's SEQ:HASH with --from.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "SEQ:HASH recorded earlier.") var expectHead: String?
        @Option(name: .long, help: "SEQ:HASH of the last archived (deleted) row: check the chain from the next one.")
        var from: String?

        /// Reads `SEQ:HASH` (64 hex digits), or exits 64 naming the option.
        private func link(_ text: String, option: String) throws -> (seq: Int64, hash: String) {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let seq = Int64(parts[0]), seq >= 0, Hex.decode(String(parts[1]))?.count == 32 else {
                StandardError.write("\(option) must be SEQ:HASH (64 hex digits)")
                throw ExitCode(64)
            }
            return (seq, String(parts[1]))
        }

        func run() throws {
            let config = try loadConfiguration(global)
            let head = try expectHead.map { try link($0, option: "--expect-head") }
            let start = try from.map { try link($0, option: "--from") }
            let connection = openConnection(config)
            let report: AuditChain.Report
            do {
                report = try AuditChain(connection: connection).verify(
                    startingAfter: start.map { ($0.seq, Hex.decode($0.hash) ?? []) }, expectedHead: head)
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
