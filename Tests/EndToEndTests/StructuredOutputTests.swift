import Foundation
import Testing
import TestSupport

/// Structured output through a real moed and the real dense plugin: every
/// generation under a JSON Schema parses and validates, checked by the
/// `jsonschema` Python package (a real validator, not ours).
@Suite("Structured output: JSON Schema generations validate", .serialized)
struct StructuredOutputTests {
    /// Nested objects, an enum, a bounded array of objects, a nullable
    /// field, optional properties and a $ref.
    static let schema = #"""
    {
      "type": "object",
      "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 12},
        "age": {"type": "integer"},
        "mood": {"enum": ["happy", "sad", 3, null]},
        "address": {"$ref": "#/$defs/address"},
        "pets": {"type": "array", "maxItems": 3,
                 "items": {"type": "object", "properties": {"kind": {"type": "string", "maxLength": 8},
                                                            "legs": {"type": "number"}, "tame": {"type": "boolean"}},
                           "required": ["kind"]}},
        "note": {"type": ["string", "null"], "maxLength": 10}
      },
      "required": ["name", "age", "pets"],
      "$defs": {"address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
                                                             "zip": {"type": "integer"}}, "required": ["city"]}}
    }
    """#

    static var validatorAvailable: Bool {
        guard FileManager.default.isExecutableFile(atPath: PythonClient.python) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PythonClient.python)
        process.arguments = ["-c", "import jsonschema, grpc_tools, google.protobuf"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// moed with one dense-plugin tier on `model`, eight streams at a time.
    func startDaemon(_ scratch: Scratch, tier: String, model: String, context: Int, threads: Int) throws -> DaemonProcess {
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = \(threads)
            max_batch = 8
            [tiers.\(tier)]
            plugin = "dense"
            model = "\(model)"
            context = \(context)
            """)
        return try DaemonProcess(scratch)
    }

    func run(tier: String, count: Int, scratch: Scratch) throws -> [String: Any] {
        let schema = scratch.write("schema.json", Self.schema)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PythonClient.python)
        let script = PythonClient.packageRoot + "/Tests/EndToEndTests/Python/structured_output.py"
        process.arguments = [script, PythonClient.packageRoot + "/Protos", scratch.socket,
                             schema, tier, "\(count)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
    }

    @Test("200 generations of a random tiny model under a non-trivial schema all validate",
          .enabled(if: validatorAvailable, "needs .venv with jsonschema, grpcio-tools and protobuf (scripts/install-deps.sh)"))
    func tinyModel() throws {
        // Random weights: the model "wants" arbitrary bytes, so nearly every
        // step is decided by the grammar's mask — the hardest case for it.
        let model = try SyntheticModel().write(named: "structured-output")
        let scratch = Scratch()
        let daemon = try startDaemon(scratch, tier: "tiny", model: model, context: 2048, threads: 1)
        let seen = try run(tier: "tiny", count: 200, scratch: scratch)
        #expect(seen["valid"] as? Int == 200, "\(seen)")
        #expect((seen["finish_reasons"] as? [String: Int])?["stop"] == 200, "\(seen)")
        #expect(daemon.stop() == 0)
    }

    @Test("SmolLM2 under the same schema writes JSON that validates", DefaultModel.isInstalled,
          .enabled(if: validatorAvailable, "needs .venv with jsonschema, grpcio-tools and protobuf (scripts/install-deps.sh)"))
    func smolLM2() throws {
        let model = try #require(DefaultModel.path, DefaultModel.missing)
        let scratch = Scratch()
        let daemon = try startDaemon(scratch, tier: "smol", model: model, context: 1024, threads: 2)
        let seen = try run(tier: "smol", count: 6, scratch: scratch)
        #expect(seen["valid"] as? Int == 6, "\(seen)")
        #expect(daemon.stop() == 0)
    }
}
