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

    /// The loaded model, or nil (the test then ends early) when the model is
    /// not installed on a developer's machine. In CI a missing model is a failure.
    public static func require<T>(_ model: T?) throws -> T? {
        if let model { return model }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("the default model is not installed: run scripts/install-deps.sh")
        }
        return nil
    }
}
