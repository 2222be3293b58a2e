"""The random-blocks file: every type present, finite, and scales where we put them."""
import os
import sys
import tempfile
import unittest

import numpy as np
import gguf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from moeconf import derive  # noqa: E402


class RandomBlocks(unittest.TestCase):
    def test_every_type_round_trips_through_a_gguf_and_dequantizes_finite(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = derive.random_blocks_file(os.path.join(tmp, "r.gguf"), seed=1)
            tensors = {t.name: t for t in gguf.GGUFReader(path).tensors}
            for qtype in derive.RANDOM_TYPES:
                t = tensors[derive.random_tensor_name(qtype)]
                self.assertEqual(t.tensor_type, qtype)
                values = gguf.quants.dequantize(t.data, t.tensor_type)
                self.assertEqual(values.size, derive.RANDOM_SHAPE[0] * derive.RANDOM_SHAPE[1])
                self.assertTrue(np.isfinite(values).all(), qtype.name)
                self.assertGreater(np.count_nonzero(values), values.size // 2, qtype.name)

    def test_scales_are_normal_f16_within_range(self):
        rng = np.random.default_rng(3)
        blocks = derive.random_blocks(gguf.GGMLQuantizationType.Q6_K, rng)
        scales = blocks.reshape(-1, 210)[:, 208:210].copy().view(np.float16).astype(np.float32)
        self.assertTrue(((np.abs(scales) >= 9e-5) & (np.abs(scales) <= 1.0)).all())


if __name__ == "__main__":
    unittest.main()
