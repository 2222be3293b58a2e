import ArgumentParser
import MoeAPI
import MoeClient

/// The daemon half of `moectl tokenize`: used when `--model` is absent.
/// `tier` nil means the daemon's default tier. The shared TokenizeCommand
/// calls this; output matches the offline verb (`{"tokens": [...]}` with
/// --json, else one "id<TAB>piece" line per token).
func tokenizeWithDaemon(tier: String?, text: String, socket: String?, json: Bool) throws {
    var options = DaemonOptions()
    options.socket = socket
    options.json = json
    var request = TokenizeRequest()
    request.tier = tier ?? ""
    request.text = text
    request.addSpecial = true
    request.parseSpecial = true
    let reply = try options.withClient { client -> TokenizeReply in
        var progress = ProgressLine()
        let final = try client.call(.tokenize(request)) { _ = progress.handle($0) }
        progress.end()
        guard case .tokenize(let reply) = final.result else { throw ClientError.connectionLost("no tokens in the answer") }
        return reply
    }
    if json { return try printJSON(["tokens": reply.tokens]) }
    for (token, piece) in zip(reply.tokens, reply.pieces) {
        print("\(token)\t\(String(decoding: piece, as: UTF8.self).debugDescription)")
    }
}
