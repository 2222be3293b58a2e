/// Everything that can go wrong while reading, querying or writing a GGUF file.
///
/// The public type wraps a private enum (the swift-nio pattern) so new kinds
/// can be added without breaking callers. `kind` is for code that reacts to
/// the failure; `description` is for people and names what failed and on what
/// (key, tensor, byte offset).
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    /// The category of failure, comparable with `==`.
    public struct Kind: Hashable, CustomStringConvertible, Sendable {
        fileprivate enum Base: Hashable, Sendable {
            case io, badMagic, unsupportedVersion, truncated, invalidKey
            case invalidValueType, invalidValue, duplicateKey, invalidAlignment
            case invalidTensorType, invalidShape, duplicateTensor, misalignedTensor
            case tensorOutOfBounds, missingKey, typeMismatch, valueOutOfRange
            case dataSizeMismatch, missingTensor
        }
        fileprivate let base: Base

        /// Opening, sizing, mapping or writing the file failed at the OS level.
        public static let io = Kind(base: .io)
        /// The first four bytes are not `GGUF`.
        public static let badMagic = Kind(base: .badMagic)
        /// A version other than 2 or 3, or a big-endian file.
        public static let unsupportedVersion = Kind(base: .unsupportedVersion)
        /// Something needs more bytes than the file has left (this is also
        /// how a hostile count or length shows up).
        public static let truncated = Kind(base: .truncated)
        /// A metadata key that is empty or longer than 65 535 bytes.
        public static let invalidKey = Kind(base: .invalidKey)
        /// A metadata value type id that GGUF does not define, or arrays
        /// nested deeper than the reader allows.
        public static let invalidValueType = Kind(base: .invalidValueType)
        /// A value whose bytes are not valid for its type (a bool other than 0/1).
        public static let invalidValue = Kind(base: .invalidValue)
        /// The same metadata key appears twice.
        public static let duplicateKey = Kind(base: .duplicateKey)
        /// `general.alignment` is zero, not a power of two, or not an integer.
        public static let invalidAlignment = Kind(base: .invalidAlignment)
        /// A tensor type id this project does not know.
        public static let invalidTensorType = Kind(base: .invalidTensorType)
        /// Bad dimension count, a zero or too large dimension, an element
        /// count that overflows, or a row that is not whole blocks.
        public static let invalidShape = Kind(base: .invalidShape)
        /// The same tensor name appears twice.
        public static let duplicateTensor = Kind(base: .duplicateTensor)
        /// A tensor data offset that is not a multiple of the alignment.
        public static let misalignedTensor = Kind(base: .misalignedTensor)
        /// Tensor data reaching past the end of the file.
        public static let tensorOutOfBounds = Kind(base: .tensorOutOfBounds)
        /// A metadata lookup for a key the file does not have.
        public static let missingKey = Kind(base: .missingKey)
        /// A metadata lookup for a key holding a different type.
        public static let typeMismatch = Kind(base: .typeMismatch)
        /// A metadata integer that does not fit the requested type.
        public static let valueOutOfRange = Kind(base: .valueOutOfRange)
        /// A lookup for a tensor the file does not have.
        public static let missingTensor = Kind(base: .missingTensor)
        /// A writer's tensor data whose size does not match its shape and type.
        public static let dataSizeMismatch = Kind(base: .dataSizeMismatch)

        public var description: String { "\(base)" }
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// A sentence saying what failed and on what.
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "GGUF \(kind): \(message)" }
}
