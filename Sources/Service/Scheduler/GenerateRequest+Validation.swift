import GenerationCore
import Grammar
import MoeAPI

private typealias Limits = GenerationLimits

extension GenerateRequest {
    /// Why this request is refused, naming the field, or nil when every
    /// setting is in range. The ranges are the ones the config reader uses
    /// for a tier's defaults (GenerationLimits), so neither path lets
    /// through what the other refuses. NUL bytes and 32-bit overflow are
    /// refused earlier, while decoding.
    func validationProblem() -> String? {
        let s = sampling
        let problems: [(field: String, problem: String?)] = [
            ("sampling.temperature", s.temperature.flatMap { Limits.problem(with: $0, in: Limits.temperature) }),
            ("sampling.top_k", s.topK.flatMap { Limits.problem(with: Int($0), in: Limits.topK) }),
            ("sampling.top_p", s.topP.flatMap { Limits.problem(with: $0, in: Limits.topP) }),
            ("sampling.min_p", s.minP.flatMap { Limits.problem(with: $0, in: Limits.minP) }),
            ("sampling.repeat_penalty", s.repeatPenalty.flatMap { Limits.problem(with: $0, in: Limits.repeatPenalty) }),
            ("sampling.repeat_last_n", s.repeatLastN.flatMap { Limits.problem(with: Int($0), in: Limits.repeatLastN) }),
            // 0 (or unset) means the tier's default.
            ("max_tokens", maxTokens == 0 ? nil : Limits.problem(with: Int(maxTokens), in: Limits.maxTokens)),
            ("stop", Limits.problem(withStops: stop)),
            ("logprobs", logprobs.flatMap { Limits.problem(with: Int($0), in: Limits.topLogprobs) }),
            ("grammar", jsonSchema != nil && grammar != nil ? "give json_schema or grammar, not both" : nil),
        ]
        return problems.first { $0.problem != nil }.map { "generate.\($0.field): \($0.problem ?? "")" }
    }

    /// The output's schema or grammar, if the request gives one.
    var structuredOutput: StructuredOutput? {
        if let jsonSchema { return .jsonSchema(jsonSchema) }
        return grammar.map { .grammar($0) }
    }

    /// The compiled grammar of `structuredOutput`; the error names the
    /// field and what is wrong with it (or which schema feature is not
    /// supported).
    func compiledGrammar() throws(RemoteError) -> Grammar? {
        guard let structured = structuredOutput else { return nil }
        do {
            return try structured.compile()
        } catch {
            let field = jsonSchema != nil ? "json_schema" : "grammar"
            throw RemoteError(.invalidArgument, "generate.\(field): \(error)")
        }
    }
}
