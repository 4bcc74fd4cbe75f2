# tolerance.sh — how far a run may drift from its golden files and still pass; sourced by
# tools/golden.sh and the determinism test.
#
# Measured on the 9 cases of cases.tsv against the 2-thread release rendering
# (`tools/golden.sh measure`, and `check -x build-asan/xattn` for the ASan/UBSan debug build):
# 1 and 3 threads, OpenBLAS kernels forced with OPENBLAS_CORETYPE=Haswell, SandyBridge, Nehalem,
# Prescott. Worst seen: PNG max abs 1 (two DDPM cases, SandyBridge and Nehalem kernels);
# heatmaps max abs 2.6e-4 (three-squares-ddpm, DDPM's path amplifies rounding; maps peak at 3-12).
# The limits are 2x and ~8x those, for other CPUs' BLAS kernels. A one-weight change of 0.01 in
# conv_in (teeth test) moves the PNGs by up to 41 and the maps by up to 2.5e-2; another seed
# moves the PNGs by 100+.
GOLDEN_MAX_ABS=2         # PNG: max abs difference, 0-255 units
GOLDEN_HEAT_ATOL=2e-3    # heatmaps.safetensors: max abs difference
