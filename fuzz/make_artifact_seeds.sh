#!/usr/bin/env bash
# Regenerates the seeds of the artifact targets (fuzz/seeds/artifact, artifact_content,
# wheel) from tests/fixtures/artifacts and a few more nvcc 13 builds of tiny kernels.
# Needs nvcc (13.0 was used), binutils (strip, ar), llvm-ar (BSD archive) and python3.
#   CUDA_HOME=/path/to/cuda-13.0 fuzz/make_artifact_seeds.sh
# artifact_structured's seeds are random bytes (any bytes build an artifact).
set -euo pipefail
cd "$(dirname "$0")"
CUDA_HOME=${CUDA_HOME:-../.cache/cuda-13.0}
NVCC="$CUDA_HOME/bin/nvcc"
FIX=../tests/fixtures/artifacts
# A fixed scratch path: nvcc embeds source paths, so this keeps the outputs reproducible.
work=/tmp/gpuarch-fuzz-seeds
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
N() { "$NVCC" -frandom-seed=gpuarch "$@"; }

cat > "$work/k.cu" <<'CU'
__global__ void k(float *x) { x[threadIdx.x] *= 2.0f; }
CU
cat > "$work/d.cu" <<'CU'
extern __device__ int g(int);
__global__ void kd(int *x) { x[threadIdx.x] = g(x[threadIdx.x]); }
CU
cat > "$work/g.cu" <<'CU'
__device__ int g(int v) { return v * 3 + 1; }
CU
(
    cd "$work"
    N --fatbin -gencode arch=compute_75,code=sm_75 -gencode arch=compute_87,code=compute_87 \
        --compress-mode=size -o old_size.fatbin k.cu
    N --fatbin -gencode 'arch=compute_86,code=[sm_86,compute_86]' --compress-mode=speed \
        -Xfatbin=-compress-all -o lz4_all.fatbin k.cu
    N -c -rdc=true -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=lto_90 \
        --compress-mode=none -o lto.o d.cu
    N -c -rdc=true -gencode 'arch=compute_75,code=[sm_75,compute_75]' --compress-mode=size -o d.o d.cu
    N -c -rdc=true -gencode 'arch=compute_75,code=[sm_75,compute_75]' -o g.o g.cu
    N -shared -cudart=none -Xcompiler -fPIC -gencode arch=compute_80,code=sm_80 \
        -gencode arch=compute_100a,code=sm_100a --compress-mode=none -o libk.so k.cu
    N -shared -cudart=none -Xcompiler -fPIC -rdc=true -gencode 'arch=compute_75,code=[sm_75,compute_75]' \
        -o librdc.so d.cu g.cu
    N -cubin -rdc=true -arch=sm_120a -o g_sm120a.cubin g.cu
    N -cubin -arch=sm_75 -o k_sm75.cubin k.cu
    N -ptx -arch=compute_120a -o k_120a.ptx k.cu
    N -c -gencode arch=compute_89,code=sm_89 -Xcompiler -fPIC -o a_long_member_name_for_bsd_format_89.o k.cu
    strip --strip-debug ./*.o
    strip --strip-unneeded libk.so librdc.so
    ar rcs libdg.a d.o g.o
    llvm-ar --format=bsd rcs libbsd.a a_long_member_name_for_bsd_format_89.o k_sm75.cubin
)
mkdir -p seeds/artifact seeds/artifact_content seeds/wheel
cp "$FIX"/{k.o,k_rdc.o,libk.a,k_sm90a.cubin,k_compute86.ptx,multi.fatbin,multi_zstd.fatbin,multi_none.fatbin} seeds/artifact/
cp "$work"/{old_size.fatbin,lz4_all.fatbin,g_sm120a.cubin,lto.o,libdg.a,librdc.so,libk.so,libbsd.a,k_120a.ptx} seeds/artifact/

python3 - <<'EOF'
import io, struct, zipfile
FIX = '../tests/fixtures/artifacts/'
A = 'seeds/artifact/'
C = 'seeds/artifact_content/'
W = 'seeds/wheel/'

# artifact_content: mode byte 2 | compression << 2 | 0x20 (cubin), u32 uncompressed size,
# then a compressed payload taken from a fatbin; and whole fatbins (mode 0 or 1).
n = 0
for path in [FIX + 'multi_lz4.fatbin', FIX + 'multi_zstd.fatbin', FIX + 'multi.fatbin',
             A + 'lz4_all.fatbin', A + 'old_size.fatbin']:
    b = open(path, 'rb').read()
    stem = path.split('/')[-1].split('.')[0]
    pos = 0
    while pos + 16 <= len(b):
        magic, _, hs, fat = struct.unpack_from('<IHHQ', b, pos)
        if magic != 0xBA55ED50:
            pos += 8
            continue
        e, end = pos + hs, pos + hs + fat
        while e < end:
            kind, _, ehs, padded = struct.unpack_from('<HHIQ', b, e)
            csize, = struct.unpack_from('<I', b, e + 0x10)
            flags, = struct.unpack_from('<Q', b, e + 0x28)
            usize, = struct.unpack_from('<Q', b, e + 0x38)
            comp = 2 if flags & 0x8000 else (1 if flags & 0x3000 else 0)
            payload = b[e + ehs:e + ehs + padded][:csize]
            if comp and len(payload) < 8000:
                mode = 2 | (comp << 2) | (0x20 if kind == 2 else 0)
                open(C + 'raw_%s_%d' % (stem, n), 'wb').write(
                    bytes([mode]) + struct.pack('<I', usize) + payload)
                n += 1
            e += ehs + padded
        pos = (end + 7) & ~7
for name, mode in [('multi_lz4.fatbin', 0), ('multi_zstd.fatbin', 1), ('multi.fatbin', 1)]:
    open(C + 'file_' + name, 'wb').write(bytes([mode]) + open(FIX + name, 'rb').read())

# wheel: mode 0/1 (raw zip) and 2/3 (members written by the target).
def wheel(members, method=zipfile.ZIP_DEFLATED, is_wheel=True):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, 'w', method) as z:
        if is_wheel:
            z.writestr('pkg-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\n')
        for name, data in members:
            z.writestr(name, data)
    return bio.getvalue()
rd = lambda p: open(p, 'rb').read()
open(W + 'raw_libk_so.whl', 'wb').write(b'\0' + wheel(
    [('pkg/lib/libk.so.1', rd(A + 'libk.so')), ('pkg/__init__.py', b'')]))
open(W + 'raw_obj_ar_ptx.whl', 'wb').write(b'\1' + wheel(
    [('pkg/k.o', rd(FIX + 'k.o')), ('pkg/libk.a', rd(FIX + 'libk.a')),
     ('pkg/k.ptx', rd(FIX + 'k_compute86.ptx'))]))
open(W + 'raw_stored_fatbin.whl', 'wb').write(b'\1' + wheel(
    [('pkg/k.fatbin', rd(FIX + 'multi_zstd.fatbin'))], zipfile.ZIP_STORED))
open(W + 'raw_not_a_wheel.zip', 'wb').write(b'\0' + wheel([('a.txt', b'hello')], is_wheel=False))
member = lambda idx, method, data: bytes([idx, method]) + struct.pack('<H', len(data)) + data
open(W + 'write_fatbins', 'wb').write(
    b'\3' + member(5, 1, rd(A + 'lz4_all.fatbin')) + member(0, 0, rd(A + 'old_size.fatbin')))
open(W + 'write_cubin_ptx', 'wb').write(
    b'\2' + member(4, 1, rd(FIX + 'k_sm90a.cubin')) + member(6, 0, rd(FIX + 'k_compute86.ptx')))
EOF
du -sb seeds/artifact seeds/artifact_content seeds/wheel
