import GGUF
import Kernels

/// The routed experts of one MoE layer, read from the file's stacked
/// `ffn_{gate,up,down}_exps` tensors. With `ModelOptions.repacksWeights`,
/// each expert's three matrices are copied into the interleaved layout
/// (`Linear.interleaved`) the first time the router picks it, before its
/// products run, and the mapped pages of its slices are given back.
///
/// On first use rather than at load: MoE files can be large and mostly
/// cold, and repacking every expert would lengthen the load and read (and
/// keep a copy of) experts that no token may ever pick — which a batch
/// otherwise never touches.
///
/// A class because experts change on first use while the layer's other
/// weights do not. Only the thread running the forward pass touches it
/// (one caller evaluates a model at a time), so it takes no locks.
final class ExpertBank {
    private(set) var experts: [SwiGLU]
    /// Per expert: repacking is still to be tried on its first use (all
    /// false when repacking is off, and once tried, whatever came of it).
    private var pending: [Bool]
    private let file: GGUFFile
    private let ledger: CopyLedger
    /// The stacked gate, up and down tensors, for finding an expert's slice of each.
    private let stacks: [GGUFTensorInfo]

    init(prefix p: String, source: TensorSource, embedding d: Int, hidden f: Int, count n: Int) throws {
        let names = ["ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"].map { p + $0 + ".weight" }
        let gates = try source.stackedLinear(names[0], inputs: d, outputs: f, count: n)
        let ups = try source.stackedLinear(names[1], inputs: d, outputs: f, count: n)
        let downs = try source.stackedLinear(names[2], inputs: f, outputs: d, count: n)
        experts = (0..<n).map { SwiGLU(gate: gates[$0], up: ups[$0], down: downs[$0]) }
        pending = Array(repeating: source.repacksWeights, count: n)
        file = source.file
        ledger = source.ledger
        stacks = try names.map { try source.info($0) }
    }

    var count: Int { experts.count }

    /// Width of an expert's intermediate activation.
    var hiddenSize: Int { experts.first?.hiddenSize ?? 0 }

    /// Bytes of weights one expert's full application reads (the same in either layout).
    var bytesPerExpert: Int { experts.first.map { $0.gate.byteCount + $0.up.byteCount + $0.down.byteCount } ?? 0 }

    /// Experts holding at least one matrix in the interleaved layout (for tests and diagnostics).
    var repackedCount: Int { experts.indices.reduce(0) { $0 + (isRepacked($1) ? 1 : 0) } }

    func isRepacked(_ e: Int) -> Bool {
        let x = experts[e]
        return [x.gate, x.up, x.down].contains { $0.layout == .interleaved8 }
    }

    /// Expert `e`, ready to apply: repacked first if this is its first use.
    /// `pool` is the model's, idle between products, so the copy runs on all its threads.
    func expert(_ e: Int, pool: ThreadPool) -> SwiGLU {
        if pending[e] { repack(e, pool: pool) }
        return experts[e]
    }

    /// Repacks every expert not yet tried, now, as their first picks would;
    /// returns how many were. For a caller that would rather pay the copies
    /// up front (or while idle) than on the first tokens that pick them.
    @discardableResult
    func prepareAll(pool: ThreadPool) -> Int {
        let due = pending.indices.filter { pending[$0] }
        for e in due { repack(e, pool: pool) }
        return due.count
    }

    /// Copies each of expert `e`'s matrices that has an interleaved layout
    /// (the same rules as at load: kernel, rows a multiple of eight) and
    /// drops the whole pages of its slice of each stack that was copied.
    /// A matrix that cannot be repacked (or whose copy cannot be allocated)
    /// stays as mapped; it is not tried again.
    private func repack(_ e: Int, pool: ThreadPool) {
        pending[e] = false
        let old = experts[e]
        let copies = [old.gate, old.up, old.down].map { $0.interleaved(pool: pool, ledger: ledger) }
        for (stack, copy) in zip(stacks, copies) where copy != nil {
            // stackedLinear's slicing: experts are equal, contiguous slices
            let stride = stack.byteCount / experts.count
            file.dropPages(of: stack, offset: e * stride, count: stride)
        }
        experts[e] = SwiGLU(gate: copies[0] ?? old.gate, up: copies[1] ?? old.up, down: copies[2] ?? old.down)
    }
}
