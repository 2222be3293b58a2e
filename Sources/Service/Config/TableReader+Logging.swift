import MoeLogging

extension TableReader {
    /// `log_level`: one of swift-log's levels, by name.
    func logLevel(_ e: TOMLEntry) throws -> String {
        let text = try nonEmptyString(e)
        guard MoeLog.parseLevel(text) != nil else {
            throw error(e, "expected one of trace, debug, info, notice, warning, error, critical")
        }
        return text.lowercased()
    }
}
