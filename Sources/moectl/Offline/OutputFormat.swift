import Foundation

/// Prints a value as one line of JSON (sorted keys, so scripts and diffs see
/// a stable shape). No raw control character reaches the terminal: C0 is
/// escaped by the encoder, DEL and C1 here; infinities and NaN, which JSON
/// lacks, are the strings "inf", "-inf", "nan".
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try encoder.encode(value)
    print(TerminalText.escapingJSONControls(String(decoding: data, as: UTF8.self)))
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
