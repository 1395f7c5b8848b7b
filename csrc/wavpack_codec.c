/* WavPack block coding through libwavpack, entirely in memory. */
#include <stdlib.h>
#include <string.h>
#include <wavpack/wavpack.h>

#include "block_codec.h"
#include "wavpack_codec.h"

/* wavpack-numcodecs splits a stream into WavPack blocks of at most 120000
 * samples; we do the same.  A WavPack block codes at most two channels and has
 * a 32-byte header, which bounds how small a valid stream can be. */
#define WV_BLOCK_SAMPLES 120000
#define WV_MAX_BLOCK_SAMPLES 131072
#define WV_HEADER_BYTES 32

const char *ephys_wavpack_library_version(void) { return WavpackGetLibraryVersionString(); }

static uint64_t wv_min_bytes(uint64_t n_samples, uint64_t n_channels)
{
    if (!n_samples || !n_channels) return 0;
    return WV_HEADER_BYTES * ((n_channels + 1) / 2) * ((n_samples + WV_MAX_BLOCK_SAMPLES - 1) / WV_MAX_BLOCK_SAMPLES);
}

static int write_block(void *id, void *data, int32_t length)
{
    return ephys_buf_append(id, data, (size_t)length) == EPHYS_OK;
}

/* Code channels [c0, c0 + nc) of src as one stream.  wavpack-numcodecs' streams
 * carry the RIFF header libwavpack adds by default; ours leave it out. */
static int wv_encode(const ephys_wavpack_params_t *p, const ephys_view_t *src, uint64_t c0,
                     uint32_t nc, int riff_header, ephys_buf_t *out)
{
    size_t n_samples = src->n_samples;
    if (nc > WAVPACK_MAX_CHANS || n_samples >= UINT32_MAX) return EPHYS_ERR_ARGS;
    WavpackConfig config;
    memset(&config, 0, sizeof(config));
    config.num_channels = (int)nc;
    config.bytes_per_sample = (int)ephys_dtype_size(src->dtype);
    config.bits_per_sample = 8 * config.bytes_per_sample;
    config.float_norm_exp = src->dtype == EPHYS_DTYPE_FLOAT32 ? 127 : 0;
    config.sample_rate = 32000; /* unused by the coder; kept equal to wavpack-numcodecs */
    /* libwavpack refuses custom block sizes under 16 samples; it then picks its own. */
    config.block_samples = n_samples < 16 ? 0 : (int32_t)n_samples;
    while (config.block_samples > WV_BLOCK_SAMPLES) config.block_samples = (config.block_samples + 1) >> 1;
    /* Pair channels as stereo (joint coding) in every mode, lossy included. */
    config.flags = CONFIG_PAIR_UNDEF_CHANS;
    switch (p->level) {
    case 1: config.flags |= CONFIG_FAST_FLAG; break;
    case 2: break;
    case 3: config.flags |= CONFIG_HIGH_FLAG; break;
    case 4: config.flags |= CONFIG_HIGH_FLAG | CONFIG_VERY_HIGH_FLAG; break;
    default: return EPHYS_ERR_ARGS;
    }
    if (p->bps > 0) {
        if (p->bps < 2.25) return EPHYS_ERR_ARGS;
        config.flags |= CONFIG_HYBRID_FLAG;
        config.bitrate = (float)p->bps;
        if (!p->dynamic_shaping) {
            /* An override without CONFIG_HYBRID_SHAPE turns shaping off. */
            config.flags |= CONFIG_SHAPE_OVERRIDE;
            if (p->shaping_weight != 0) {
                config.flags |= CONFIG_HYBRID_SHAPE;
                config.shaping_weight = (float)p->shaping_weight;
            }
        }
    }
    int32_t *piece = malloc((size_t)EPHYS_PIECE * nc * sizeof(int32_t));
    WavpackContext *wpc = piece ? WavpackOpenFileOutput(write_block, out, NULL) : NULL;
    if (!wpc) {
        free(piece);
        return EPHYS_ERR_NOMEM;
    }
    int err = EPHYS_OK;
    if (!WavpackSetConfiguration(wpc, &config, (uint32_t)n_samples) || !WavpackPackInit(wpc))
        err = EPHYS_ERR_LIBRARY;
    /* An empty wrapper stops libwavpack from making up a RIFF header. */
    else if (!riff_header && !WavpackAddWrapper(wpc, "", 0))
        err = EPHYS_ERR_LIBRARY;
    const int check_range = p->bps > 0 && config.bytes_per_sample == 4 && src->dtype != EPHYS_DTYPE_FLOAT32;
    const int32_t hybrid_max = (int32_t)1 << (EPHYS_WAVPACK_HYBRID_INT32_BITS - 1);
    for (size_t t = 0; !err && t < n_samples; t += EPHYS_PIECE) {
        size_t nt = n_samples - t < EPHYS_PIECE ? n_samples - t : EPHYS_PIECE;
        ephys_view_load(src, t, nt, c0, nc, piece);
        for (size_t i = 0; check_range && !err && i < nt * nc; i++)
            if (piece[i] < -hybrid_max || piece[i] >= hybrid_max) err = EPHYS_ERR_RANGE;
        if (!err && !WavpackPackSamples(wpc, piece, (uint32_t)nt)) err = EPHYS_ERR_LIBRARY;
    }
    if (!err && !WavpackFlushSamples(wpc)) err = EPHYS_ERR_LIBRARY;
    WavpackCloseFile(wpc);
    free(piece);
    return err;
}

