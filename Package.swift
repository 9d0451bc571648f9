// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Kiln", targets: ["Kiln"]),
        .executable(name: "kiln", targets: ["kiln"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Debian's libtcc-dev: static libtcc.a and libtcc.h.
        .systemLibrary(name: "CTCC", path: "Sources/CTCC"),
        // The C that Swift cannot be: trap entry shim, signals, stacks, and the prelude text
        // that every generated module includes.
        .target(
            name: "KilnRuntimeC",
            path: "runtime-c",
            sources: ["src"],
            publicHeadersPath: "include",
            cSettings: [.unsafeFlags(["-O2", "-fno-omit-frame-pointer"])],
            linkerSettings: [.linkedLibrary("tcc"), .linkedLibrary("dl"), .linkedLibrary("m"), .linkedLibrary("pthread")]
        ),
        .target(
            name: "Kiln",
            dependencies: [
                "CTCC", "KilnRuntimeC",
                .product(name: "WasmParser", package: "WasmKit"),
                .product(name: "WAT", package: "WasmKit"),
                .product(name: "WASI", package: "WasmKit"),
            ]
            // No -Ounchecked: the decoder and validator read untrusted bytes, and Swift's bounds
            // and overflow checks are what turn a bug there into an error instead of a crash.
        ),
        .executableTarget(
            name: "kiln",
            dependencies: ["Kiln", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Benchmark driver (benchmarks/run.py runs it): one measurement per process. WasmKit's
        // interpreter is a comparison point here only, never a dependency of the Kiln library.
        .executableTarget(
            name: "kiln-bench",
            dependencies: ["Kiln", .product(name: "WasmKit", package: "WasmKit")],
            path: "benchmarks/harness"
        ),
        .testTarget(
            name: "KilnTests",
            dependencies: ["Kiln", .product(name: "WAT", package: "WasmKit")],
            exclude: ["wasi-programs"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
