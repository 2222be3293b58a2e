import Grammar

/// OpenAI's `response_format`, read from the body with key order kept (a
/// schema's property order is the order the model writes them in), as the
/// JSON Schema text moed's `json_schema` takes:
/// - `{"type": "text"}` or absent: free text;
/// - `{"type": "json_object"}`: any JSON object;
/// - `{"type": "json_schema", "json_schema": {"name": …, "schema": {…}}}`:
///   JSON that validates against `schema`. moed checks the schema and names
///   what it does not support.
enum ResponseFormat {
    static func schema(in body: JSONValue) throws(OpenAIError) -> String? {
        guard let format = body["response_format"], format != .null else { return nil }
        guard case .string(let type)? = format["type"] else {
            throw .invalid("response_format.type must be \"text\", \"json_object\" or \"json_schema\"", param: "response_format")
        }
        switch type {
        case "text":
            return nil
        case "json_object":
            return #"{"type":"object"}"#
        case "json_schema":
            guard let schema = format["json_schema"]?["schema"], case .object = schema else {
                throw .invalid("response_format.json_schema.schema must be a JSON Schema object", param: "response_format")
            }
            return schema.compact
        default:
            throw .invalid("response_format.type \(JSONValue.quoted(type)): expected \"text\", \"json_object\" or \"json_schema\"",
                           param: "response_format")
        }
    }
}
