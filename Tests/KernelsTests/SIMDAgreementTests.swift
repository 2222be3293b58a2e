import GGUF
import Testing
@testable import Kernels

/// Every SIMD level this CPU has must agree with the scalar reference on
/// random (seeded) blocks: dequantization exactly, dot products within the
/// type's named tolerance.
@Suite("SIMD kernels against the scalar reference")
struct SIMDAgreementTests {
    static let count = 1024  // four K-quant super-blocks, 32 classic blocks

    @Test("table rows describe ggml's block layouts", arguments: matrixTypes)
    func layout(type: GGMLType) throws {
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[type], "\(type) at \(isa)")
            #expect(kernel.blockSize == type.blockSize)
            #expect(kernel.bytesPerBlock == type.bytesPerBlock)
            #expect(kernel.activationBlockSize == kernel.activationType.blockSize)
            #expect(kernel.activationBytesPerBlock == kernel.activationType.bytesPerBlock)
            #expect(kernel.canMultiply)
        }
    }

    @Test("dequantize agrees bit for bit at every ISA level", arguments: matrixTypes)
    func dequantize(type: GGMLType) throws {
        var rng = SeededGenerator(seed: UInt64(type.rawValue) + 100)
        let weights = randomWeights(type, count: Self.count, &rng)
        let reference = try #require(KernelTable.scalar[type]).dequantized(weights, count: Self.count)
        #expect(reference.allSatisfy { $0.isFinite })
        for isa in supportedISAs.dropFirst() {
            let simd = try #require(KernelTable(isa: isa)?[type]).dequantized(weights, count: Self.count)
            #expect(simd.map(\.bitPattern) == reference.map(\.bitPattern), "\(type) at \(isa)")
        }
    }

    @Test("dot product agrees within the type's tolerance at every ISA level", arguments: matrixTypes)
    func dot(type: GGMLType) throws {
        let tolerance = try #require(Tolerance.dot[type])
        let scalar = try #require(KernelTable.scalar[type])
        for trial in 0..<20 {
            var rng = SeededGenerator(seed: UInt64(type.rawValue) * 1000 + UInt64(trial))
            // odd lengths in blocks exercise the AVX-512 single-block tail
            let count = trial % 2 == 0 ? Self.count : Self.count - (type.blockSize == 256 ? 256 : 32 * 3)
            let weights = randomWeights(type, count: count, &rng)
            let activations = scalar.quantizedActivations(randomFloats(count, &rng))
            let reference = Double(scalar.dot(weights, activations, count: count))
            let magnitude = zip(scalar.dequantized(weights, count: count),
                                dequantizedActivations(activations, type: scalar.activationType, count: count))
                .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            for isa in supportedISAs.dropFirst() {
                let kernel = try #require(KernelTable(isa: isa)?[type])
                let simd = Double(kernel.dot(weights, activations, count: count))
                #expect(abs(simd - reference) <= tolerance * magnitude, "\(type) at \(isa), trial \(trial)")
            }
        }
    }

    @Test("four-row dot agrees with four single-row dots at every ISA level", arguments: matrixTypes)
    func fourRows(type: GGMLType) throws {
        let tolerance = try #require(Tolerance.dot[type])
        var rng = SeededGenerator(seed: UInt64(type.rawValue) + 400)
        let scalar = try #require(KernelTable.scalar[type])
        let weights = randomWeights(type, count: Self.count, &rng)
        let rows = (0..<4).map { _ in scalar.quantizedActivations(randomFloats(Self.count, &rng)) }
        let stride = rows[0].count
        let packed = rows.flatMap { $0 }
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[type])
            var results = [Float](repeating: .nan, count: 4)
            weights.withUnsafeBytes { w in
                packed.withUnsafeBytes { a in
                    kernel.dot4(w.baseAddress!, a.baseAddress!, activationStride: stride, into: &results, count: Self.count)
                }
            }
            for j in 0..<4 {
                let single = Double(scalar.dot(weights, rows[j], count: Self.count))
                let magnitude = zip(scalar.dequantized(weights, count: Self.count),
                                    dequantizedActivations(rows[j], type: scalar.activationType, count: Self.count))
                    .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(Double(results[j]) - single) <= tolerance * magnitude, "\(type) at \(isa), row \(j)")
            }
        }
    }

    @Test("activation quantizers agree bit for bit at every ISA level", arguments: matrixTypes)
    func activations(type: GGMLType) throws {
        var rng = SeededGenerator(seed: UInt64(type.rawValue) + 200)
        let x = randomFloats(Self.count, &rng, scale: 5)
        let reference = try #require(KernelTable.scalar[type]).quantizedActivations(x)
        for isa in supportedISAs.dropFirst() {
            let kernel = try #require(KernelTable(isa: isa)?[type])
            #expect(kernel.quantizedActivations(x) == reference, "\(type) at \(isa)")
        }
    }

    @Test("the scalar dot is the dot of the dequantized rows", arguments: matrixTypes)
    func scalarDotMatchesDequantized(type: GGMLType) throws {
        var rng = SeededGenerator(seed: UInt64(type.rawValue) + 300)
        let scalar = try #require(KernelTable.scalar[type])
        let weights = randomWeights(type, count: Self.count, &rng)
        let activations = scalar.quantizedActivations(randomFloats(Self.count, &rng))
        let pairs = zip(scalar.dequantized(weights, count: Self.count),
                        dequantizedActivations(activations, type: scalar.activationType, count: Self.count))
        let exact = pairs.reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let magnitude = pairs.reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        #expect(abs(Double(scalar.dot(weights, activations, count: Self.count)) - exact) <= Tolerance.referenceVersusDequantized * magnitude)
    }
}

