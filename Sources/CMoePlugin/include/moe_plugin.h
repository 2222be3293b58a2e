/*
 * moe_plugin.h — the versioned C ABI between moed and its backend plugins.
 *
 * One header, shared by the daemon and every plugin. Only C types cross the
 * boundary, so a plugin may be written in Swift, C or anything that exports
 * C symbols. See docs/plugin-abi.md for the rules in prose.
 *
 * A plugin is a shared object exporting two symbols:
 *
 *   int32_t moe_plugin_probe(const moe_host_info *host,
 *                            char *reason, size_t reason_capacity);
 *   int32_t moe_plugin_init(uint32_t host_abi_version,
 *                           const moe_plugin_api **out_api);
 *
 * Rules every function in the table follows:
 *   - returns MOE_OK (0) or a negative moe_status; never aborts on bad input;
 *   - after a failure, last_error() on the same thread names what failed;
 *   - a failed call never fires its callback (open's progress callback is
 *     only called while open is still going to succeed or fail later, and
 *     never after open has returned);
 *   - "capacity" arguments count elements; a too-small buffer gives
 *     MOE_ERR_BUFFER_TOO_SMALL with the needed count written to the count
 *     out-parameter, so the caller can retry.
 *   - a moe_model is used by one thread at a time (the host serialises).
 */
#ifndef MOE_PLUGIN_H
#define MOE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to the structs or the table below. */
#define MOE_PLUGIN_ABI_VERSION 1u

#define MOE_PLUGIN_PROBE_SYMBOL "moe_plugin_probe"
#define MOE_PLUGIN_INIT_SYMBOL "moe_plugin_init"

typedef enum moe_status {
    MOE_OK = 0,
    MOE_ERR_INVALID_ARGUMENT = -1,  /* caller passed something unusable   */
    MOE_ERR_NOT_FOUND = -2,         /* file, sequence or token not found  */
    MOE_ERR_IO = -3,                /* reading the model failed           */
    MOE_ERR_FORMAT = -4,            /* the model file is malformed        */
    MOE_ERR_UNSUPPORTED = -5,       /* architecture or type not supported */
    MOE_ERR_NO_MEMORY = -6,         /* allocation or mapping failed       */
    MOE_ERR_BUFFER_TOO_SMALL = -7,  /* retry with the reported count      */
    MOE_ERR_ABI_MISMATCH = -8,      /* host and plugin ABI disagree       */
    MOE_ERR_INTERNAL = -9,          /* a bug in the plugin                */
    /* Appended with generate_text (text-level backends): */
    MOE_ERR_UNAVAILABLE = -10,      /* the upstream cannot be reached, or
                                       failed or died while answering    */
    MOE_ERR_TIMEOUT = -11,          /* the upstream went silent too long  */
    MOE_ERR_CANCELLED = -12,        /* the host's cancel callback said so */
    MOE_ERR_PERMISSION = -13,       /* the upstream refused the credentials */
    MOE_ERR_RATE_LIMITED = -14      /* the upstream is over its limits (429) */
} moe_status;

/* What the host tells the probe. */
typedef struct moe_host_info {
    uint32_t abi_version;           /* MOE_PLUGIN_ABI_VERSION of the host */
    uint32_t threads;               /* threads the host will allow        */
} moe_host_info;

/* Opaque model handle owned by the plugin. */
typedef struct moe_model moe_model;

/* One plugin-specific setting (moe_open_params.settings). */
typedef struct moe_setting {
    const char *key;                /* config key, NUL-terminated         */
    const char *value;              /* its value as text, NUL-terminated  */
} moe_setting;

typedef struct moe_open_params {
    const char *path;               /* model file (GGUF), NUL-terminated  */
    uint32_t context_length;        /* 0: the model's trained context     */
    uint32_t threads;               /* 0: plugin's choice                 */
    uint32_t experts_used;          /* 0: the model's default (MoE only)  */
    uint32_t max_sequences;         /* sequences that may live at once    */
    uint32_t kv_type;               /* moe_kv_cache_type; 0: F16          */
    /* Appended with generate_text: the tier's plugin-specific keys from
     * the config (e.g. the remote plugin's url, remote_model, api_key_file,
     * timeout), as strings; NULL when setting_count is 0. A plugin refuses
     * a key it does not know in estimate and open, naming it. */
    const moe_setting *settings;
    size_t setting_count;
} moe_open_params;


/* Element type of the KV cache (moe_open_params.kv_type). A plugin that
 * cannot hold a type refuses it in estimate and open with
 * MOE_ERR_UNSUPPORTED, naming why. */
typedef enum moe_kv_cache_type {
    MOE_KV_CACHE_DEFAULT = 0,       /* the plugin's default: F16          */
    MOE_KV_CACHE_F32 = 1,
    MOE_KV_CACHE_F16 = 2,
    MOE_KV_CACHE_Q8_0 = 3
} moe_kv_cache_type;

/* Bytes the model would take if opened with the same params: weights and
 * scratch as open will hold them, and the KV cache of ONE sequence at the
 * full context (the cache grows lazily; the host reserves per sequence). */
