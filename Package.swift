// swift-tools-version: 6.0
import Foundation
import PackageDescription

// Dependencies point one way:
//   GenerationCore (sampling, stop rules, logprobs; no model math)
//   GGUF → Kernels (+ CKernels) → Tokenizer / Inference (+ GenerationCore) → Plugins
//   CMoePlugin → PluginHost;  GenerationCore + PluginHost + MoeAPI → Service → moed
//   Inference + MoeClient → moectl
// moed links no kernels: the model math lives in the plugins it dlopens.
// Pure parts (GGUF, Kernels, Tokenizer, Inference, GenerationCore) import no sockets and no event loop.

// The C kernels are always optimised: a debug build of the tests would
// otherwise run the matrix products at -O0, and SIMD paths are chosen per
// function with target attributes, so no ISA flag leaks into the build.
let kernelCFlags: [CSetting] = [.unsafeFlags(["-O2", "-fno-math-errno"])]

let package = Package(
    name: "moed",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "moectl", targets: ["moectl"]),
        .executable(name: "moed", targets: ["moed"]),
        // Backend plugins and loader test fixtures, dlopen'ed as libmoe_<name>.so.
        .library(name: "moe_toy", type: .dynamic, targets: ["MoeToyPlugin"]),
        .library(name: "moe_wrongabi", type: .dynamic, targets: ["MoeWrongABIFixture"]),
        .library(name: "moe_refuses", type: .dynamic, targets: ["MoeRefusesFixture"]),
        .library(name: "moe_noinit", type: .dynamic, targets: ["MoeNoInitFixture"]),
        .library(name: "moe_dense", type: .dynamic, targets: ["MoeDensePlugin"]),
        .library(name: "moe_moe", type: .dynamic, targets: ["MoeMoEPlugin"]),
        .library(name: "moe_remote", type: .dynamic, targets: ["MoeRemotePlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Leveled logs (moed and moegate).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // GGUF files: reading (memory-mapped, hostile input) and writing.
        .target(name: "GGUF"),
        // Quantised tensor kernels: scalar references and SIMD paths in C,
        // chosen at run time; the Swift side holds the per-type table and threads.
        .target(name: "CKernels", cSettings: kernelCFlags),
        .target(name: "Kernels", dependencies: ["GGUF", "CKernels"]),
        // Tokenizers and chat templates, built from GGUF metadata.
        .target(name: "Tokenizer", dependencies: ["GGUF", "Grammar"]),
        // Grammars for structured output: GBNF, JSON Schema, token masks. Pure; no model math.
        .target(name: "Grammar"),
        .testTarget(name: "GrammarTests", dependencies: ["Grammar", "TestSupport"]),
        // One generation core for moectl run and the daemon: sampling and its
        // defaults, stop rules, UTF-8 hold-back, finish reasons, logprobs, context shift, grammars.
        .target(name: "GenerationCore", dependencies: ["Grammar"]),
        .testTarget(name: "GenerationCoreTests", dependencies: ["GenerationCore", "TestSupport"]),
        // Model math: forward passes, KV cache, the in-process generation loop.
        .target(name: "Inference", dependencies: ["GGUF", "Kernels", "Tokenizer", "GenerationCore", "Grammar"]),
        // Offline model surgery: sparse upcycling of a dense GGUF into a Mixtral-layout MoE.
        .target(name: "Upcycle", dependencies: ["GGUF", "Kernels"]),
        // Benchmark driver for bench/run.sh (side by side with llama.cpp).
        .executableTarget(name: "moebench", dependencies: ["Inference", "GenerationCore", "Kernels", "GGUF", "MoeClient", "MoeAPI"], path: "bench/moebench"),
        // The standing fuzz campaign (tools/fuzz/run.sh): in-process surfaces and their driver.
        .target(name: "FuzzTargets", dependencies: ["GGUF", "Inference", "GenerationCore", "Tokenizer", "Service", "TestSupport"],
                path: "tools/fuzz/FuzzTargets"),
        .executableTarget(name: "moefuzz", dependencies: ["FuzzTargets"], path: "tools/fuzz/moefuzz"),
        .executableTarget(name: "moectl", dependencies: [
            "Inference", "GenerationCore", "GGUF", "Kernels", "Tokenizer", "MoeClient", "MoeAPI", "Upcycle",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Service: plugin ABI, loader, plugins (the toy one tests the daemon alone).
        .target(name: "CMoePlugin"),
        .target(name: "PluginHost", dependencies: ["CMoePlugin", "GenerationCore"]),
        .target(name: "MoeToyPlugin", dependencies: ["CMoePlugin"], path: "Plugins/Toy"),
        .target(name: "MoePluginKit", dependencies: ["CMoePlugin"], path: "Plugins/Kit"),
        // The engine behind the ABI, shared by the dense and MoE plugins (each links its own copy).
        .target(name: "MoeEngineBackend", dependencies: ["CMoePlugin", "MoePluginKit", "Inference", "Kernels", "GGUF", "Tokenizer"],
                path: "Plugins/Engine"),
        .target(name: "MoeDensePlugin", dependencies: ["CMoePlugin", "MoePluginKit", "MoeEngineBackend", "Inference"],
                path: "Plugins/Dense"),
        .target(name: "MoeMoEPlugin", dependencies: ["CMoePlugin", "MoePluginKit", "MoeEngineBackend", "Inference"],
                path: "Plugins/MoE"),
        // Remote tiers: an OpenAI-compatible upstream over plain HTTP/1.1 on
        // POSIX sockets (docs/scaling.md says why not URLSession). The
        // HTTP, SSE and OpenAI readers are their own target, unit-tested.
        .target(name: "MoeRemoteHTTP", dependencies: ["Grammar", "GenerationCore"], path: "Plugins/Remote/HTTP"),
        .target(name: "MoeRemotePlugin", dependencies: ["CMoePlugin", "MoePluginKit", "MoeRemoteHTTP"],
                path: "Plugins/Remote/Plugin"),
        .testTarget(name: "RemoteHTTPTests", dependencies: ["MoeRemoteHTTP"]),
        .target(name: "MoeWrongABIFixture", dependencies: ["CMoePlugin"], path: "Plugins/Fixtures/WrongABI", publicHeadersPath: "."),
        .target(name: "MoeRefusesFixture", dependencies: ["CMoePlugin"], path: "Plugins/Fixtures/Refuses", publicHeadersPath: "."),
        .target(name: "MoeNoInitFixture", dependencies: ["CMoePlugin"], path: "Plugins/Fixtures/NoInit", publicHeadersPath: "."),
        .testTarget(name: "PluginHostTests", dependencies: ["PluginHost", "CMoePlugin", "TestSupport"]),
        // Service: system libraries, the protobuf API (generated C + the one Swift layer over it).
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "MoeProtoC", dependencies: ["CProtobufC"]),
        .target(name: "MoeAPI", dependencies: ["MoeProtoC"]),
        .testTarget(name: "MoeAPITests", dependencies: ["MoeAPI"]),
        // Turns a SIGBUS from a truncated mapped model file into a counted fault (zero page).
        .target(name: "CFaultGuard"),
        .testTarget(name: "CFaultGuardTests", dependencies: ["CFaultGuard"]),
        // Leveled key=value logs on stderr, with syslog priorities under journald (moed and moegate).
        .target(name: "MoeLogging", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(name: "Service", dependencies: ["CLibUV", "CSystemd", "MoeAPI", "PluginHost", "GenerationCore", "Grammar", "CFaultGuard",
                                                "MoeLogging", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "moed", dependencies: ["Service"]),
        .target(name: "MoeClient", dependencies: ["MoeAPI"]),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "MoeAPI", "PluginHost", "MoeClient", "GenerationCore", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MoeAPI", "MoeClient", "TestSupport", "GGUF"], exclude: ["Python"]),

        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TestSupport"]),
        // Saved fuzz inputs (crashes once found, hostile inputs kept), replayed: each must give a clean error.
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"], exclude: ["gguf", "config"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CKernels", "GGUF", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF"], exclude: ["ChatTemplates", "Data"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "GenerationCore", "GGUF", "Kernels", "Tokenizer", "TestSupport", "Upcycle"],
                    exclude: ["Golden"]),
        // Tiny models made in code, shared by every test target that needs one.
        .target(name: "TestSupport", dependencies: ["GGUF"], path: "Tests/TestSupport"),
    ],
    swiftLanguageModes: [.v5]
)

// moegate: OpenAI-compatible HTTP, /metrics and /healthz in front of moed's
// socket, on Hummingbird. The sanitizer runs (scripts/sanitize.sh) set
// MOED_NO_GATEWAY=1 to leave it out: they check the daemon, and building
// SwiftNIO twice more under ASan and TSan would double CI's time.
if ProcessInfo.processInfo.environment["MOED_NO_GATEWAY"] == nil {
    package.products.append(.executable(name: "moegate", targets: ["moegate"]))
    package.dependencies.append(.package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"))
    package.targets += [
        .target(name: "Gateway", dependencies: [
            "MoeClient", "MoeAPI", "MoeLogging", "Grammar", "GenerationCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "moegate", dependencies: [
            "Gateway", "MoeLogging", .product(name: "Logging", package: "swift-log"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "MoeAPI", "MoeLogging"]),
    ]
}