/// Decoding's four-weight-row dot against the scalar single-row reference.
@Suite("Four weight rows with one activation row")
struct FourWeightRowTests {
    @Test("four-weight-row dot agrees with single-row scalar dots at every ISA level", arguments: matrixTypes)
    func fourWeightRows(type: GGMLType) throws {
        let tolerance = try #require(Tolerance.dot[type])
        let count = SIMDAgreementTests.count
        var rng = SeededGenerator(seed: UInt64(type.rawValue) + 500)
        let scalar = try #require(KernelTable.scalar[type])
        let rows = (0..<4).map { _ in randomWeights(type, count: count, &rng) }
        let stride = rows[0].count
        let packed = rows.flatMap { $0 }
        let activations = scalar.quantizedActivations(randomFloats(count, &rng))
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[type])
            var results = [Float](repeating: .nan, count: 4)
            packed.withUnsafeBytes { w in
                activations.withUnsafeBytes { a in
                    kernel.dot4(weights: w.baseAddress!, weightStride: stride, a.baseAddress!, into: &results, count: count)
                }
            }
            for j in 0..<4 {
                let single = Double(scalar.dot(rows[j], activations, count: count))
                let magnitude = zip(scalar.dequantized(rows[j], count: count),
                                    dequantizedActivations(activations, type: scalar.activationType, count: count))
                    .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(Double(results[j]) - single) <= tolerance * magnitude, "\(type) at \(isa), row \(j)")
            }
        }
    }
}

@Suite("SIMD activation quantizers on rounding ties")
struct QuantizerTieTests {
    /// With 127 in the block the scale is exactly 1, so x·(1/d) lands on the
    /// ties themselves: the reference rounds them away from zero (roundf).
    @Test("ties and near-ties round as the reference at every ISA level", arguments: [GGMLType.q4_0, .q4_1])
    func ties(type: GGMLType) throws {
        var x: [Float] = [127, -127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 126.5, -126.5,
                          3.4999998, -3.4999998, 0, -0.0]
        x += (0..<16).map { Float($0) - 7.5 }
        let reference = try #require(KernelTable.scalar[type]).quantizedActivations(x)
        for isa in supportedISAs.dropFirst() {
            let kernel = try #require(KernelTable(isa: isa)?[type])
            #expect(kernel.quantizedActivations(x) == reference, "\(type) at \(isa)")
        }
    }
}

