// swift-tools-version: 6.2
import PackageDescription

/// Every target of ours: `import` lines are the whole truth about what a file uses
/// (`MemberImportVisibility`: a member from a module the file does not import is an error), a plain
/// `import` is internal (`InternalImportsByDefault`: a module whose types a public declaration or
/// conformance shows is a `public import`, `package import` for a `package` one, and the compiler
/// warns about one that need not be), and a warning fails the build. The dependencies declared
/// below equal the imports (`scripts/check-imports`).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "Bosun",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "bosund", targets: ["bosund"]),
        .executable(name: "bosun", targets: ["bosun"]),
        .executable(name: "bosun-host", targets: ["bosun-host"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "CLibSSH", pkgConfig: "libssh", providers: [.apt(["libssh-dev"])]),
        .target(name: "BosunCore", swiftSettings: swiftSettings),
        .target(
            name: "BosunConfig",
            dependencies: ["BosunCore", "BosunPolicy"],
            swiftSettings: swiftSettings
        ),
        .target(name: "BosunPolicy", dependencies: ["BosunCore"], swiftSettings: swiftSettings),
        .target(
            name: "BosunStore",
            dependencies: [
                "BosunCore", .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for listings that read column bytes without copying them.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BosunSSH",
            dependencies: ["BosunCore", "CLibSSH", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(name: "BosunHostAgent", dependencies: ["BosunCore", "BosunPolicy"], swiftSettings: swiftSettings),
        .target(
            name: "BosunSupervisor",
            dependencies: [
                "BosunCore", "BosunConfig", "BosunPolicy", "BosunStore", "BosunSSH",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Terminal text with no dependencies: escaping, widths, tables, the line editor (shared by
        // the front door and the local `bosun shell`).
        .target(name: "BosunTerminal", swiftSettings: swiftSettings),
        .target(
            name: "BosunShell",
            dependencies: [
                "BosunCore", "BosunPolicy", "BosunSupervisor", "BosunTerminal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The local client of the control socket: requests, streamed answers, `bosun shell` on a TTY.
        .target(name: "BosunClient", dependencies: ["BosunCore", "BosunTerminal"], swiftSettings: swiftSettings),
        // The daemon's wiring: configuration, store, fleet, control socket, front door.
        .target(
            name: "BosunDaemon",
            dependencies: [
                "BosunCore", "BosunConfig", "BosunSSH", "BosunStore", "BosunSupervisor", "BosunShell", "BosunTerminal",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bosund",
            dependencies: [
                "BosunCore", "BosunDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bosun",
            dependencies: [
                "BosunClient", "BosunCore", "BosunConfig", "BosunPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bosun-host",
            // No ArgumentParser: `HostCommandLine` reads the command line (issue 10: size, hook start-up).
            dependencies: ["BosunCore", "BosunHostAgent"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BosunCoreTests", dependencies: ["BosunCore", "BosunTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BosunConfigTests", dependencies: ["BosunConfig", "BosunCore"], exclude: ["TOMLCorpus"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BosunPolicyTests", dependencies: ["BosunPolicy", "BosunConfig", "BosunCore", "BosunTestSupport"],
            resources: [.copy("Corpus")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BosunSSHTests", dependencies: ["BosunSSH", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BosunHostAgentTests", dependencies: ["BosunHostAgent", "BosunCore", "BosunPolicy"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "bosun-fuzz",
            dependencies: [
                "BosunCore", "BosunPolicy", "BosunConfig", "BosunShell", "BosunStore", "BosunSupervisor",
                "BosunTerminal",
                .product(name: "Logging", package: "swift-log"),
            ], path: "Fuzz/BosunFuzz",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "StoreBenchmark", dependencies: ["BosunCore", "BosunStore"], path: "Benchmarks/StoreBenchmark",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "DecisionBenchmark",
            dependencies: [
                "BosunCore", "BosunConfig", "BosunPolicy", "BosunStore", "BosunSupervisor",
                .product(name: "Logging", package: "swift-log"),
            ], path: "Benchmarks/DecisionBenchmark", swiftSettings: swiftSettings),
        .executableTarget(
            name: "PolicyBenchmark", dependencies: ["BosunPolicy", "BosunConfig"], path: "Benchmarks/PolicyBenchmark",
            swiftSettings: swiftSettings),
        .target(
            // Fixtures shared by the in-process test targets (not shipped in any product).
            name: "BosunTestSupport",
            dependencies: [
                "BosunCore", "BosunConfig", "BosunPolicy", "BosunStore", "BosunSupervisor", "BosunShell",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/BosunTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BosunStoreTests",
            dependencies: ["BosunCore", "BosunConfig", "BosunStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BosunShellTests",
            dependencies: [
                "BosunCore", "BosunConfig", "BosunPolicy", "BosunStore", "BosunSupervisor", "BosunShell",
                "BosunTerminal", "BosunTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BosunSupervisorTests",
            dependencies: [
                "BosunCore", "BosunConfig", "BosunPolicy", "BosunStore", "BosunSupervisor", "BosunShell",
                "BosunTerminal", "BosunTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            // Runs the real binaries; imports none of our modules.
            name: "BosunIntegrationTests",
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
