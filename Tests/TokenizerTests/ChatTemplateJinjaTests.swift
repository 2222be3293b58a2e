// The Jinja interpreter against jinja2: every family's real template
// (ChatTemplates/*.jinja, sources in ChatTemplates/SOURCES.md) and one small
// template per construct, over several conversations, with and without a
// system message and the generation prompt. The expected strings were made
// by tools/chat-templates/render.py (jinja2 configured as llama-cpp-python's
// Jinja2ChatFormatter); when the venv is present the script runs again and
// its fresh output is compared too.

import Foundation
import Testing
@testable import Tokenizer

struct ChatTemplateJinjaTests {
    struct Case {
        var template: String
        var source: String
        var conversation: String
        var messages: [ChatMessage]
        var addGenerationPrompt: Bool
        var bos: String
        var eos: String
        var expected: String?
        var error: String?

        var name: String { "\(template) / \(conversation) / generation prompt \(addGenerationPrompt)" }
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ChatTemplates")
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func cases(from data: Data) throws -> [Case] {
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(root["cases"] as? [[String: Any]])
        return try list.map { c in
            let template = try #require(c["template"] as? String)
            let source: String
            if let inline = c["source"] as? String {
                source = inline
            } else {
                source = try String(contentsOf: folder.appendingPathComponent(template), encoding: .utf8)
            }
            let messages = try #require(c["messages"] as? [[String]]).map { ChatMessage(role: $0[0], content: $0[1]) }
            return Case(template: template, source: source, conversation: try #require(c["conversation"] as? String),
                        messages: messages, addGenerationPrompt: try #require(c["add_generation_prompt"] as? Bool),
                        bos: try #require(c["bos_token"] as? String), eos: try #require(c["eos_token"] as? String),
                        expected: c["expected"] as? String, error: c["error"] as? String)
        }
    }

    /// Renders one case; a template error becomes its message, as jinja2's str(error).
    static func render(_ c: Case) -> (String?, String?) {
        do {
            let template = try JinjaTemplate(c.source)
            let text = try template.render(messages: c.messages, addGenerationPrompt: c.addGenerationPrompt,
                                           bosToken: c.bos, eosToken: c.eos,
                                           extra: ["date_string": .string("26 Jul 2024")])
            return (text, nil)
        } catch let error as JinjaError {
            return (nil, error.message)
        } catch {
            return (nil, "\(error)")
        }
    }

    static func compare(_ cases: [Case]) {
        for c in cases {
            let (text, error) = render(c)
            if let expected = c.expected {
                #expect(text == expected, "\(c.name): error \(error ?? "none")")
            } else {
                #expect(text == nil && error == c.error, "\(c.name): rendered \(text.map { "\"\($0)\"" } ?? "nothing")")
            }
        }
    }

    @Test("every family's real template and each construct render as jinja2 rendered them (committed expectations)")
    func committedExpectations() throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("expected.json"))
        let cases = try Self.cases(from: data)
        #expect(cases.count >= 150)
        Self.compare(cases)
    }

    /// The venv's Python, when it has llama-cpp-python (whose jinja2
    /// environment is the reference); bench/run.sh installs it, the test
    /// set-up does not (it builds llama.cpp, minutes on two cores).
    static let referencePython: String? = {
        let python = packageRoot.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import llama_cpp.llama_chat_format, jinja2"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? python : nil
    }()

    @Test("the same cases rendered afresh by jinja2 in the venv",
          .enabled(if: referencePython != nil, "skipped: needs .venv with llama-cpp-python and jinja2 (bench/run.sh installs them)"))
    func freshJinja2Rendering() throws {
        let python = try #require(Self.referencePython)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Self.packageRoot.appendingPathComponent("tools/chat-templates/render.py").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "render.py failed")
        Self.compare(try Self.cases(from: data))
    }
}