/// The Q8_K quantizer's edge blocks: exact ties after scaling (127 in the
/// block makes iscale -1), the largest magnitude reached by both signs (the
/// first one sets the sign), zeros and negative zeros, a NaN or an infinity
/// (the SIMD code hands those blocks to the reference), and magnitudes so
/// small that -127 / max overflows.
@Suite("The SIMD Q8_K quantizer on edge blocks")
struct QuantizerQ8KEdgeTests {
    static func blocks() -> [[Float]] {
        var ties: [Float] = [127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5, 3.4999998, 0, -0.0]
        ties += (0..<244).map { (i: Int) -> Float in Float(i % 32) - 15.5 }
        var bothSigns = [Float](repeating: 0.25, count: 256)
        bothSigns[4] = 3
        bothSigns[9] = -3
        let zeros = [Float](repeating: 0, count: 128) + [Float](repeating: -0.0, count: 128)
        var nan = (0..<256).map { (i: Int) -> Float in Float(i) / 17 - 7 }
        nan[100] = .nan
        var infinity = (0..<256).map { (i: Int) -> Float in Float(i) / 13 - 9 }
        infinity[3] = -.infinity
        let tiny = (0..<256).map { (i: Int) -> Float in
            let magnitude = Float(bitPattern: UInt32(i % 7 + 1))  // subnormal
            return i % 2 == 0 ? magnitude : -magnitude
        }
        return [ties, bothSigns, zeros, nan, infinity, tiny]
    }

    @Test("every SIMD level quantizes each edge block as the reference", arguments: [GGMLType.q4_K, .q5_K, .q6_K])
    func edges(type: GGMLType) throws {
        let x = Self.blocks().flatMap { $0 }
        let reference = try #require(KernelTable.scalar[type]).quantizedActivations(x)
        for isa in supportedISAs.dropFirst() {
            let kernel = try #require(KernelTable(isa: isa)?[type])
            let got = kernel.quantizedActivations(x)
            for block in 0..<6 {
                let bytes = block * 292..<(block + 1) * 292
                #expect(got[bytes] == reference[bytes], "\(type) at \(isa), edge block \(block)")
            }
        }
    }
}

