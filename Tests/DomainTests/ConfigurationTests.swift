import Domain
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsApplyWithoutFileOrEnvironment() throws {
        let config = try Configuration.load(fileText: nil, environment: [:])
        #expect(config.workerThreads == 4)
        #expect(config.databaseURI == "postgresql:///switchyard")
        #expect(config.maxBodyBytes == 16 * 1024 * 1024)
    }

    @Test func environmentOverridesTheFile() throws {
        let file = """
            # comment
            worker-threads = 8
            db-uri = "postgresql:///from_file"
            """
        let config = try Configuration.load(fileText: file, environment: ["SWITCHYARD_WORKER_THREADS": "2"])
        #expect(config.workerThreads == 2)
        #expect(config.databaseURI == "postgresql:///from_file")
    }

    @Test func everyProblemIsReportedAtOnceNamingItsSetting() {
        let file = """
            worker-threads = lots
            max-request = 5
            no equals sign here
            """
        let environment = ["SWITCHYARD_MAX_BODY_BYTES": "-1", "SWITCHYARD_LOG_REQUESTS": "maybe"]
        #expect {
            try Configuration.load(fileText: file, fileName: "sy.conf", environment: environment)
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            let text = error.description
            return error.problems.count == 5 && text.contains("worker-threads (sy.conf:1)")
                && text.contains("unknown setting 'max-request'") && text.contains("sy.conf:3: expected 'key = value'")
                && text.contains("SWITCHYARD_MAX_BODY_BYTES") && text.contains("SWITCHYARD_LOG_REQUESTS")
        }
    }

    @Test func badDatabaseURIIsRefused() {
        #expect(throws: ConfigError.self) {
            try Configuration.load(fileText: nil, environment: ["SWITCHYARD_DB_URI": "not a uri"])
        }
    }

    @Test func printedConfigurationRedactsThePassword() throws {
        let config = try Configuration.load(
            fileText: nil, environment: ["SWITCHYARD_DB_URI": "postgresql://app:s3cret@db.example/switchyard"])
        #expect(config.printable.contains("db-uri = postgresql://app:<redacted>@db.example/switchyard"))
        #expect(!config.printable.contains("s3cret"))
        #expect(Configuration.redactingPassword("host=db password=s3cret") == "host=db password=<redacted>")
    }

    @Test(arguments: [
        ("postgresql:///switchyard?host=/run&password=s3cret&user=app", "postgresql:///switchyard?host=/run&password=<redacted>&user=app"),
        ("postgresql://app:s3cret@db/switchyard?sslmode=require", "postgresql://app:<redacted>@db/switchyard?sslmode=require"),
        ("postgresql://app@db/switchyard", "postgresql://app@db/switchyard"),
        ("host=db password = 's3 cr\\'et' user=app", "host=db password = <redacted> user=app"),
        ("password='s3 cret'", "password=<redacted>"),
        ("dbname=switchyard", "dbname=switchyard"),
    ])
    func everyFormOfThePasswordIsRedacted(conninfo: String, printed: String) {
        #expect(Configuration.redactingPassword(conninfo) == printed)
        #expect(!Configuration.redactingPassword(conninfo).contains("s3"))
    }

    @Test func connectionStringCarriesNameAndTimeouts() throws {
        let config = try Configuration.load(fileText: nil, environment: ["SWITCHYARD_DB_URI": "postgresql:///sy?host=/tmp"])
        #expect(
            config.connectionString(applicationName: "switchyard-fcgi")
                == "postgresql:///sy?host=/tmp&application_name=switchyard-fcgi&connect_timeout=3"
                + "&keepalives_idle=10&keepalives_interval=5&keepalives_count=3&tcp_user_timeout=25000"
                + "&options=-c%20statement_timeout%3D5000")
        let keyValue = try Configuration.load(fileText: nil, environment: ["SWITCHYARD_DB_URI": "dbname=sy"])
        #expect(
            keyValue.connectionString(applicationName: "x")
                == "dbname=sy application_name=x connect_timeout=3"
                + " keepalives_idle=10 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=25000"
                + " options='-c statement_timeout=5000'")
    }
}

@Suite struct ConfigurationDefaultsTests {
    @Test func loginLimitsHaveTheirDefaults() throws {
        let config = try Configuration.load(fileText: nil, environment: [:])
        #expect(config.loginAttemptsPerMinute == 10)
        #expect(config.loginAddressAttemptsPerMinute == 60)
        #expect(config.loginAddressAttemptsBurst == 20)
        #expect(config.printable.contains("login-address-attempts-burst = 20"))
    }
}
