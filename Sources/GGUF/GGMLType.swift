/// Tensor element types as numbered in GGUF files (ggml's `ggml_type`).
///
/// Only types whose block layout this project knows are listed: a file
/// holding any other type is refused by the reader with the tensor's name.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq4_nl = 20
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case bf16 = 30

    /// Elements per block: 1 for plain types, 32 for the classic quants and
    /// IQ4_NL, 256 for the K-quants' super-blocks and IQ4_XS.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .iq4_xs: return 256
        }
    }

    /// Bytes per block, exactly as ggml lays the block out.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .i8: return 1
        case .i16: return 2
        case .i32: return 4
        case .i64, .f64: return 8
        case .q4_0: return 2 + 16            // d:f16, qs[16]
        case .q4_1: return 2 + 2 + 16        // d, m:f16, qs[16]
        case .q5_0: return 2 + 4 + 16        // d, qh[4], qs[16]
        case .q5_1: return 2 + 2 + 4 + 16    // d, m, qh[4], qs[16]
        case .q8_0: return 2 + 32            // d, qs[32]
        case .q8_1: return 2 + 2 + 32        // d, s, qs[32]
        case .q2_K: return 16 + 64 + 2 + 2   // scales[16], qs[64], d, dmin
        case .q3_K: return 32 + 64 + 12 + 2  // hmask[32], qs[64], scales[12], d
        case .q4_K: return 2 + 2 + 12 + 128  // d, dmin, scales[12], qs[128]
        case .q5_K: return 2 + 2 + 12 + 32 + 128 // d, dmin, scales[12], qh[32], qs[128]
        case .q6_K: return 128 + 64 + 16 + 2 // ql[128], qh[64], scales[16], d
        case .q8_K: return 4 + 256 + 32      // d:f32, qs[256], bsums[16]:i16
        case .iq4_nl: return 2 + 16          // d, qs[16] (4-bit indices into 16 levels)
        case .iq4_xs: return 2 + 2 + 4 + 128 // d, scales_h:u16, scales_l[4], qs[128]
        }
    }

    /// ggml's name for the type, as tools print it (`q4_K`, `bf16`, …).
    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q4_0: return "q4_0"
        case .q4_1: return "q4_1"
        case .q5_0: return "q5_0"
        case .q5_1: return "q5_1"
        case .q8_0: return "q8_0"
        case .q8_1: return "q8_1"
        case .q2_K: return "q2_K"
        case .q3_K: return "q3_K"
        case .q4_K: return "q4_K"
        case .q5_K: return "q5_K"
        case .q6_K: return "q6_K"
        case .q8_K: return "q8_K"
        case .iq4_nl: return "iq4_nl"
        case .iq4_xs: return "iq4_xs"
        case .i8: return "i8"
        case .i16: return "i16"
        case .i32: return "i32"
        case .i64: return "i64"
        case .f64: return "f64"
        case .bf16: return "bf16"
        }
    }

    /// Bytes taken by `elements` values of this type, or nil when the count is
    /// not a whole number of blocks or the size overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }
}
