import CKernels

/// The element type of a KV cache: F16 by default (as llama.cpp), Q8_0 for
/// half of that again, F32 for results exact against an F32 reference.
public enum KVCacheType: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32, f16, q8_0

    /// The default for tiers and `moectl run`.
    public static let standard = KVCacheType.f16

    /// The spelling of config files and flags ("f16", "q8_0", "f32").
    public var description: String { rawValue }

    /// Parses "f32", "f16", "q8_0" (any case; "q8" too), nil for anything else.
    public init?(name: String) {
        switch name.lowercased() {
        case "f32": self = .f32
        case "f16": self = .f16
        case "q8_0", "q8": self = .q8_0
        default: return nil
        }
    }

    var c: moe_kv_type {
        switch self {
        case .f32: MOE_KV_F32
        case .f16: MOE_KV_F16
        case .q8_0: MOE_KV_Q8_0
        }
    }

    /// Values per block: a head's size must be a multiple of it.
    public var blockSize: Int { self == .q8_0 ? 32 : 1 }

    /// Bytes of one cache row of `count` values (`count` a multiple of `blockSize`).
    public func rowBytes(_ count: Int) -> Int { Int(moe_kv_row_bytes(c, Int64(count))) }
}

extension VectorOps {
    /// Rounds `count` floats into one cache row of `type`.
    @inline(__always)
    public static func storeRow(_ type: KVCacheType, _ x: UnsafePointer<Float>, into row: UnsafeMutableRawPointer,
                                count: Int) {
        moe_kv_store(type.c, x, row, Int64(count))
    }

    /// `attendHead` over a cache of `type` whose rows are `strideBytes`
    /// apart; `keys`/`values` point at the head's first element in row 0.
    /// `isa` forces a kernel level (tests); nil picks the best.
    @inline(__always)
    public static func attendHead(_ type: KVCacheType, isa: KernelISA? = nil, query: UnsafePointer<Float>,
                                  keys: UnsafeRawPointer, values: UnsafeRawPointer, strideBytes: Int,
                                  length: Int, size: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
                                  into out: UnsafeMutablePointer<Float>) {
        if let isa {
            moe_attend_head_kv_isa(type.c, isa.cValue, query, keys, values, strideBytes, Int64(length), Int64(size),
                                   scale, scores, out)
        } else {
            moe_attend_head_kv(type.c, query, keys, values, strideBytes, Int64(length), Int64(size), scale, scores, out)
        }
    }
}

extension VectorOps {
    /// Prompt attention: `rows` consecutive query positions of one head
    /// (queries `queryStride` floats apart, outputs `outStride` apart) that
    /// attend from the same first cached row; row r attends `length + r`
    /// rows. `scores` holds `blockScratch(length:rows:)` floats.
    @inline(__always)
    public static func attendBlock(_ type: KVCacheType, isa: KernelISA? = nil, query: UnsafePointer<Float>,
                                   queryStride: Int, rows: Int, keys: UnsafeRawPointer, values: UnsafeRawPointer,
                                   strideBytes: Int, length: Int, size: Int, scale: Float,
                                   scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                   outStride: Int) {
        if let isa {
            moe_attend_block_kv_isa(type.c, isa.cValue, query, queryStride, Int64(rows), keys, values, strideBytes,
                                    Int64(length), Int64(size), scale, scores, out, outStride)
        } else {
            moe_attend_block_kv(type.c, query, queryStride, Int64(rows), keys, values, strideBytes, Int64(length),
                                Int64(size), scale, scores, out, outStride)
        }
    }

    /// Scratch floats `attendBlock` needs.
    public static func blockScratch(length: Int, rows: Int) -> Int { 4 * (length + rows) }
}

extension VectorOps {
    /// Decode attention for the `group` query heads that share one KV head
    /// of an F16 cache: head g's query is `query + g·size`, its output `out +
    /// g·size`, each as `attendHead` gives it, with every cached row read
    /// once for the group. `scores` holds `group · length` floats. `maxima`
    /// and `sums` (`group` floats each) receive what `mergeAttentionParts`
    /// needs when the rows are one part of a longer range.
    @inline(__always)
    public static func attendGroup(isa: KernelISA? = nil, query: UnsafePointer<Float>, group: Int,
                                   keys: UnsafeRawPointer, values: UnsafeRawPointer, strideBytes: Int, length: Int,
                                   size: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
                                   into out: UnsafeMutablePointer<Float>, maxima: UnsafeMutablePointer<Float>? = nil,
                                   sums: UnsafeMutablePointer<Float>? = nil) {
        if let isa {
            moe_attend_group_f16_isa(isa.cValue, query, Int64(group), keys, values, strideBytes, Int64(length),
                                     Int64(size), scale, scores, out, maxima, sums)
        } else {
            moe_attend_group_f16(query, Int64(group), keys, values, strideBytes, Int64(length), Int64(size), scale,
                                 scores, out, maxima, sums)
        }
    }

    /// The results of `attendGroup` over `parts` consecutive pieces of one
    /// range of cached rows (outputs `parts × heads × size` floats, maxima
    /// and sums `parts × heads`) merged into the result over the whole range.
    @inline(__always)
    public static func mergeAttentionParts(_ parts: Int, heads: Int, size: Int, outputs: UnsafePointer<Float>,
                                           maxima: UnsafePointer<Float>, sums: UnsafePointer<Float>,
                                           into out: UnsafeMutablePointer<Float>) {
        moe_attend_merge_parts(Int64(parts), Int64(heads), Int64(size), outputs, maxima, sums, out)
    }
}
