import Foundation
import Testing

/// Where the tests find the default real model: `MOED_TEST_MODEL`, else
/// `models/` in the package (both filled by scripts/install-deps.sh).
public enum DefaultModel {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    public static var path: String? {
        let candidates = [ProcessInfo.processInfo.environment["MOED_TEST_MODEL"],
                          packageRoot + "/models/" + fileName].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The trait of every test that needs the real model: without it on a
    /// developer's machine the test is reported skipped, saying why, never
    /// passed. In CI it runs anyway, so a missing model fails its
    /// `#require(DefaultModel.path, DefaultModel.missing)`.
    public static var isInstalled: ConditionTrait {
        .enabled(if: path != nil || isCI, "needs \(fileName): set MOED_TEST_MODEL or run scripts/install-deps.sh")
    }

    /// What a test says when the model it requires is absent (CI only).
    public static let missing: Comment = "the default model is not installed: run scripts/install-deps.sh"
}

/// The second real model of the test set, a Qwen2 Q4_K_M file
/// (`scripts/fetch-qwen.sh`): `MOED_TEST_QWEN`, else `models/` in the
/// package. Tests that need it are reported skipped without it.
public enum QwenModel {
    public static let fileName = "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf"

    public static var path: String? {
        let candidates = [ProcessInfo.processInfo.environment["MOED_TEST_QWEN"],
                          DefaultModel.packageRoot + "/models/" + fileName].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    public static var isInstalled: ConditionTrait {
        .enabled(if: path != nil, "needs \(fileName): set MOED_TEST_QWEN or run scripts/fetch-qwen.sh")
    }
}