static int wv_encode_block(const void *params, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                           ephys_buf_t *out)
{
    return wv_encode(params, src, c0, nc, 0, out);
}

/* ---- reading a WavPack stream from memory ---- */

typedef struct {
    const uint8_t *start, *pos, *end;
    int pushed; /* -1: none */
} reader_t;

static int32_t rd_read(void *id, void *data, int32_t count)
{
    reader_t *r = id;
    uint8_t *o = data;
    if (count <= 0) return 0;
    if (r->pushed >= 0) {
        *o++ = (uint8_t)r->pushed;
        r->pushed = -1;
        count--;
    }
    size_t avail = (size_t)(r->end - r->pos), n = (size_t)count < avail ? (size_t)count : avail;
    memcpy(o, r->pos, n);
    r->pos += n;
    return (int32_t)((o + n) - (uint8_t *)data);
}
static int32_t rd_write(void *id, void *data, int32_t count) { (void)id; (void)data; (void)count; return 0; }
static int64_t rd_get_pos(void *id) { reader_t *r = id; return (r->pos - r->start) - (r->pushed >= 0); }
static int rd_set_pos_abs(void *id, int64_t pos) { (void)id; (void)pos; return -1; }
static int rd_set_pos_rel(void *id, int64_t delta, int mode) { (void)id; (void)delta; (void)mode; return -1; }
static int rd_push_back(void *id, int c) { reader_t *r = id; r->pushed = c & 0xff; return c; }
static int64_t rd_length(void *id) { reader_t *r = id; return r->end - r->start; }
static int rd_can_seek(void *id) { (void)id; return 0; }
static int rd_close(void *id) { (void)id; return 0; }

static WavpackStreamReader64 memory_reader = {rd_read, rd_write, rd_get_pos, rd_set_pos_abs, rd_set_pos_rel,
                                              rd_push_back, rd_length, rd_can_seek, NULL, rd_close};

static int wv_dtype(WavpackContext *wpc)
{
    int bytes = WavpackGetBytesPerSample(wpc), is_float = (WavpackGetMode(wpc) & MODE_FLOAT) != 0;
    if (is_float) return bytes == 4 ? EPHYS_DTYPE_FLOAT32 : 0;
    return bytes == 1 ? EPHYS_DTYPE_INT8 : bytes == 2 ? EPHYS_DTYPE_INT16 : bytes == 4 ? EPHYS_DTYPE_INT32 : 0;
}

static WavpackContext *wv_open(reader_t *r, const uint8_t *in, size_t len)
{
    char error[80];
    r->start = r->pos = in;
    r->end = in + len;
    r->pushed = -1;
    return WavpackOpenFileInputEx64(&memory_reader, r, NULL, error, 0, 0);
}

/* ---- checking a stream before it is decoded ----
 * libwavpack skips what it cannot read: a block whose checksum fails inside a
 * multichannel set is dropped and its channels repeat the previous ones, junk
 * before a block is passed over, and bytes after the last block are ignored.
 * So every stream is walked first, block by block: each block must verify
 * (WavpackVerifySingleBlock, which checks its checksum), follow the previous
 * one without a gap, continue the sample count, and the channel sets must be
 * whole (initial block first, final block last) and all of the same width.
 * The walk also gives the stream's shape before anything is allocated. */

