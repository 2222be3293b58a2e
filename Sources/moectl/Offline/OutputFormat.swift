import Foundation

/// Prints a value as one line of JSON (sorted keys, so scripts and diffs see
/// a stable shape).
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}

/// Writes to standard error, for progress and diagnostics that must not mix
/// with the text or JSON on standard output.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Text as it goes to a terminal: flushed at once so streamed tokens appear
/// as they are generated.
func writeStreamed(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
