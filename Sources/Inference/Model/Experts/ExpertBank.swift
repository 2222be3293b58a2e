import GGUF
import Kernels

/// The routed experts of one MoE layer, read from the file's stacked
/// `ffn_{gate,up,down}_exps` tensors. With `ModelOptions.repacksWeights`,
/// each expert's three matrices are copied into the interleaved layout
/// (`Linear.interleavedCopy`), and the mapped pages of its slices given
/// back, either on the model's layout thread after it is ready
/// (`LayoutPreparation`, with `ModelOptions.preparesExperts`) or, for an
/// expert the router picks before that thread reaches it, just before its
/// first products run.
///
/// Not at load: MoE files can be large, and repacking every expert would
/// lengthen the load (a tier switch) by the copy of weights no token may
/// have picked yet.
///
/// A class because experts change layout while the layer's other weights do
/// not. The expert list itself never changes: a copy is installed into the
/// matrix's `WeightSlot`, and only under the model's evaluate lock (held by
/// the forward pass and by the layout thread while it installs), which also
/// guards `pending`.
final class ExpertBank {
    let experts: [SwiGLU]
    /// Per expert: repacking is still to be tried (all false when repacking
    /// is off, and once tried, whatever came of it). Under the evaluate lock.
    private var pending: [Bool]
    private let file: GGUFFile
    private let ledger: CopyLedger
    private let arena: WeightArena
    /// The stacked gate, up and down tensors, for finding an expert's slice of each.
    private let stacks: [GGUFTensorInfo]
    /// Bytes of the copies of the experts still pending (their share of
    /// the tier's memory figure until each is settled; read from any thread).
    let unsettled = CopyLedger()

    init(prefix p: String, source: TensorSource, embedding d: Int, hidden f: Int, count n: Int) throws {
        let names = ["ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"].map { p + $0 + ".weight" }
        let gates = try source.stackedLinear(names[0], inputs: d, outputs: f, count: n)
        let ups = try source.stackedLinear(names[1], inputs: d, outputs: f, count: n)
        let downs = try source.stackedLinear(names[2], inputs: f, outputs: d, count: n)
        experts = (0..<n).map { SwiGLU(gate: gates[$0], up: ups[$0], down: downs[$0]) }
        pending = Array(repeating: source.repacksWeights, count: n)
        file = source.file
        ledger = source.ledger
        arena = source.arena
        stacks = try names.map { try source.info($0) }
        if source.repacksWeights {
            unsettled.add(n * copyBytesPerExpert)
            source.layout.add(experts: self)
        }
    }

    var count: Int { experts.count }

    /// Width of an expert's intermediate activation.
    var hiddenSize: Int { experts.first?.hiddenSize ?? 0 }

    /// Bytes of weights one expert's full application reads (the same in either layout).
    var bytesPerExpert: Int { experts.first.map { $0.gate.byteCount + $0.up.byteCount + $0.down.byteCount } ?? 0 }

    /// Bytes of the interleaved copies one expert gets (its matrices whose
    /// type and shape have that layout).
    var copyBytesPerExpert: Int {
        experts.first.map { [$0.gate, $0.up, $0.down].filter(\.hasInterleavedLayout).reduce(0) { $0 + $1.byteCount } } ?? 0
    }

    /// Experts holding at least one matrix in the interleaved layout (for tests and diagnostics).
    var repackedCount: Int { experts.indices.reduce(0) { $0 + (isRepacked($1) ? 1 : 0) } }

    func isRepacked(_ e: Int) -> Bool {
        let x = experts[e]
        return [x.gate, x.up, x.down].contains { $0.layout == .interleaved8 }
    }

    /// Expert `e`, ready to apply: repacked first if this is its first use.
    /// `pool` is the model's, idle between products, so the copy runs on all
    /// its threads. The caller holds the evaluate lock.
    func expert(_ e: Int, pool: ThreadPool) -> SwiGLU {
        if pending[e] { install(e, copies(e, pool: pool)) }
        return experts[e]
    }

    /// Repacks every expert not yet tried, now, as their first picks would;
    /// returns how many were. The caller holds the evaluate lock.
    @discardableResult
    func prepareAll(pool: ThreadPool) -> Int {
        let due = pending.indices.filter { pending[$0] }
        for e in due { install(e, copies(e, pool: pool)) }
        return due.count
    }

    /// Expert `e`'s matrices copied into the interleaved layout (the same
    /// rules as at load: kernel, rows a multiple of eight), nil for a matrix
    /// that has none or whose copy cannot be allocated. Reads only the
    /// mapped bytes, which never change, so it needs no lock: the layout
    /// thread makes copies while the model evaluates, in its own arena
    /// (`into`; the model's by default).
    func copies(_ e: Int, pool: ThreadPool?, into arena: WeightArena? = nil) -> [InterleavedWeights?] {
        let x = experts[e], arena = arena ?? self.arena
        return [x.gate, x.up, x.down].map { $0.mappedCopy(pool: pool, ledger: ledger, arena: arena) }
    }

    /// Whether expert `e` is still to be repacked. The caller holds the evaluate lock.
    func isPending(_ e: Int) -> Bool { pending[e] }

    /// Installs `copies` (from `copies(e)`) if expert `e` is still pending
    /// and gives back the whole pages of its slice of each stack that was
    /// copied; copies that arrive after the expert's first pick are
    /// dropped. Either way `e` is not tried again. The caller holds the
    /// evaluate lock.
    func install(_ e: Int, _ copies: [InterleavedWeights?]) {
        guard pending[e] else { return }
        pending[e] = false
        unsettled.add(-copyBytesPerExpert)
        let x = experts[e]
        for (i, (matrix, copy)) in zip([x.gate, x.up, x.down], copies).enumerated() {
            guard let copy else { continue }
            matrix.weights.install(copy)
            // stackedLinear's slicing: experts are equal, contiguous slices
            let stride = stacks[i].byteCount / experts.count
            file.dropPages(of: stacks[i], offset: e * stride, count: stride)
        }
    }
}
