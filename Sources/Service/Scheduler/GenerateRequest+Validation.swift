import Inference
import MoeAPI

extension GenerateRequest {
    /// Why this request is refused, naming the field, or nil when every
    /// setting is in range. The ranges are the ones the config reader uses
    /// for a tier's defaults (GenerationLimits), so neither path lets
    /// through what the other refuses. NUL bytes and 32-bit overflow are
    /// refused earlier, while decoding.
    func validationProblem() -> String? {
        let s = sampling
        let L = GenerationLimits.self
        let problems: [(field: String, problem: String?)] = [
            ("sampling.temperature", s.temperature.flatMap { L.problem(with: $0, in: L.temperature) }),
            ("sampling.top_k", s.topK.flatMap { L.problem(with: Int($0), in: L.topK) }),
            ("sampling.top_p", s.topP.flatMap { L.problem(with: $0, in: L.topP) }),
            ("sampling.min_p", s.minP.flatMap { L.problem(with: $0, in: L.minP) }),
            ("sampling.repeat_penalty", s.repeatPenalty.flatMap { L.problem(with: $0, in: L.repeatPenalty) }),
            ("sampling.repeat_last_n", s.repeatLastN.flatMap { L.problem(with: Int($0), in: L.repeatLastN) }),
            // 0 (or unset) means the tier's default.
            ("max_tokens", maxTokens == 0 ? nil : L.problem(with: Int(maxTokens), in: L.maxTokens)),
            ("stop", L.problem(withStops: stop)),
        ]
        return problems.first { $0.problem != nil }.map { "generate.\($0.field): \($0.problem ?? "")" }
    }
}
