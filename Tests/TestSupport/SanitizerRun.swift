import Foundation

/// Whether this process runs under a sanitizer (scripts/sanitize.sh sets
/// ASAN_OPTIONS or TSAN_OPTIONS for the tests and every process they start).
public enum SanitizerRun {
    public static let isActive = ["ASAN_OPTIONS", "TSAN_OPTIONS"].contains { ProcessInfo.processInfo.environment[$0] != nil }
}
