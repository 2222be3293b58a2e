import MoeProtoC

/// What protobuf-c accepts but moed must not: it hands strings over as C
/// strings, so a NUL byte would silently cut a prompt or a tier name, and
/// it keeps the low 32 bits of a too-large uint32 varint, so max_tokens
/// 2^32 + 5 would become 5. This walks the wire bytes of a message that
/// protobuf-c already unpacked (so they are well formed) with the same
/// runtime descriptors, and names the first offending field.
enum WireCheck {
    /// The first problem in `bytes`, or nil. `path` prefixes field names
    /// ("generate.stop[2]").
    static func problem(in bytes: UnsafeRawBufferPointer, of descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                        path: String = "") -> String? {
        var reader = WireReader(bytes: bytes)
        var occurrences: [UInt32: Int] = [:]
        while !reader.isAtEnd {
            // Anything malformed was refused by protobuf-c before this runs;
            // stopping quietly here is only a guard.
            guard let tag = reader.varint() else { return nil }
            let number = UInt32(truncatingIfNeeded: tag >> 3)
            let field = protobuf_c_message_descriptor_get_field(descriptor, number)
            let name = field.map { fieldName($0, path: path, occurrences: &occurrences) } ?? ""
            switch tag & 7 {
            case 0:
                guard let value = reader.varint() else { return nil }
                if let field, let problem = varintProblem(value, field: field, name: name) { return problem }
            case 1: guard reader.skip(8) else { return nil }
            case 5: guard reader.skip(4) else { return nil }
            case 2:
                guard let length = reader.varint(), let body = reader.take(length) else { return nil }
                if let field, let problem = bodyProblem(body, field: field, name: name) { return problem }
            default: return nil
            }
        }
        return nil
    }

    /// "generate.prompt", or "generate.stop[3]" for the fourth of a repeated field.
    private static func fieldName(_ field: UnsafePointer<ProtobufCFieldDescriptor>, path: String,
                                  occurrences: inout [UInt32: Int]) -> String {
        var name = (path.isEmpty ? "" : path + ".") + String(cString: field.pointee.name)
        if field.pointee.label == PROTOBUF_C_LABEL_REPEATED {
            let index = occurrences[field.pointee.id, default: 0]
            occurrences[field.pointee.id] = index + 1
            name += "[\(index)]"
        }
        return name
    }

    private static func bodyProblem(_ body: UnsafeRawBufferPointer, field: UnsafePointer<ProtobufCFieldDescriptor>,
                                    name: String) -> String? {
        switch field.pointee.type {
        case PROTOBUF_C_TYPE_STRING:
            return body.contains(0) ? "\(name) contains a NUL byte" : nil
        case PROTOBUF_C_TYPE_MESSAGE:
            guard let nested = field.pointee.descriptor else { return nil }
            return problem(in: body, of: nested.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), path: name)
        default:
            return nil
        }
    }

    private static func varintProblem(_ value: UInt64, field: UnsafePointer<ProtobufCFieldDescriptor>,
                                      name: String) -> String? {
        switch field.pointee.type {
        case PROTOBUF_C_TYPE_UINT32:
            return value > UInt64(UInt32.max) ? "\(name) = \(value) does not fit in 32 bits" : nil
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_ENUM:
            let signed = Int64(bitPattern: value)
            return Int32(exactly: signed) == nil ? "\(name) = \(signed) does not fit in 32 bits" : nil
        default:
            return nil
        }
    }
}

/// Reads protobuf wire primitives from a byte buffer, never past its end.
private struct WireReader {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    var isAtEnd: Bool { index >= bytes.count }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard index < bytes.count else { return nil }
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count <= bytes.count - index else { return false }
        index += count
        return true
    }

    mutating func take(_ length: UInt64) -> UnsafeRawBufferPointer? {
        guard length <= UInt64(bytes.count - index) else { return nil }
        let start = index
        index += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<index])
    }
}
