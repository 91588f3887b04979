// swift-tools-version:6.1
// The targets are the layers; see README.md ("Architecture") for what each one may import.
import PackageDescription

let settings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The simulator's kernels are the hot loop of a circuit job; bounds checks there cost a third of the run time.
let computeSettings: [SwiftSetting] = settings + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "switchyard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "switchyard-fcgi", targets: ["switchyard-fcgi"]),
        .executable(name: "switchyardctl", targets: ["switchyardctl"]),
        .executable(name: "switchyard-sweeper", targets: ["switchyard-sweeper"]),
        .executable(name: "switchyard-scheduler", targets: ["switchyard-scheduler"]),
        .executable(name: "switchyard-simulator", targets: ["switchyard-simulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2")
    ],
    targets: [
        // C libraries from Debian.
        .systemLibrary(name: "CFastCGI", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Thin Swift wrappers over them.
        .target(name: "FastCGI", dependencies: ["CFastCGI"], swiftSettings: settings),
        .target(name: "Postgres", dependencies: ["CLibPQ"], swiftSettings: settings),
        .target(name: "OpenSSL", dependencies: ["CLibCrypto"], swiftSettings: settings),

        // Pure layers.
        .target(name: "Domain", swiftSettings: settings),
        .target(name: "Web", dependencies: ["Domain"], swiftSettings: settings),
        .target(name: "Circuits", swiftSettings: computeSettings),

        // The only SQL, the request pipeline, the batch logic.
        .target(name: "Store", dependencies: ["Postgres", "Domain"], swiftSettings: settings),
        .target(
            name: "API", dependencies: ["Web", "Store", "Postgres", "OpenSSL", "FastCGI", "Domain", "Circuits"],
            swiftSettings: settings),
        .target(name: "Jobs", dependencies: ["Store", "Postgres", "Domain", "OpenSSL", "Circuits"], swiftSettings: settings),

        // Thin executables.
        .executableTarget(name: "switchyard-fcgi", dependencies: ["API", argumentParser], swiftSettings: settings),
        .executableTarget(
            name: "switchyardctl", dependencies: ["API", "Jobs", "Store", "Postgres", "OpenSSL", "Domain", argumentParser],
            swiftSettings: settings),

        .executableTarget(
            name: "switchyard-sweeper", dependencies: ["Jobs", "Postgres", "Domain", argumentParser], swiftSettings: settings),

        .executableTarget(
            name: "switchyard-scheduler", dependencies: ["Jobs", "Postgres", "Domain", argumentParser],
            swiftSettings: settings),

        .executableTarget(
            name: "switchyard-simulator", dependencies: ["Jobs", "Circuits", "Postgres", "Domain", argumentParser],
            swiftSettings: settings),

        // Unit tests: no services.
        .testTarget(name: "PostgresTests", dependencies: ["Postgres"], swiftSettings: settings),
        .testTarget(name: "OpenSSLTests", dependencies: ["OpenSSL"], swiftSettings: settings),
        .testTarget(name: "DomainTests", dependencies: ["Domain"], swiftSettings: settings),
        .testTarget(name: "WebTests", dependencies: ["Web", "Domain"], swiftSettings: settings),
        .testTarget(name: "APITests", dependencies: ["API", "Web", "Domain", "FastCGI", "Postgres", "Store"], swiftSettings: settings),
        .testTarget(name: "CircuitsTests", dependencies: ["Circuits"], swiftSettings: settings),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Store", "Domain"], swiftSettings: settings),

        // Against the real stack that Tests/harness/with-stack.sh starts.
        .testTarget(
            name: "IntegrationTests", dependencies: ["API", "Jobs", "Store", "Postgres", "Web", "Domain", "OpenSSL"],
            swiftSettings: settings),
        .testTarget(name: "EndToEndTests", dependencies: ["OpenSSL"], swiftSettings: settings),
    ]
)
