"""Unit tests for the harness's own rules (run: python -m unittest discover tools/conformance/tests)."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from moeconf.metrics import (bit_mismatches, compare_continuations,  # noqa: E402
                             confident_agreement, perplexity)


class ContinuationRules(unittest.TestCase):
    def test_identical_continuations_pass(self):
        c = compare_continuations([5, 6, 7], [1.0, 1.0, 1.0], False, [5, 6, 7], tie=0.02)
        self.assertTrue(c.ok)
        self.assertEqual(c.matched, 3)

    def test_difference_at_a_confident_step_fails(self):
        c = compare_continuations([5, 6, 7], [1.0, 0.5, 1.0], False, [5, 9, 7], tie=0.02)
        self.assertFalse(c.ok)
        self.assertEqual(c.matched, 1)

    def test_difference_at_a_near_tie_passes_and_stops_comparing(self):
        c = compare_continuations([5, 6, 7], [1.0, 0.01, 1.0], False, [5, 9, 1], tie=0.02)
        self.assertTrue(c.ok)
        self.assertIn("near-tie", c.note)

    def test_stopping_early_where_reference_goes_on_fails(self):
        c = compare_continuations([5, 6, 7], [1.0, 1.0, 1.0], False, [5], tie=0.02)
        self.assertFalse(c.ok)

    def test_going_on_where_reference_stopped_fails(self):
        # Reference stopped by end-of-generation at step 1 with a clear margin.
        c = compare_continuations([5], [1.0, 3.0], True, [5, 8], tie=0.02)
        self.assertFalse(c.ok)

    def test_going_on_where_reference_hit_its_budget_passes(self):
        c = compare_continuations([5], [1.0], False, [5, 8], tie=0.02)
        self.assertTrue(c.ok)


class AgreementAndPerplexity(unittest.TestCase):
    def test_only_confident_positions_count(self):
        top1 = np.array([1, 2, 3, 4])
        margin = np.array([0.1, 0.9, 0.6, 0.2])
        agree, counted = confident_agreement([0, 2, 0, 0], top1, margin, range(4), min_margin=0.5)
        self.assertEqual((agree, counted), (1, 2))

    def test_perplexity_of_uniform_choice_is_vocabulary_size(self):
        self.assertAlmostEqual(perplexity([np.log(1 / 8)] * 5), 8.0)


class BitComparison(unittest.TestCase):
    def test_one_ulp_counts_as_a_mismatch(self):
        a = np.array([1.0, 2.0], dtype=np.float32)
        b = a.copy()
        b[1] = np.nextafter(b[1], np.float32(3))
        self.assertEqual(bit_mismatches(a, b), 1)

    def test_signed_zeros_are_equal_and_shapes_must_match(self):
        self.assertEqual(bit_mismatches(np.array([0.0]), np.array([-0.0])), 0)
        self.assertEqual(bit_mismatches(np.zeros(3), np.zeros(2)), 3)


if __name__ == "__main__":
    unittest.main()
