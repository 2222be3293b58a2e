"""Structured output checked by a real validator.

Sends COUNT generate requests with a JSON Schema to TIER (pipelined on one
connection, several in flight), each with its own seed at temperature 1,
and validates every finished text with the `jsonschema` package. Usage:

    python structured_output.py PROTOS_DIR SOCKET SCHEMA_FILE TIER COUNT

Prints one JSON object (counts, finish reasons, the first failures) for
the Swift test to check.
"""
import json
import sys

import jsonschema

from moed_client import Client, load_messages

IN_FLIGHT = 8


def main():
    protos, socket_path, schema_path, tier, count = sys.argv[1:6]
    count = int(count)
    pb = load_messages(protos)
    schema_text = open(schema_path).read()
    validator = jsonschema.Draft202012Validator(json.loads(schema_text))
    client = Client(pb, socket_path, timeout=600)
    texts, reasons, errors = {}, {}, []
    sent = 0
    pending = set()
    while sent < count or pending:
        while sent < count and len(pending) < IN_FLIGHT:
            request = pb.GenerateRequest(
                tier=tier, max_tokens=1500, json_schema=schema_text,
                sampling=pb.Sampling(temperature=1.0, seed=1000 + sent))
            request.messages.add(role="user", content="Describe a person as JSON.")
            pending.add(client.send(generate=request))
            sent += 1
        response = client.receive()
        if response.HasField("chunk"):
            texts[response.id] = texts.get(response.id, "") + response.chunk.text
        if response.final:
            pending.discard(response.id)
            if response.HasField("error") and response.error.code != 0:
                errors.append(f"{response.id}: {response.error.message}")
                continue
            reasons[response.summary.finish_reason] = reasons.get(response.summary.finish_reason, 0) + 1
            text = texts.get(response.id, "")
            try:
                validator.validate(json.loads(text))
            except (ValueError, jsonschema.ValidationError) as problem:
                errors.append(f"{response.id}: {str(problem)[:200]} in {text[:300]!r}")
    valid = count - len(errors)
    print(json.dumps({"count": count, "valid": valid, "finish_reasons": reasons, "errors": errors[:5],
                      "sample": next(iter(texts.values()), "")}))


if __name__ == "__main__":
    main()