#define WV_MIN_VERSION 0x402
#define WV_MAX_VERSION 0x410

typedef struct {
    uint64_t n_samples;
    uint32_t n_channels;
    int dtype;
} wv_shape_t;

static uint32_t rd_u32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int wv_block_dtype(uint32_t flags)
{
    int bytes = (int)(flags & BYTES_STORED) + 1;
    if (flags & FLOAT_DATA) return bytes == 4 ? EPHYS_DTYPE_FLOAT32 : 0;
    return bytes == 1 ? EPHYS_DTYPE_INT8 : bytes == 2 ? EPHYS_DTYPE_INT16 : bytes == 4 ? EPHYS_DTYPE_INT32 : 0;
}

static int wv_scan(const uint8_t *in, size_t len, int verify, wv_shape_t *shape)
{
    uint64_t done = 0, set_index = 0;
    uint32_t set_samples = 0, set_channels = 0, width = 0;
    int64_t total = -2; /* the first block's total_samples field */
    int in_set = 0, dtype = 0, err = EPHYS_OK;
    unsigned char *copy = NULL; /* aligned, writable copy for WavpackVerifySingleBlock */
    size_t copy_cap = 0, pos = 0;
    while (!err && pos < len) {
        const uint8_t *h = in + pos;
        if (len - pos < WV_HEADER_BYTES || memcmp(h, "wvpk", 4)) { err = EPHYS_ERR_CORRUPT; break; }
        uint64_t size = (uint64_t)rd_u32(h + 4) + 8;
        unsigned version = h[8] | (unsigned)h[9] << 8;
        uint64_t index = rd_u32(h + 16) | (uint64_t)h[10] << 32;
        uint32_t samples = rd_u32(h + 20), flags = rd_u32(h + 24);
        if (size < WV_HEADER_BYTES || size > len - pos || version < WV_MIN_VERSION || version > WV_MAX_VERSION ||
            !samples || samples > WV_MAX_BLOCK_SAMPLES || !wv_block_dtype(flags)) {
            err = EPHYS_ERR_CORRUPT;
            break;
        }
        if (verify && size > copy_cap) {
            free(copy);
            copy = malloc(size);
            copy_cap = copy ? size : 0;
            if (!copy) { err = EPHYS_ERR_NOMEM; break; }
        }
        if (verify) memcpy(copy, h, size);
        if (verify && !WavpackVerifySingleBlock(copy, 1)) { err = EPHYS_ERR_CORRUPT; break; }
        if (total == -2) {
            uint32_t t32 = rd_u32(h + 12);
            total = t32 == UINT32_MAX ? -1 : (int64_t)t32 + ((int64_t)h[11] << 32) - h[11];
            dtype = wv_block_dtype(flags);
        }
        if (wv_block_dtype(flags) != dtype) { err = EPHYS_ERR_CORRUPT; break; }
        if (flags & INITIAL_BLOCK) {
            if (in_set || index != done) { err = EPHYS_ERR_CORRUPT; break; }
            in_set = 1, set_index = index, set_samples = samples, set_channels = 0;
        } else if (!in_set || index != set_index || samples != set_samples) {
            err = EPHYS_ERR_CORRUPT;
            break;
        }
        set_channels += flags & MONO_FLAG ? 1 : 2;
        if (set_channels > WAVPACK_MAX_CHANS) { err = EPHYS_ERR_CORRUPT; break; }
        if (flags & FINAL_BLOCK) {
            if (width && set_channels != width) { err = EPHYS_ERR_CORRUPT; break; }
            width = set_channels;
            done += samples;
            in_set = 0;
        }
        pos += (size_t)size;
    }
    free(copy);
    if (!err && (in_set || !done || total != (int64_t)done)) err = EPHYS_ERR_CORRUPT;
    if (!err) {
        shape->n_samples = done;
        shape->n_channels = width;
        shape->dtype = dtype;
    }
    return err;
}

