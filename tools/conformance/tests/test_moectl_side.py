"""The moectl side against fake moectl binaries (shell scripts): contract
violations must become MoectlError, never a crash or a silent pass."""
import os
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from moeconf.moectl_side import Moectl, MoectlError  # noqa: E402


def fake(tmp: str, body: str) -> Moectl:
    path = os.path.join(tmp, "moectl")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return Moectl(path, timeout=10)


class MoectlContract(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def test_tokens_are_parsed(self):
        m = fake(self.tmp, 'echo \'{"tokens": [1, 2, 3]}\'')
        self.assertEqual(m.tokenize("model.gguf", "abc"), [1, 2, 3])

    def test_text_is_passed_after_a_double_dash_so_dashes_survive(self):
        m = fake(self.tmp, 'for a; do last="$a"; done; echo "{\\"tokens\\": [${#last}]}"')
        self.assertEqual(m.tokenize("model.gguf", "--- x"), [5])

    def test_non_zero_exit_names_the_failure(self):
        m = fake(self.tmp, 'echo "no such tensor" >&2; exit 3')
        with self.assertRaisesRegex(MoectlError, "exited 3: no such tensor"):
            m.tokenize("model.gguf", "abc")

    def test_output_that_is_not_json_is_an_error(self):
        m = fake(self.tmp, 'echo hello')
        with self.assertRaisesRegex(MoectlError, "no JSON"):
            m.tokenize("model.gguf", "abc")

    def test_score_with_too_few_predictions_is_an_error(self):
        m = fake(self.tmp, 'echo \'{"tokens": [1, 2], "predictions": [5], "logprobs": [-1.0], "perplexity": 2.7}\'')
        with self.assertRaisesRegex(MoectlError, "predictions"):
            m.score_tokens("model.gguf", [1, 2])

    def test_missing_binary_is_an_error(self):
        with self.assertRaises(MoectlError):
            Moectl(os.path.join(self.tmp, "absent")).tokenize("m.gguf", "x")


if __name__ == "__main__":
    unittest.main()
