import ArgumentParser

/// The administrator's command line: migrations, users, keys, tokens, certificates and the audit trail.
@main
struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyardctl",
        abstract: "Administer a Switchyard installation.",
        discussion: """
            Settings come from --config (or SWITCHYARD_CONFIG) and SWITCHYARD_* environment variables; db-uri \
            must name a role allowed to change what the command changes. Every change is written to the audit \
            trail (method CLI) in the same transaction.
            """,
        subcommands: [
            MigrateCommand.self, UserCommand.self, KeyCommand.self, TokenCommand.self, CertificateCommand.self,
            AuditCommand.self,
        ])
}

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "A configuration file of 'key = value' lines.")
    var config: String?
}