static int wv_decode_block(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    reader_t r;
    size_t n_samples = dst->n_samples;
    wv_shape_t shape;
    int scanned = wv_scan(in, len, 1, &shape);
    if (scanned) return scanned;
    if (shape.n_samples != n_samples || shape.n_channels != nc || shape.dtype != dst->dtype) return EPHYS_ERR_CORRUPT;
    int32_t *piece = malloc((size_t)EPHYS_PIECE * nc * sizeof(int32_t));
    WavpackContext *wpc = piece ? wv_open(&r, in, len) : NULL;
    if (!wpc) {
        free(piece);
        return piece ? EPHYS_ERR_CORRUPT : EPHYS_ERR_NOMEM;
    }
    int err = EPHYS_OK;
    if (WavpackGetNumChannels(wpc) != (int)nc || wv_dtype(wpc) != dst->dtype ||
        WavpackGetNumSamples64(wpc) != (int64_t)n_samples)
        err = EPHYS_ERR_CORRUPT;
    for (size_t t = 0; !err && t < n_samples; t += EPHYS_PIECE) {
        size_t nt = n_samples - t < EPHYS_PIECE ? n_samples - t : EPHYS_PIECE;
        if (WavpackUnpackSamples(wpc, piece, (uint32_t)nt) != nt) err = EPHYS_ERR_CORRUPT;
        else ephys_view_store(dst, t, nt, c0, nc, piece);
    }
    if (!err && WavpackGetNumErrors(wpc)) err = EPHYS_ERR_CORRUPT;
    WavpackCloseFile(wpc);
    free(piece);
    return err;
}

static int wv_check_block(const uint8_t *in, size_t len, uint64_t n_samples, uint32_t nc, int dtype)
{
    wv_shape_t shape;
    int err = wv_scan(in, len, 0, &shape);
    if (err) return err;
    return shape.n_samples == n_samples && shape.n_channels == nc && shape.dtype == dtype ? EPHYS_OK : EPHYS_ERR_CORRUPT;
}

static int wv_is_lossy(const void *params) { return ((const ephys_wavpack_params_t *)params)->bps > 0; }

static const ephys_block_codec_t wavpack_codec = {EPHYS_CODEC_WAVPACK, wv_encode_block, wv_decode_block, wv_min_bytes,
                                                  wv_check_block, wv_is_lossy, NULL, NULL, NULL};

int ephys_wavpack_encode(const ephys_wavpack_params_t *params, const ephys_view_t *src,
                         int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                         int num_threads, uint8_t **out, size_t *out_len)
{
    if (!params || channels_per_block > WAVPACK_MAX_CHANS) return EPHYS_ERR_ARGS;
    return ephys_chunk_encode(&wavpack_codec, params, src, ndim, shape, flags, channels_per_block, num_threads, out, out_len);
}

int ephys_wavpack_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info)
{
    return ephys_chunk_parse(&wavpack_codec, buf, len, info, NULL);
}

int ephys_wavpack_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads)
{
    return ephys_chunk_decode(&wavpack_codec, buf, len, dst, num_threads);
}

int ephys_wavpack_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                                const ephys_view_t *dst, int num_threads)
{
    return ephys_chunk_decode_blocks(&wavpack_codec, buf, len, first_block, n_blocks, dst, num_threads);
}

/* ---- bare streams (wavpack-numcodecs) ---- */

int ephys_wavpack_stream_encode(const ephys_wavpack_params_t *params, const ephys_view_t *src,
                                uint8_t **out, size_t *out_len)
{
    if (!params || !src || !out || !out_len || !src->n_samples || !src->n_channels ||
        src->n_channels > WAVPACK_MAX_CHANS)
        return EPHYS_ERR_ARGS;
    ephys_buf_t buf = {0};
    int err = wv_encode(params, src, 0, (uint32_t)src->n_channels, 1, &buf);
    if (err) {
        free(buf.data);
        return err;
    }
    *out = buf.data;
    *out_len = buf.len;
    return EPHYS_OK;
}

int ephys_wavpack_stream_info(const uint8_t *buf, size_t len, uint64_t *n_samples,
                              uint32_t *n_channels, int *dtype)
{
    if (!buf || !n_samples || !n_channels || !dtype) return EPHYS_ERR_ARGS;
    wv_shape_t shape;
    int err = wv_scan(buf, len, 0, &shape);
    if (err) return err;
    *n_samples = shape.n_samples;
    *n_channels = shape.n_channels;
    *dtype = shape.dtype;
    return EPHYS_OK;
}

int ephys_wavpack_stream_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst)
{
    if (!buf || !dst || dst->n_channels > WAVPACK_MAX_CHANS || !dst->n_channels ||
        wv_min_bytes(dst->n_samples, dst->n_channels) > len)
        return EPHYS_ERR_ARGS;
    return wv_decode_block(buf, len, dst, 0, (uint32_t)dst->n_channels);
}
