"""Model FLOPs and the machine's matrix-product speed, to say how close training gets.

A model's achieved FLOP/s only means something next to what the same device
reaches on its best case, a large dense matrix product.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def forward_flops(model) -> int:
    """Multiply-adds x 2 of one sample's forward pass through the convolutions and dense layers.

    Batch norm, activations and additions are left out: they are a few percent
    of the total and run at memory speed, not matrix-product speed.
    """
    from keras import layers

    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):
            total += forward_flops(layer)
        elif isinstance(layer, layers.Conv2D):
            height, width, _ = layer.output.shape[1:]
            kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
            total += 2 * height * width * kernel_h * kernel_w * channels_in * channels_out
        elif isinstance(layer, layers.Dense):
            channels_in, channels_out = layer.kernel.shape
            total += 2 * channels_in * channels_out
    return int(total)


def training_flops_per_sample(model) -> int:
    """Forward plus backward (about twice the forward) for one training sample."""
    return 3 * forward_flops(model)


def matmul_tflops(dtype: str, size: int, repeats: int = 20) -> float:
    """TFLOP/s of large square matrix products under the current Keras backend: what the
    device can do at best.

    Each product feeds the next; scaling by 1/sqrt(size) keeps float16 values
    finite. Converting the result to NumPy waits for the device.
    """
    from keras import ops

    generator = np.random.default_rng(0)
    matrix = ops.convert_to_tensor(
        (generator.standard_normal((size, size)) / size**0.5).astype(np.float32), dtype=dtype
    )
    start = ops.convert_to_tensor(
        generator.standard_normal((size, size)).astype(np.float32), dtype=dtype
    )

    def chained_products():
        result = start
        for _ in range(repeats):
            result = ops.matmul(matrix, result)
        return ops.convert_to_numpy(ops.sum(ops.cast(result[:1], "float32")))

    chained_products()  # warm up
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        chained_products()
        timings.append(time.perf_counter() - started)
    return 2 * size**3 * repeats / statistics.median(timings) / 1e12


def flops_cell(flops_per_second: float) -> str:
    if flops_per_second >= 1e12:
        return f"{flops_per_second / 1e12:,.2f} TFLOP/s"
    return f"{flops_per_second / 1e9:,.2f} GFLOP/s"
