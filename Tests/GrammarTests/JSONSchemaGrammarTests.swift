import Foundation
import Testing
@testable import Grammar

@Suite("JSON Schema to grammar")
struct JSONSchemaGrammarTests {
    static let person = #"""
    {
      "type": "object",
      "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"enum": ["a", "b", 3]}, "maxItems": 3},
        "ok": {"type": ["boolean", "null"]},
        "pet": {"$ref": "#/$defs/pet"}
      },
      "required": ["name", "age"],
      "$defs": {"pet": {"type": "object", "properties": {"kind": {"const": "cat"}}, "required": ["kind"]}}
    }
    """#

    func grammar(_ schema: String) throws -> Grammar {
        try JSONSchemaGrammar(json: schema.utf8).grammar()
    }

    @Test("documents that validate are sentences of the grammar")
    func acceptsValid() throws {
        let g = try grammar(Self.person)
        #expect(grammarMatches(g, #"{"name": "Bo", "age": 3}"#))
        #expect(grammarMatches(g, #"{"name":"","age":-12,"tags":["a",3],"ok":null}"#))
        #expect(grammarMatches(g, "{\n  \"name\": \"\\u00e9\\n\",\n  \"age\": 0,\n  \"pet\": {\"kind\": \"cat\"}\n}"))
        #expect(!grammarMatches(g, #"{"age": 3, "name": "Bo"}"#))   // not the schema's order
    }

    @Test("documents that do not validate are refused", arguments: [
        #"{"name": "Bo"}"#,                                  // age missing
        #"{"name": "Bo", "age": 3.5}"#,                      // not an integer
        #"{"name": "Bo", "age": 3, "x": 1}"#,                // extra key
        #"{"name": "Bo", "age": 3, "tags": ["c"]}"#,         // not in the enum
        #"{"name": "Bo", "age": 3, "tags": ["a","a","a","a"]}"#, // too many
        #"{"name": "0123456789abc", "age": 3}"#,             // too long
        #"{"name": "Bo", "age": 03}"#,                       // leading zero
        #"{"name": "Bo", "age": 3, "pet": {"kind": "dog"}}"#,
    ])
    func refusesInvalid(document: String) throws {
        #expect(!grammarMatches(try grammar(Self.person), document))
    }

    @Test("recursive definitions through $ref work")
    func recursion() throws {
        let g = try grammar(#"""
        {"$ref": "#/definitions/node", "definitions": {"node": {"type": "object",
          "properties": {"v": {"type": "number"}, "kids": {"type": "array", "items": {"$ref": "#/definitions/node"}}},
          "required": ["v"]}}}
        """#)
        #expect(grammarMatches(g, #"{"v": 2, "kids": [{"v": 1e3}, {"v": -0.25, "kids": []}]}"#))
        #expect(grammarMatches(g, #"{"v": 2}"#))
        #expect(!grammarMatches(g, #"{"kids": [], "v": 2}"#))   // the schema's order: v first
        #expect(!grammarMatches(g, #"{"v": 2, "kids": [{}]}"#))
    }

    @Test("features the grammar cannot promise are refused, named", arguments: [
        (#"{"type": "string", "pattern": "^a+$"}"#, "'pattern'"),
        (#"{"type": "integer", "minimum": 3}"#, "'minimum'"),
        (#"{"type": "string", "format": "date"}"#, "'format'"),
        (#"{"allOf": [{"type": "string"}]}"#, "'allOf'"),
        (#"{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": true}"#, "additionalProperties"),
        (#"{"$ref": "https://example.com/s.json"}"#, "$ref"),
        (#"{"type": "array", "maxItems": 100000}"#, "maxItems"),
        (#"{"type": "object", "required": ["a"], "properties": {}}"#, "required property 'a'"),
    ])
    func refusals(schema: String, feature: String) throws {
        let error = #expect(throws: GrammarError.self) { try JSONSchemaGrammar(json: schema.utf8) }
        #expect(try #require(error).description.contains(feature), "\(String(describing: error))")
    }

    @Test("text that is not a schema is an invalid-schema error")
    func notJSON() throws {
        for text in ["{", "[1,2]", "\"type\"", #"{"type": 7}"#, #"{"enum": []}"#, #"{"a": "\ud800"}"#, "{} x"] {
            #expect(throws: GrammarError.self) { try JSONSchemaGrammar(json: text.utf8) }
        }
    }

    @Test("random token walks always end in JSON that validates")
    func randomWalksValidate() throws {
        let g = try grammar(Self.person)
        var walked = 0
        for seed in 1...40 as ClosedRange<UInt64> {
            guard let text = randomWalk(g, seed: seed) else { continue }
            walked += 1
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
            #expect(Set(object.keys).isSubset(of: ["name", "age", "tags", "ok", "pet"]), "\(text)")
            let name = try #require(object["name"] as? String, "\(text)")
            #expect(name.count <= 12, "\(text)")
            #expect(object["age"] is NSNumber, "\(text)")
            if let tags = object["tags"] { #expect(((tags as? [Any])?.count ?? 99) <= 3, "\(text)") }
        }
        #expect(walked >= 30, "only \(walked) of 40 walks ended")
    }
}
