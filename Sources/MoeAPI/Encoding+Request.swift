import MoeProtoC

// Swift Request → protobuf-c → bytes.

extension Request {
    /// The protobuf encoding of this request (without the frame header).
    public func serialized() -> [UInt8] {
        let arena = Arena()
        let message: UnsafeMutablePointer<Moed__V1__Request> = arena.message { moed__v1__request__init($0) }
        message.pointee.has_id = 1
        message.pointee.id = id
        fill(message, arena)
        return pack(message)
    }

    private func fill(_ m: UnsafeMutablePointer<Moed__V1__Request>, _ arena: Arena) {
        switch call {
        case .status:
            m.pointee.call_case = MOED__V1__REQUEST__CALL_STATUS
            m.pointee.status = arena.message { moed__v1__status_request__init($0) }
        case .tiers:
            m.pointee.call_case = MOED__V1__REQUEST__CALL_TIERS
            m.pointee.tiers = arena.message { moed__v1__tiers_request__init($0) }
        case .plugins:
            m.pointee.call_case = MOED__V1__REQUEST__CALL_PLUGINS
            m.pointee.plugins = arena.message { moed__v1__plugins_request__init($0) }
        case .load(let tier):
            m.pointee.call_case = MOED__V1__REQUEST__CALL_LOAD
            m.pointee.load = arena.message { moed__v1__load_request__init($0); $0.pointee.tier = arena.string(tier) }
        case .unload(let tier):
            m.pointee.call_case = MOED__V1__REQUEST__CALL_UNLOAD
            m.pointee.unload = arena.message { moed__v1__unload_request__init($0); $0.pointee.tier = arena.string(tier) }
        case .use(let tier):
            m.pointee.call_case = MOED__V1__REQUEST__CALL_USE
            m.pointee.use = arena.message { moed__v1__use_request__init($0); $0.pointee.tier = arena.string(tier) }
        case .generate(let request):
            m.pointee.call_case = MOED__V1__REQUEST__CALL_GENERATE
            m.pointee.generate = request.build(arena)
        case .tokenize(let request):
            m.pointee.call_case = MOED__V1__REQUEST__CALL_TOKENIZE
            m.pointee.tokenize = arena.message {
                moed__v1__tokenize_request__init($0)
                $0.pointee.tier = arena.string(request.tier)
                $0.pointee.text = arena.string(request.text)
                $0.pointee.has_add_special = 1
                $0.pointee.add_special = request.addSpecial ? 1 : 0
                $0.pointee.has_parse_special = 1
                $0.pointee.parse_special = request.parseSpecial ? 1 : 0
            }
        case .stats:
            m.pointee.call_case = MOED__V1__REQUEST__CALL_STATS
            m.pointee.stats = arena.message { moed__v1__stats_request__init($0) }
        case .reload:
            m.pointee.call_case = MOED__V1__REQUEST__CALL_RELOAD
            m.pointee.reload = arena.message { moed__v1__reload_request__init($0) }
        case .cancel(let target):
            m.pointee.call_case = MOED__V1__REQUEST__CALL_CANCEL
            m.pointee.cancel = arena.message {
                moed__v1__cancel_request__init($0)
                $0.pointee.has_target_id = 1
                $0.pointee.target_id = target
            }
        }
    }
}

extension GenerateRequest {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__GenerateRequest> {
        arena.message { (m: UnsafeMutablePointer<Moed__V1__GenerateRequest>) in
            moed__v1__generate_request__init(m)
            m.pointee.tier = arena.string(tier)
            m.pointee.prompt = arena.string(prompt)
            let turns = messages.map { turn in
                arena.message { (c: UnsafeMutablePointer<Moed__V1__ChatMessage>) in
                    moed__v1__chat_message__init(c)
                    c.pointee.role = arena.string(turn.role)
                    c.pointee.content = arena.string(turn.content)
                }
            }
            m.pointee.n_messages = turns.count
            m.pointee.messages = arena.pointers(turns)
            m.pointee.sampling = sampling.build(arena)
            m.pointee.n_stop = stop.count
            m.pointee.stop = arena.strings(stop)
            m.pointee.has_max_tokens = 1
            m.pointee.max_tokens = maxTokens
            if let logprobs { m.pointee.has_logprobs = 1; m.pointee.logprobs = logprobs }
            if let contextShift { m.pointee.has_context_shift = 1; m.pointee.context_shift = contextShift ? 1 : 0 }
            if let jsonSchema { m.pointee.json_schema = arena.string(jsonSchema) }
            if let grammar { m.pointee.grammar = arena.string(grammar) }
            // prefix11: sent only when off, so the proto default (true) holds otherwise
            if !cachePrompt { m.pointee.has_cache_prompt = 1; m.pointee.cache_prompt = 0 }
        }
    }
}

extension SamplingOverrides {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__Sampling> {
        arena.message { (s: UnsafeMutablePointer<Moed__V1__Sampling>) in
            moed__v1__sampling__init(s)
            if let temperature { s.pointee.has_temperature = 1; s.pointee.temperature = temperature }
            if let topK { s.pointee.has_top_k = 1; s.pointee.top_k = topK }
            if let topP { s.pointee.has_top_p = 1; s.pointee.top_p = topP }
            if let minP { s.pointee.has_min_p = 1; s.pointee.min_p = minP }
            if let repeatPenalty { s.pointee.has_repeat_penalty = 1; s.pointee.repeat_penalty = repeatPenalty }
            if let repeatLastN { s.pointee.has_repeat_last_n = 1; s.pointee.repeat_last_n = repeatLastN }
            if let seed { s.pointee.has_seed = 1; s.pointee.seed = seed }
        }
    }
}
