import Kernels

/// Where one weight matrix's bytes are, for the products that read it: the
/// file's mapping, until a private copy in the interleaved layout is
/// installed. A copy made after load (`LayoutPreparation`) is installed
/// only while no product runs (the model's evaluate lock is held), so no
/// reader sees a half-written matrix or a pointer that changes under it.
final class WeightSlot: @unchecked Sendable {
    // Changed once, by `install`, under the model's evaluate lock (or
    // while the model is still being built); read by the products.
    private(set) var data: UnsafeRawPointer
    private(set) var layout: WeightLayout = .ggml
    /// Owns `data` once a copy is installed.
    private var storage: InterleavedWeights?
    /// The file's bytes, in ggml's layout, whatever is installed later:
    /// never changes, so a copy can be made from it without the lock.
    let mapped: UnsafeRawPointer

    init(mapped data: UnsafeRawPointer) {
        self.data = data
        mapped = data
    }

    /// Points the matrix at `copy`, a finished interleaved copy of its bytes.
    func install(_ copy: InterleavedWeights) {
        storage = copy
        data = UnsafeRawPointer(copy.bytes)
        layout = .interleaved8
    }
}
