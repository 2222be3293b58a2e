/// Ids of byte strings, for building the BPE merge table at load (one
/// lookup or insertion per token and three per merge line: about 200,000
/// for a 49k-token vocabulary). Open addressing over FNV-1a hashes, the
/// strings kept end to end in one buffer, so a lookup allocates nothing
/// and reads each byte once. A `[[UInt8]: Int32]` dictionary hashed every
/// byte through `Hasher` and allocated an array per key: it was most of
/// SmolLM2's tokenizer build, and the tokenizer is most of a tier switch.
struct ByteStringInterner {
    private var storage: [UInt8] = []
    /// String i is storage[starts[i]..<starts[i + 1]].
    private var starts: [Int] = [0]
    private var ids: [Int32] = []
    private var hashes: [UInt64] = []
    /// Index of a string + 1, or 0 for an empty slot.
    private var slots: [Int32]

    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size *= 2 }
        slots = [Int32](repeating: 0, count: size)
        storage.reserveCapacity(capacity * 8)
        starts.reserveCapacity(capacity + 1)
        ids.reserveCapacity(capacity)
        hashes.reserveCapacity(capacity)
    }

    /// The id of `text`, if it was interned.
    func id(of text: UnsafeBufferPointer<UInt8>) -> Int32? {
        let (slot, found) = find(text, hash: Self.hash(text))
        _ = slot
        return found.map { ids[$0] }
    }

    /// The id of `text`: the one it has, or `next` (then incremented).
    mutating func intern(_ text: UnsafeBufferPointer<UInt8>, next: inout Int32) -> Int32 {
        let hash = Self.hash(text)
        let (slot, found) = find(text, hash: hash)
        if let found { return ids[found] }
        let id = next
        next += 1
        add(text, hash: hash, id: id, at: slot)
        return id
    }

    /// Gives `text` the id `id` unless it has one already.
    mutating func insert(_ text: UnsafeBufferPointer<UInt8>, id: Int32) {
        let hash = Self.hash(text)
        let (slot, found) = find(text, hash: hash)
        if found == nil { add(text, hash: hash, id: id, at: slot) }
    }

    private func find(_ text: UnsafeBufferPointer<UInt8>, hash: UInt64) -> (slot: Int, index: Int?) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(slots[slot])
            if entry == 0 { return (slot, nil) }
            let i = entry - 1
            if hashes[i] == hash && equals(i, text) { return (slot, i) }
            slot = (slot + 1) & mask
        }
    }

    private func equals(_ i: Int, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[i], count = starts[i + 1] - start
        guard count == text.count else { return false }
        return storage.withUnsafeBufferPointer { s in
            for k in 0..<count where s[start + k] != text[k] { return false }
            return true
        }
    }

    private mutating func add(_ text: UnsafeBufferPointer<UInt8>, hash: UInt64, id: Int32, at slot: Int) {
        storage.append(contentsOf: text)
        starts.append(storage.count)
        ids.append(id)
        hashes.append(hash)
        slots[slot] = Int32(ids.count)
        if 2 * ids.count > slots.count { grow() }
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for i in hashes.indices {
            var slot = Int(truncatingIfNeeded: hashes[i]) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i + 1)
        }
    }

    /// FNV-1a, 64 bits.
    private static func hash(_ text: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }
}