typedef struct moe_memory_estimate {
    uint64_t weight_bytes;          /* mapped or copied weights           */
    uint64_t cache_bytes;           /* KV of one full-context sequence    */
    uint64_t scratch_bytes;         /* activations and other buffers      */
} moe_memory_estimate;

/* Bytes an open model holds now (memory_usage). Weights count as held
 * whether mapped or copied: a mapped file counts whole, touched or not. */
typedef struct moe_memory_usage {
    uint64_t weight_bytes;          /* mapped or copied weights           */
    uint64_t cache_bytes;           /* KV cache allocated now, all seqs   */
    uint64_t scratch_bytes;         /* activations and other buffers      */
} moe_memory_usage;

typedef struct moe_model_info {
    char architecture[64];          /* e.g. "llama", NUL-terminated       */
    char name[128];                 /* human name, may be empty           */
    uint32_t vocab_size;            /* logits per evaluated row           */
    uint32_t context_length;        /* effective context per sequence     */
    uint32_t layers;
    uint32_t experts;               /* 0 for dense models                 */
    uint32_t experts_used;          /* 0 for dense models                 */
    int32_t bos_token;              /* -1: none                           */
    int32_t eos_token;              /* -1: none                           */
    int32_t eot_token;              /* end of turn, -1: none              */
} moe_model_info;

typedef struct moe_chat_message {
    const char *role;               /* "system", "user", "assistant"      */
    const char *content;            /* UTF-8, NUL-terminated              */
} moe_chat_message;

/* One token of a batch. Items of one sequence come in position order. */
typedef struct moe_batch_item {
    int32_t token;
    int32_t position;               /* 0-based position in its sequence   */
    int32_t sequence;               /* from sequence_create               */
    int32_t want_logits;            /* nonzero: emit a logits row         */
} moe_batch_item;

/* ---- Text-level generation (generate_text), version 1 ----
 * For a backend that takes text and returns text (a remote
 * OpenAI-compatible server), not tokens and logits. */
#define MOE_TEXT_GENERATION_VERSION 1u

/* What to generate. Sampling values are resolved by the host (the tier's
 * defaults with the request's overrides); the plugin passes them on. */
typedef struct moe_text_request {
    uint32_t struct_size;           /* sizeof(moe_text_request) of host   */
    const moe_chat_message *messages; /* chat turns, or NULL: use prompt  */
    size_t message_count;
    const char *prompt;             /* raw prompt when message_count is 0 */
    uint32_t max_tokens;            /* > 0                                */
    int32_t top_k;                  /* 0: off                             */
    float temperature;              /* 0: greedy                          */
    float top_p;
    float min_p;
    float repeat_penalty;           /* 1: off                             */
    uint64_t seed;
    const char *const *stops;       /* stop strings, NULL when none       */
    size_t stop_count;
} moe_text_request;

/* How a text generation ended. */
typedef struct moe_text_result {
    char finish_reason[32];         /* "stop", "length", ... NUL-terminated */
    int32_t has_usage;              /* nonzero: the counts come from the
                                       backend's own usage figures        */
    uint32_t prompt_tokens;
    uint32_t completion_tokens;     /* without usage: deltas received     */
} moe_text_result;

/* One piece of generated text (UTF-8, may be empty). Returns nonzero to
 * stop the generation (the host's client went away). */
typedef int32_t (*moe_text_delta_fn)(void *context, const char *text, size_t length);
/* Polled while waiting on the backend (at least every 100 ms); nonzero:
 * stop now and return MOE_ERR_CANCELLED. */
typedef int32_t (*moe_cancelled_fn)(void *context);

/* Progress of open, fraction in [0, 1]. Called on open's thread. */
typedef void (*moe_progress_fn)(void *context, float fraction);

