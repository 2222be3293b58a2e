import Foundation
import HTTPTypes
import MoeAPI
import MoeClient

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`
/// with the HTTP status OpenAI uses for the same case.
struct OpenAIError: Error, Encodable {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?

    static func invalid(_ message: String, param: String? = nil) -> OpenAIError {
        OpenAIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: nil)
    }

    static func unknownModel(_ model: String) -> OpenAIError {
        OpenAIError(status: .notFound, message: "The model `\(model)` does not exist: moed has no tier of that name.",
                    type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    static let unauthorized = OpenAIError(
        status: .unauthorized, message: "Incorrect or missing API key: send Authorization: Bearer KEY.",
        type: "invalid_request_error", param: nil, code: "invalid_api_key")

    static func notFound(path: String) -> OpenAIError {
        OpenAIError(status: .notFound, message: "No route for \(path).", type: "invalid_request_error", param: nil, code: "not_found")
    }

    /// moed ends a generation whose prompt does not fit the tier's context at
    /// once, with `context_full` and no token (docs/configuration.md, "When
    /// the context is full"); OpenAI and llama-server answer that request
    /// with a 400, and clients act on its code (trim the conversation,
    /// retry), so the gateway does too rather than send an empty answer.
    static func promptTooLong(_ summary: GenerateSummary, chat: Bool) -> OpenAIError? {
        guard summary.finishReason == "context_full", summary.completionTokens == 0 else { return nil }
        return OpenAIError(
            status: .badRequest,
            message: "The \(chat ? "messages come" : "prompt comes") to \(summary.promptTokens) tokens, more than tier "
                + "`\(summary.tier)`'s context holds: shorten \(chat ? "them" : "it"), or raise the tier's `context`.",
            type: "invalid_request_error", param: chat ? "messages" : "prompt", code: "context_length_exceeded")
    }

    /// Maps what went wrong talking to moed to an HTTP answer.
    static func from(_ error: Error, model: String = "") -> OpenAIError {
        if let error = error as? OpenAIError { return error }
        guard let clientError = error as? ClientError else {
            return OpenAIError(status: .internalServerError, message: "\(error)", type: "server_error", param: nil, code: nil)
        }
        switch clientError {
        case .cannotConnect, .connectionLost:
            return OpenAIError(status: .serviceUnavailable, message: clientError.description, type: "server_error",
                               param: nil, code: "moed_unavailable")
        case .refused(let remote):
            return from(remote, model: model)
        }
    }

    static func from(_ remote: RemoteError, model: String) -> OpenAIError {
        let code = remote.code.name.lowercased()
        switch remote.code {
        case .notFound where remote.message.contains("tier"):
            var error = unknownModel(model)
            error.message += " (\(remote.message))"
            return error
        case .invalidArgument, .outOfRange, .failedPrecondition, .alreadyExists:
            return OpenAIError(status: .badRequest, message: remote.message, type: "invalid_request_error", param: nil, code: code)
        case .notFound:
            return OpenAIError(status: .notFound, message: remote.message, type: "invalid_request_error", param: nil, code: code)
        case .permissionDenied:
            return OpenAIError(status: .forbidden, message: remote.message, type: "permission_error", param: nil, code: code)
        case .resourceExhausted:
            return OpenAIError(status: .tooManyRequests, message: remote.message, type: "rate_limit_error", param: nil, code: code)
        case .unavailable, .aborted, .cancelled, .deadlineExceeded:
            return OpenAIError(status: .serviceUnavailable, message: remote.message, type: "server_error", param: nil, code: code)
        default:
            return OpenAIError(status: .internalServerError, message: remote.message, type: "server_error", param: nil, code: code)
        }
    }

    private enum Keys: String, CodingKey { case error }
    private enum Inner: String, CodingKey { case message, type, param, code }

    func encode(to encoder: Encoder) throws {
        var outer = encoder.container(keyedBy: Keys.self)
        var inner = outer.nestedContainer(keyedBy: Inner.self, forKey: .error)
        try inner.encode(message, forKey: .message)
        try inner.encode(type, forKey: .type)
        try inner.encode(param, forKey: .param)
        try inner.encode(code, forKey: .code)
    }
}
