/// Why a model could not be opened or evaluated. Messages name the file,
/// key or tensor at fault.
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    enum Kind: Sendable {
        case unsupportedArchitecture(String)
        case missingTensor(String)
        case badTensorShape(name: String, expected: [Int], found: [Int])
        case unsupportedTensorType(name: String, type: String)
        case badHyperparameter(key: String, reason: String)
        case contextFull(sequence: Int32, contextLength: Int)
        case badToken(Int32, vocabularySize: Int)
        case badBatch(String)
    }

    let kind: Kind

    static func unsupportedArchitecture(_ a: String) -> Self { .init(kind: .unsupportedArchitecture(a)) }
    static func missingTensor(_ n: String) -> Self { .init(kind: .missingTensor(n)) }
    static func badTensorShape(_ n: String, expected: [Int], found: [Int]) -> Self {
        .init(kind: .badTensorShape(name: n, expected: expected, found: found))
    }
    static func unsupportedTensorType(_ n: String, _ t: String) -> Self { .init(kind: .unsupportedTensorType(name: n, type: t)) }
    static func badHyperparameter(_ key: String, _ reason: String) -> Self { .init(kind: .badHyperparameter(key: key, reason: reason)) }
    static func contextFull(sequence: Int32, contextLength: Int) -> Self {
        .init(kind: .contextFull(sequence: sequence, contextLength: contextLength))
    }
    static func badToken(_ t: Int32, vocabularySize: Int) -> Self { .init(kind: .badToken(t, vocabularySize: vocabularySize)) }
    static func badBatch(_ why: String) -> Self { .init(kind: .badBatch(why)) }

    public var description: String {
        switch kind {
        case .unsupportedArchitecture(let a):
            return "unsupported model architecture '\(a)' (supported: \(Architecture.supportedNames.joined(separator: ", ")))"
        case .missingTensor(let n): return "model file has no tensor '\(n)'"
        case .badTensorShape(let n, let e, let f): return "tensor '\(n)' has shape \(f), expected \(e)"
        case .unsupportedTensorType(let n, let t): return "tensor '\(n)' has type \(t), which this engine cannot compute with"
        case .badHyperparameter(let k, let r): return "bad hyperparameter '\(k)': \(r)"
        case .contextFull(let s, let c): return "sequence \(s) is full: the context holds \(c) positions"
        case .badToken(let t, let n): return "token id \(t) is outside the vocabulary (0..<\(n))"
        case .badBatch(let why): return "bad batch: \(why)"
        }
    }
}