typedef struct moe_plugin_api {
    uint32_t abi_version;           /* must equal the host's              */
    uint32_t struct_size;           /* sizeof(moe_plugin_api) of plugin   */
    const char *name;               /* short name, e.g. "dense"           */
    const char *version;            /* plugin's own version string        */

    /* Message for the last failed call on this thread; never NULL. */
    const char *(*last_error)(void);

    int32_t (*estimate)(const moe_open_params *params,
                        moe_memory_estimate *out_estimate);
    int32_t (*open)(const moe_open_params *params,
                    moe_progress_fn progress, void *progress_context,
                    moe_model **out_model);
    int32_t (*describe)(const moe_model *model, moe_model_info *out_info);

    /* Text to tokens; add_special adds BOS as the model says,
     * parse_special turns special-token text into special tokens. */
    int32_t (*tokenize)(moe_model *model, const char *text, size_t length,
                        int32_t add_special, int32_t parse_special,
                        int32_t *tokens, size_t capacity, size_t *out_count);
    /* Bytes of the tokens' pieces (may end inside a UTF-8 character). */
    int32_t (*detokenize)(moe_model *model, const int32_t *tokens,
                          size_t count, char *bytes, size_t capacity,
                          size_t *out_length);
    /* Renders messages with the model's chat template. */
    int32_t (*render_chat)(moe_model *model, const moe_chat_message *messages,
                           size_t count, int32_t add_generation_prompt,
                           char *bytes, size_t capacity, size_t *out_length);

    int32_t (*sequence_create)(moe_model *model, int32_t *out_sequence);
    /* Forgets every position of the sequence; the id stays valid. */
    int32_t (*sequence_clear)(moe_model *model, int32_t sequence);
    int32_t (*sequence_remove)(moe_model *model, int32_t sequence);

    /* Evaluates count items; writes vocab_size floats per item with
     * want_logits, in item order, into logits (capacity in floats). */
    int32_t (*evaluate)(moe_model *model, const moe_batch_item *items,
                        size_t count, float *logits, size_t capacity);

    /* Per layer, per expert: how often the router chose it, as
     * layers * experts counters, layer-major. Dense models give 0. */
    int32_t (*expert_stats)(moe_model *model, uint64_t *counts,
                            size_t capacity, size_t *out_count);

    /* Per layer: the mean entropy, in nats, of the router's distribution
     * over all experts, per routed token since open (log(experts) is a
     * router that cannot choose, 0 one that is certain). Dense models
     * give 0 values. */
    int32_t (*routing_entropy)(moe_model *model, double *nats,
                               size_t capacity, size_t *out_count);

    void (*close)(moe_model *model);

    /* ---- Optional entries, appended after the ABI 1 table. ----
     * The host reads an entry only when struct_size covers it and it is
     * not NULL; a plugin without one (an older plugin) is still valid and
     * simply offers less. Returning MOE_ERR_UNSUPPORTED has the same
     * effect for one model. */

    /* Prefix reuse (docs/plugin-abi.md, "Prefix reuse"): moed keeps the
     * KV of finished sequences and continues a later request from the
     * longest common prefix. All three, or none. */
    /* Keeps the first n_tokens positions of the sequence and forgets the
     * rest; the next token evaluated for it is at position n_tokens.
     * n_tokens beyond the sequence's length is MOE_ERR_INVALID_ARGUMENT. */
    int32_t (*sequence_truncate)(moe_model *model, int32_t sequence,
                                 uint32_t n_tokens);
    /* Makes destination (from sequence_create) hold the first n_tokens
     * positions of source, replacing whatever it held; source is
     * unchanged. n_tokens beyond source's length is
     * MOE_ERR_INVALID_ARGUMENT. */
    int32_t (*sequence_copy)(moe_model *model, int32_t source,
                             int32_t destination, uint32_t n_tokens);
    /* Bytes of memory the sequence's KV cache holds now (allocated, not
     * only used), which removing it would free. */
    int32_t (*sequence_bytes)(moe_model *model, int32_t sequence,
                              uint64_t *out_bytes);

    /* Generation core: every token that ends a generation (the
     * tokenizer's whole end-of-generation set: eos, eot, eom and the
     * control tokens such as "<|endoftext|>"). NULL: the host uses
     * moe_model_info's eos_token and eot_token. */
    int32_t (*context_end_tokens)(moe_model *model, int32_t *tokens,
                                  size_t capacity, size_t *out_count);

    /* memory_*: what an open model holds, for honest memory figures.
     * Without them the host counts the estimate made before open. */
    /* Bytes held now. */
    int32_t (*memory_usage)(moe_model *model, moe_memory_usage *out_usage);
    /* KV bytes one sequence takes once it holds `positions` positions
     * (growth steps included), so the host can reserve before admitting. */
    int32_t (*memory_sequence_bytes)(moe_model *model, uint32_t positions,
                                     uint64_t *out_bytes);

    /* Text-level generation (docs/plugin-abi.md, "Text-level backends").
     * A plugin that sets generate_text serves its tiers through it: the
     * host never calls tokenize, evaluate or the sequence entries for
     * them (they may refuse with MOE_ERR_UNSUPPORTED). Unlike every other
     * entry, generate_text may run on several threads at once for one
     * model (up to max_sequences calls), each call blocking its thread
     * until the generation ends; it calls on_delta on its own thread.
     * Returns MOE_OK with out_result filled, or a status and last_error:
     * MOE_ERR_UNAVAILABLE, _TIMEOUT, _PERMISSION, _RATE_LIMITED, _NOT_FOUND (unknown
     * model), _INVALID_ARGUMENT (the backend refused the request),
     * _CANCELLED, _FORMAT (the backend's answer was malformed). */
    uint32_t text_generation_version; /* MOE_TEXT_GENERATION_VERSION, or 0 */
    int32_t (*generate_text)(moe_model *model, const moe_text_request *request,
                             moe_text_delta_fn on_delta, moe_cancelled_fn cancelled,
                             void *context, moe_text_result *out_result);
} moe_plugin_api;

typedef int32_t (*moe_plugin_probe_fn)(const moe_host_info *host,
                                       char *reason, size_t reason_capacity);
typedef int32_t (*moe_plugin_init_fn)(uint32_t host_abi_version,
                                      const moe_plugin_api **out_api);

#ifdef __cplusplus
}
#endif

#endif /* MOE_PLUGIN_H */
