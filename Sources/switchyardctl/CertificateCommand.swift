import ArgumentParser
import Domain
import OpenSSL
import Store

/// `switchyardctl cert add`: a TLS client certificate that authenticates as a principal.
struct CertificateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Register TLS client certificates.", subcommands: [Add.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Map a client certificate (PEM) to a principal.",
            discussion: """
                nginx must verify the certificate against its ssl_client_certificate CA; Switchyard then looks it up \
                by the SHA-256 of its DER encoding.
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The principal's name.") var name: String
        @Argument(help: "The certificate, a PEM file.") var file: String
        @Option(name: .long, help: "What the certificate is for.") var description = ""

        func run() throws {
            let config = try loadConfiguration(global)
            guard let pem = TextFile.read(file), let certificate = try? Certificate(pem: pem) else {
                StandardError.write("\(file) is not a readable PEM certificate")
                throw ExitCode(66)
            }
            let fingerprint = Hex.encode(certificate.sha256Fingerprint)
            let connection = openConnection(config)
            try auditedChange(
                connection, command: "cert add", event: "certificate.registered",
                detail: [("user", name), ("fingerprint", fingerprint)]
            ) {
                guard try PrincipalStore(connection: connection).registerCertificate(
                    fingerprint: certificate.sha256Fingerprint, principalName: name, subject: certificate.subject,
                    notAfter: Timestamp(seconds: certificate.notAfter), description: description)
                else { throw CommandFailure.notFound("no principal \(name)") }
            }
            print("certificate \(fingerprint) (\(certificate.subject)) now authenticates \(name)")
        }
    }
}
