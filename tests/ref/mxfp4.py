#!/usr/bin/env python3
# mxfp4.py — reference MXFP4 blocks and their values from an independent implementation:
# ggml's own quantize_row_mxfp4_ref and dequantize_row_mxfp4, called in libggml-base.so as
# node-llama-cpp 3.22.1 ships it (npm install node-llama-cpp@3.22.1 outside this repository;
# its prebuilt llama.cpp, not natter). Not run by `make test`: its output is committed as
# tests/data/mxfp4-ggml.bin and tests/test_quant.c checks natter's dequantization against it.
#
#   python3 tests/ref/mxfp4.py /path/to/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so \
#       > tests/data/mxfp4-ggml.bin
#
# The file, little-endian, no header:
#   part 1, every code: 256 blocks of 17 bytes, block e having scale byte e and its 16 bytes
#           10 32 54 76 98 ba dc fe 01 23 45 67 89 ab cd ef (each fp4 code twice), then the
#           256 × 32 floats ggml dequantizes them to (the whole table: every scale, every code,
#           the denormal scales e = 0 and 1 included);
#   part 2, a real quantization: 8 rows of 256 values (a fixed PRNG, some rows scaled far up
#           or down, some values zero) as floats, the 64 blocks ggml quantizes them to, and the
#           floats ggml dequantizes those blocks to.
import ctypes
import struct
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.quantize_row_mxfp4_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
lib.dequantize_row_mxfp4.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
BLOCK = 17


def dequant(blocks, n):
    src = ctypes.create_string_buffer(bytes(blocks), len(blocks))
    dst = (ctypes.c_float * n)()
    lib.dequantize_row_mxfp4(src, dst, n)
    return bytes(dst)


out = bytearray()
codes = bytes(((2 * j) % 16) | (((2 * j + 1) % 16) << 4) for j in range(8)) + \
        bytes(((2 * j + 1) % 16) | (((2 * j) % 16) << 4) for j in range(8))
table = bytearray()
for e in range(256):
    table += bytes([e]) + codes
out += table + dequant(table, 256 * 32)

# xorshift64*, fixed seed: the same values on every machine.
state = 0x9E3779B97F4A7C15


def rnd():
    global state
    state ^= (state >> 12) & 0xFFFFFFFFFFFFFFFF
    state ^= (state << 25) & 0xFFFFFFFFFFFFFFFF
    state ^= (state >> 27) & 0xFFFFFFFFFFFFFFFF
    return ((state * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) >> 40  # 24 bits


ROWS, COLS = 8, 256
scales = [1.0, 0.01, 100.0, 1e-30, 3e30, 1.0, 0.5, 7.0]
xs = []
for r in range(ROWS):
    for c in range(COLS):
        v = (rnd() / float(1 << 23) - 1.0) * scales[r]
        if r == 5 and c % 3 == 0:
            v = 0.0
        xs.append(struct.unpack("<f", struct.pack("<f", v))[0])
xb = struct.pack("<%df" % len(xs), *xs)
q = ctypes.create_string_buffer(ROWS * COLS // 32 * BLOCK)
src = ctypes.create_string_buffer(xb, len(xb))
for r in range(ROWS):
    lib.quantize_row_mxfp4_ref(ctypes.addressof(src) + r * COLS * 4,
                               ctypes.addressof(q) + r * COLS // 32 * BLOCK, COLS)
out += xb + q.raw + dequant(q.raw, ROWS * COLS)
sys.stdout.buffer.write(out)
