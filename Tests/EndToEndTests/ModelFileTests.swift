import Foundation
import MoeAPI
import MoeClient
import Testing
import TestSupport

/// A loaded tier's model file changed on disk under the real daemon and
/// the real dense plugin (SmolLM2, copied to a scratch folder): truncated
/// or overwritten in place, the tier's streams end with an error, not a
/// dead daemon or garbage text; replaced by rename, the tier keeps
/// serving the file it loaded.
@Suite("Model files changed under a loaded tier", .serialized, DefaultModel.isInstalled)
struct ModelFileTests {
    let scratch = Scratch()
    var haikuPath: String { scratch.directory + "/haiku.gguf" }

    /// haiku: a copy of SmolLM2; sonnet: a tiny model on another file.
    func start() throws -> DaemonProcess {
        try FileManager.default.copyItem(atPath: try #require(DefaultModel.path, DefaultModel.missing), toPath: haikuPath)
        let other = try SyntheticModel().write(named: "e2e-model-file-other")
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            [tiers.haiku]
            plugin = "dense"
            model = "\(haikuPath)"
            context = 512
            temperature = 0
            repeat_penalty = 1
            [tiers.sonnet]
            plugin = "dense"
            model = "\(other)"
            context = 128
            temperature = 0
            """)
        return try DaemonProcess(scratch)
    }

    /// A long greedy count on haiku; `midway` runs once, after the first
    /// chunk arrived. Returns the text streamed and how the call ended (a
    /// lost connection — the daemon died — throws).
    func stream(_ client: MoeClient, maxTokens: UInt32 = 120,
                midway: () throws -> Void = {}) throws -> (text: String, ending: Result<GenerateSummary, RemoteError>) {
        var request = GenerateRequest()
        request.tier = "haiku"
        request.prompt = "1, 2, 3, 4, 5, 6,"
        request.maxTokens = maxTokens
        var text = ""
        var chunks = 0
        do {
            let final = try client.call(.generate(request)) { response in
                guard case .chunk(let chunk) = response.result else { return }
                text += chunk.text
                chunks += 1
                if chunks == 1 { try midway() }
            }
            guard case .summary(let summary) = final.result else { throw E2EError("no summary") }
            return (text, .success(summary))
        } catch ClientError.refused(let error) {
            return (text, .failure(error))
        }
    }

    /// The error a stream of haiku must end with, or a description of what came instead.
    func changedError(_ ending: Result<GenerateSummary, RemoteError>) -> RemoteError? {
        guard case .failure(let error) = ending, error.code == .failedPrecondition,
              error.message == "model file changed on disk: haiku" else { return nil }
        return error
    }

    @Test("truncated in place mid-stream: the stream fails, status answers, another tier serves, a restored file loads")
    func truncatedInPlace() throws {
        let daemon = try start()
        let client = try daemon.client()
        let original = try Data(contentsOf: URL(fileURLWithPath: haikuPath))
        let reference = try stream(client)
        #expect(try reference.ending.get().finishReason == "length")

        let cut = try stream(client) { try #require(truncate(haikuPath, 4096) == 0) }
        #expect(changedError(cut.ending) != nil, "\(cut.ending)")
        #expect(reference.text.hasPrefix(cut.text), "streamed before the error: \(cut.text)")

        let status = try client.call(.status)
        guard case .status(let reply) = status.result else { throw E2EError("no status") }
        let haiku = try #require(reply.tiers.first { $0.name == "haiku" })
        #expect(haiku.state == .failed && haiku.lastError.contains("model file changed on disk: haiku"), "\(haiku)")
        #expect(reply.pid == UInt32(daemon.pid))
        #expect(try generate(client, prompt: "the cat", tier: "sonnet").summary.completionTokens > 0)

        try writeInPlace(original, to: haikuPath)
        let again = try stream(client)
        #expect(try again.ending.get().finishReason == "length")
        #expect(again.text == reference.text)
        #expect(daemon.stop() == 0)
    }

    /// Like `cp` (truncates, then writes) and like `dd conv=notrunc`
    /// (writes over the bytes in place; the mapping shows the new ones).
    @Test("overwritten in place with a larger, different file mid-stream: an error, never its text",
          arguments: [true, false])
    func overwrittenInPlace(truncatingFirst: Bool) throws {
        let daemon = try start()
        let client = try daemon.client()
        let other = try differentLargerModel()
        let reference = try stream(client)
        let overwritten = try stream(client) { try writeInPlace(other, to: haikuPath, truncatingFirst: truncatingFirst) }
        #expect(changedError(overwritten.ending) != nil, "\(overwritten.ending)")
        #expect(reference.text.hasPrefix(overwritten.text), "streamed before the error: \(overwritten.text)")
        #expect(try generate(client, prompt: "the cat", tier: "sonnet").summary.completionTokens > 0)
        #expect(daemon.stop() == 0)
    }

    @Test("replaced by rename mid-stream: the stream completes on the file it loaded; the next load reads the new one")
    func replacedByRename() throws {
        let daemon = try start()
        let client = try daemon.client()
        let other = try differentLargerModel()
        let reference = try stream(client)
        let renamed = try stream(client) {
            let staged = haikuPath + ".new"
            try other.write(to: URL(fileURLWithPath: staged))
            try #require(rename(staged, haikuPath) == 0)
        }
        #expect(try renamed.ending.get().finishReason == "length")
        #expect(renamed.text == reference.text)

        _ = try client.call(.unload(tier: "haiku"))
        let reloaded = try stream(client, maxTokens: 8)
        #expect(try reloaded.ending.get().completionTokens > 0)
        #expect(!reference.text.hasPrefix(reloaded.text), "the new file's weights answer: \(reloaded.text)")
        #expect(daemon.stop() == 0)
    }

    @Test("truncated while the dense plugin loads it: the load fails, the daemon serves, a restored file loads")
    func truncatedDuringLoad() throws {
        let daemon = try start()
        let client = try daemon.client()
        let original = try Data(contentsOf: URL(fileURLWithPath: haikuPath))
        var truncated = false
        do {
            _ = try client.call(.load(tier: "haiku")) { _ in
                if !truncated { truncated = truncate(haikuPath, 4096) == 0 }
            }
            Issue.record("the load succeeded on a file truncated while it loaded")
        } catch ClientError.refused(let error) {
            #expect(error.code == .failedPrecondition && error.message.hasPrefix("cannot load tier haiku:"), "\(error)")
        }
        #expect(truncated)
        #expect(try generate(client, prompt: "the cat", tier: "sonnet").summary.completionTokens > 0)
        try writeInPlace(original, to: haikuPath)
        #expect(try stream(client, maxTokens: 4).ending.get().completionTokens == 4)
        #expect(daemon.stop() == 0)
    }
}

/// The load-time check, made deterministic with the toy plugin's slow
/// load: the file changes between moed's look at it and the end of the
/// plugin's open.
@Suite("A model file changed during a load", .serialized)
struct ModelFileLoadTests {
    let scratch = Scratch()

    @Test("fails the load naming the change; the next load reads the file as it is now",
          arguments: ["in place", "by rename"])
    func changedDuringLoad(how: String) throws {
        let model = scratch.write("slow.txt", "#toy load_ms=2000\nHello from the slow toy. ")
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            [tiers.haiku]
            plugin = "toy"
            model = "\(model)"
            temperature = 0
            """)
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        let fresh = Data("#toy step_ms=1\nA new text. ".utf8)
        var changed = false
        do {
            _ = try client.call(.load(tier: "haiku")) { _ in
                guard !changed else { return }
                changed = true
                if how == "in place" {
                    try writeInPlace(fresh, to: model)
                } else {
                    try fresh.write(to: URL(fileURLWithPath: model + ".new"))
                    try #require(rename(model + ".new", model) == 0)
                }
            }
            Issue.record("the load succeeded though its file changed \(how) while it loaded")
        } catch ClientError.refused(let error) {
            let why = how == "in place" ? "size 43 → 27 bytes" : "the path now names another file"
            #expect(error.code == .failedPrecondition, "\(error)")
            #expect(error.message == "cannot load tier haiku: model file changed during load (\(why))", "\(error)")
        }
        #expect(changed)
        let (text, _) = try generate(client, prompt: "x", tier: "haiku", maxTokens: 5)
        #expect(!text.isEmpty && "A new text. A new text. ".contains(text), "the next load reads the new file: \(text)")
        #expect(daemon.stop() == 0)
    }
}

/// Writes `bytes` over the file at `path`, same inode: the way `cp` does
/// (truncated to zero first), or over the old bytes from offset 0.
func writeInPlace(_ bytes: Data, to path: String, truncatingFirst: Bool = true) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    if truncatingFirst { try handle.truncate(atOffset: 0) }
    try handle.write(contentsOf: bytes)
    try handle.close()
}

/// SmolLM2 with its tensor data scrambled (the token embedding, which the
/// tied output layer reads from the mapping at every token) and 1 MiB
/// more at the end: a valid GGUF that answers something else.
func differentLargerModel() throws -> Data {
    var bytes = try Data(contentsOf: URL(fileURLWithPath: try #require(DefaultModel.path, DefaultModel.missing)))
    // token_embd spans 1.7–30.4 MiB, after the header and metadata.
    bytes.withUnsafeMutableBytes { raw in
        for index in stride(from: 2 << 20, to: 30 << 20, by: 7) { raw[index] ^= 0x5A }
    }
    bytes.append(Data(count: 1 << 20))
    return bytes
}