@Suite("Four activation rows with pre-converted scales")
struct ScaledFourRowTests {
    @Test("scaled four-row dot agrees with single-row scalar dots at every ISA level", arguments: matrixTypes)
    func scaledFourRows(type: GGMLType) throws {
        let tolerance = try #require(Tolerance.dot[type])
        let count = SIMDAgreementTests.count
        var rng = SeededGenerator(seed: UInt64(type.rawValue) + 600)
        let scalar = try #require(KernelTable.scalar[type])
        let weights = randomWeights(type, count: count, &rng)
        let rows = (0..<4).map { j in scalar.quantizedActivations(randomFloats(count, &rng, scale: Float(1 + j))) }
        let stride = rows[0].count
        let packed = rows.flatMap { $0 }
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[type])
            var results = [Float](repeating: .nan, count: 4)
            var scales = [Float](repeating: .nan, count: max(1, count / kernel.activationBlockSize * kernel.scalesPerBlock))
            weights.withUnsafeBytes { w in
                packed.withUnsafeBytes { a in
                    kernel.activationScales4(a.baseAddress!, activationStride: stride, into: &scales, count: count)
                    kernel.dot4(w.baseAddress!, a.baseAddress!, activationStride: stride, scales: scales, into: &results, count: count)
                }
            }
            for j in 0..<4 {
                let single = Double(scalar.dot(weights, rows[j], count: count))
                let magnitude = zip(scalar.dequantized(weights, count: count),
                                    dequantizedActivations(rows[j], type: scalar.activationType, count: count))
                    .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(Double(results[j]) - single) <= tolerance * magnitude, "\(type) at \(isa), row \(j)")
            }
        }
    }

    @Test("scaled four-row dot over a run of weight rows agrees with single-row scalar dots at every ISA level",
          arguments: matrixTypes)
    func scaledFourRowRuns(type: GGMLType) throws {
        let tolerance = try #require(Tolerance.dot[type])
        let count = SIMDAgreementTests.count, rowCount = 5  // odd: not a whole number of any pairing
        var rng = SeededGenerator(seed: UInt64(type.rawValue) + 700)
        let scalar = try #require(KernelTable.scalar[type])
        let weights = randomWeights(type, count: rowCount * count, &rng)
        let rowBytes = weights.count / rowCount
        let rows = (0..<4).map { j in scalar.quantizedActivations(randomFloats(count, &rng, scale: Float(1 + j))) }
        let stride = rows[0].count
        let packed = rows.flatMap { $0 }
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[type])
            guard kernel.hasScaledFourRowDot else { continue }
            var results = [Float](repeating: .nan, count: 4 * rowCount)
            var scales = [Float](repeating: .nan, count: count / kernel.activationBlockSize * kernel.scalesPerBlock)
            var ran = false
            weights.withUnsafeBytes { w in
                packed.withUnsafeBytes { a in
                    kernel.activationScales4(a.baseAddress!, activationStride: stride, into: &scales, count: count)
                    ran = kernel.dot4Rows(weights: w.baseAddress!, weightStride: rowBytes, rows: rowCount, a.baseAddress!,
                                          activationStride: stride, scales: scales, into: &results,
                                          outputStride: rowCount, count: count)
                }
            }
            #expect(ran, "\(type) at \(isa)")
            for r in 0..<rowCount {
                let w = Array(weights[r * rowBytes..<(r + 1) * rowBytes])
                for j in 0..<4 {
                    let single = Double(scalar.dot(w, rows[j], count: count))
                    let magnitude = zip(scalar.dequantized(w, count: count),
                                        dequantizedActivations(rows[j], type: scalar.activationType, count: count))
                        .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                    #expect(abs(Double(results[j * rowCount + r]) - single) <= tolerance * magnitude,
                            "\(type) at \(isa), weight row \(r), activation row \(j)")
                }
            }
        }
    }

    @Test("q8_0 weights of -128 (no byte negation) agree with the scalar dots at every ISA level")
    func q8WeightsOfMinus128() throws {
        let count = 64
        var rng = SeededGenerator(seed: 808)
        let scalar = try #require(KernelTable.scalar[.q8_0])
        // block 0 all -128, block 1 alternating -128 and 127 (scale 1/64 in binary16: 0x2400)
        var weights = [UInt8](repeating: 0x80, count: 68)
        weights[0] = 0x00; weights[1] = 0x24; weights[34] = 0x00; weights[35] = 0x24
        for k in 0..<32 where k % 2 == 1 { weights[36 + k] = 127 }
        let rows = (0..<4).map { j in scalar.quantizedActivations(randomFloats(count, &rng, scale: Float(1 + j))) }
        let stride = rows[0].count
        let packed = rows.flatMap { $0 }
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[.q8_0])
            var results = [Float](repeating: .nan, count: 4)
            var scales = [Float](repeating: .nan, count: max(1, count / kernel.activationBlockSize * kernel.scalesPerBlock))
            weights.withUnsafeBytes { w in
                packed.withUnsafeBytes { a in
                    kernel.activationScales4(a.baseAddress!, activationStride: stride, into: &scales, count: count)
                    kernel.dot4(w.baseAddress!, a.baseAddress!, activationStride: stride, scales: scales, into: &results, count: count)
                }
            }
            for j in 0..<4 {
                let single = scalar.dot(weights, rows[j], count: count)
                #expect(abs(results[j] - single) <= 1e-5 * max(1, abs(single)), "\(isa), row \(j): \(results[j]) vs \(single)")
            }
        }
    }
}
