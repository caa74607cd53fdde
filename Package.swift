// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
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
                "BosunCore", "BosunSupervisor", "BosunSSH", "BosunTerminal",
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
            dependencies: [
                "BosunCore", "BosunHostAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "BosunCoreTests", dependencies: ["BosunCore"], swiftSettings: swiftSettings),
        .testTarget(name: "BosunConfigTests", dependencies: ["BosunConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BosunPolicyTests", dependencies: ["BosunPolicy", "BosunConfig"], resources: [.copy("Corpus")],
            swiftSettings: swiftSettings),
        .testTarget(name: "BosunSSHTests", dependencies: ["BosunSSH"], swiftSettings: swiftSettings),
        .testTarget(name: "BosunHostAgentTests", dependencies: ["BosunHostAgent"], swiftSettings: swiftSettings),
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
            name: "PolicyBenchmark", dependencies: ["BosunPolicy", "BosunConfig"], path: "Benchmarks/PolicyBenchmark",
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BosunSupervisorTests",
            dependencies: ["BosunSupervisor", "BosunStore", "BosunShell", "BosunTerminal"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BosunIntegrationTests",
            dependencies: ["BosunCore"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
