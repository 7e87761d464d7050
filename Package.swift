// swift-tools-version: 6.1
// dbrender — a Stable Diffusion 1.x sampling daemon and DreamBooth trainer, on the CPU with OpenBLAS.
// The targets follow ../shared/DESIGN.md: system libraries → Tensor → Weights → Models → … → executables.
import PackageDescription

/// Numeric Swift is compiled for the machines we run on (AVX2 + FMA + F16C): SIMD8<Float> then lowers
/// to single ymm instructions. Debug builds keep the defaults so that a debugger still works.
let numericSwiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(configuration: .release)),
]

let package = Package(
    name: "dbrender",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dbrenderd", targets: ["dbrenderd"]),
        .executable(name: "dbrender", targets: ["dbrender"]),
        .executable(name: "dbtrain", targets: ["dbtrain"]),
        .executable(name: "dbbench", targets: ["dbbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // MARK: System libraries (Debian -dev packages, found by pkg-config)
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CImageCodecs", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev", "libwebp-dev", "libjpeg62-turbo-dev"])]),
        // Data-parallel training across processes (`mpirun -np N dbtrain`).
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),

        // MARK: Small C kernels that need x86 intrinsics (F16C conversion)
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-mavx2", "-mfma", "-mf16c"])]),

        // MARK: Libraries
        .target(
            name: "Tensor", dependencies: ["CBLAS", "CKernels"],
            swiftSettings: numericSwiftSettings),
        // Weights parses untrusted files: it keeps Swift's overflow and bounds checks (-O, not -Ounchecked).
        .target(name: "Weights", dependencies: ["Tensor", "CKernels", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "Models", dependencies: ["Tensor", "Weights"],
            resources: [.copy("Resources/clip-vocabulary")],
            swiftSettings: numericSwiftSettings),
        .target(name: "ImageIO", dependencies: ["CImageCodecs"]),
        .target(
            name: "Sampling", dependencies: ["Tensor", "Weights", "Models", "ImageIO"],
            swiftSettings: numericSwiftSettings),

        // The DreamBooth trainer's parts: optimizer, schedules, configuration, logs (TensorBoard, JSONL).
        .target(
            name: "Training",
            dependencies: ["Tensor", "Weights", "Models", "Sampling", "ImageIO", .product(name: "Yams", package: "Yams")],
            swiftSettings: numericSwiftSettings),

        .target(name: "RenderAPI"),
        // The client's logic (HTTP over a Unix socket, prompt files, output names), testable apart from its CLI.
        .target(name: "RenderClient", dependencies: ["RenderAPI"]),
        .target(
            name: "RenderServer",
            dependencies: [
                "Sampling", "ImageIO", "RenderAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),

        // MARK: Executables
        .executableTarget(
            name: "dbrenderd",
            dependencies: ["RenderServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "UnixSignals", package: "swift-service-lifecycle")]),
        // The client links neither models nor tensors: the API types and a socket, nothing else.
        .executableTarget(
            name: "dbrender",
            dependencies: ["RenderClient", "RenderAPI", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "dbtrain",
            dependencies: ["Tensor", "Weights", "Models", "Sampling", "Training", "CMPI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: numericSwiftSettings),

        // MARK: Fuzz target for the safetensors header parser (see Fuzz/README.md)
        .executableTarget(
            name: "safetensors-fuzz", dependencies: ["Weights"], path: "Fuzz/SafetensorsHeaderFuzzer",
            exclude: ["safetensors.dict"],
            // `@_extern(c)` declares libFuzzer's driver, used only in -DFUZZING builds.
            swiftSettings: [.enableExperimentalFeature("Extern")]),

        // MARK: Benchmarks (release builds only: `swift run -c release dbbench`)
        .executableTarget(
            name: "dbbench", dependencies: ["Tensor", "Weights", "Models", "Sampling", "Training", "CBLAS"], path: "benchmarks/dbbench",
            swiftSettings: numericSwiftSettings),

        // MARK: Tests
        .target(
            name: "TestSupport", dependencies: ["Tensor", "Weights"], path: "Tests/Support"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TestSupport"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "TestSupport"]),
        .testTarget(name: "SamplingTests", dependencies: ["Sampling", "TestSupport"]),
        .testTarget(name: "RenderServerTests", dependencies: ["RenderServer", "RenderAPI", "ImageIO", "TestSupport"]),
        .testTarget(name: "ClientTests", dependencies: ["RenderClient", "RenderAPI"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"]),
    ]
)
