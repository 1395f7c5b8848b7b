/* FLAC block coding through libFLAC, entirely in memory.  Layout: flac_codec.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <FLAC/format.h>
#include <FLAC/stream_decoder.h>
#include <FLAC/stream_encoder.h>

#include "block_codec.h"
#include "flac_codec.h"

/* libFLAC exports FLAC__stream_encoder_set_do_md5 but declares it only in its
 * private headers.  Our streams never store the MD5 (no seeking back to
 * STREAMINFO), so computing it would only cost time: turn it off where the
 * symbol can be looked up weakly, and carry on without it elsewhere. */
#if defined(__GNUC__) && defined(__ELF__)
#define HAVE_WEAK_SET_DO_MD5 1
extern FLAC__bool FLAC__stream_encoder_set_do_md5(FLAC__StreamEncoder *encoder, FLAC__bool value)
    __attribute__((weak));
#endif

#define STREAM_LEN_BYTES 4
#define FLAC_HEADER_BYTES 42 /* "fLaC" + 4-byte block header + 34-byte STREAMINFO */
#define MAX_FRAME_SAMPLES 65536 /* the frame header can say up to 65536 */
#define META_STREAMINFO 0
#define META_VORBIS_COMMENT 4

/* A frame is at least 6 header bytes (sync, codes, one-byte number, CRC-8),
 * one byte per channel (a subframe header; constant subframes add >= 4 bits),
 * and the 2-byte CRC-16. */
static uint64_t frames_min_bytes(uint64_t n_samples, uint64_t n_channels)
{
    uint64_t frames = (n_samples + MAX_FRAME_SAMPLES - 1) / MAX_FRAME_SAMPLES;
    return frames * (8 + n_channels);
}

/* Any split of nc channels into streams of <= 8 channels has at least
 * ceil(nc / 8) streams, each with its length, header and frames. */
static uint64_t flac_min_bytes(uint64_t n_samples, uint64_t n_channels)
{
    if (!n_samples || !n_channels) return 0;
    uint64_t streams = (n_channels + EPHYS_FLAC_MAX_CHANNELS - 1) / EPHYS_FLAC_MAX_CHANNELS;
    uint64_t frames = (n_samples + MAX_FRAME_SAMPLES - 1) / MAX_FRAME_SAMPLES;
    return streams * (STREAM_LEN_BYTES + FLAC_HEADER_BYTES + 8 * frames) + frames * n_channels;
}

const char *ephys_flac_library_version(void) { return FLAC__VERSION_STRING; }

/* ---- encoding ---- */

typedef struct {
    ephys_buf_t buf;
    size_t pos;        /* write position: the legacy encoder seeks back to rewrite STREAMINFO */
    int strip_vorbis;  /* our layout: drop VORBIS_COMMENT, mark STREAMINFO last */
    int err;
} enc_out_t;

static FLAC__StreamEncoderWriteStatus enc_write(const FLAC__StreamEncoder *e, const FLAC__byte buffer[],
                                                size_t bytes, uint32_t samples, uint32_t frame, void *cd)
{
    enc_out_t *o = cd;
    if (o->strip_vorbis && samples == 0 && bytes >= 4 && memcmp(buffer, "fLaC", 4)) {
        int type = buffer[0] & 0x7f;
        if (type == META_VORBIS_COMMENT) return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
        if (type == META_STREAMINFO) {
            uint8_t first = buffer[0] | 0x80; /* the last metadata block now */
            if (ephys_buf_append(&o->buf, &first, 1) || ephys_buf_append(&o->buf, buffer + 1, bytes - 1))
                goto nomem;
            o->pos = o->buf.len;
            return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
        }
    }
    if (o->pos > o->buf.len) goto fatal;
    size_t overlap = o->buf.len - o->pos;
    if (overlap > bytes) overlap = bytes;
    if (overlap) memcpy(o->buf.data + o->pos, buffer, overlap); /* rewrites (STREAMINFO at finish) */
    if (ephys_buf_append(&o->buf, buffer + overlap, bytes - overlap)) goto nomem;
    o->pos += bytes;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
nomem:
    o->err = EPHYS_ERR_NOMEM;
fatal:
    if (!o->err) o->err = EPHYS_ERR_LIBRARY;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
}

static FLAC__StreamEncoderSeekStatus enc_seek(const FLAC__StreamEncoder *e, FLAC__uint64 offset, void *cd)
{
    enc_out_t *o = cd;
    if (offset > o->buf.len) return FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR;
    o->pos = (size_t)offset;
    return FLAC__STREAM_ENCODER_SEEK_STATUS_OK;
}

static FLAC__StreamEncoderTellStatus enc_tell(const FLAC__StreamEncoder *e, FLAC__uint64 *offset, void *cd)
{
    *offset = ((enc_out_t *)cd)->pos;
    return FLAC__STREAM_ENCODER_TELL_STATUS_OK;
}

static FLAC__StreamEncoderWriteStatus null_write(const FLAC__StreamEncoder *e, const FLAC__byte buffer[],
                                                 size_t bytes, uint32_t samples, uint32_t frame, void *cd)
{
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}

static pthread_once_t max_bps_once = PTHREAD_ONCE_INIT;
static int max_bps = 0;

/* Ask this libFLAC, rather than trust its version number, which sample widths it encodes. */
static void probe_max_bps(void)
{
    static const uint32_t widths[] = {32, 24};
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]) && !max_bps; i++) {
        FLAC__StreamEncoder *e = FLAC__stream_encoder_new();
        if (!e) return;
        FLAC__stream_encoder_set_channels(e, 1);
        FLAC__stream_encoder_set_bits_per_sample(e, widths[i]);
        FLAC__stream_encoder_set_sample_rate(e, 48000);
        FLAC__stream_encoder_set_streamable_subset(e, false);
        if (FLAC__stream_encoder_init_stream(e, null_write, NULL, NULL, NULL, NULL) ==
            FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
            max_bps = (int)widths[i];
            FLAC__stream_encoder_finish(e);
        }
        FLAC__stream_encoder_delete(e);
    }
}

int ephys_flac_max_bits_per_sample(void)
{
    pthread_once(&max_bps_once, probe_max_bps);
    return max_bps;
}

/* The sample rate our streams state.  The chunk has no rate, but libFLAC's
 * loose mid-side tries all four stereo modes again every 0.4 s of it
 * (round(0.4 * rate / blocksize) frames) and otherwise keeps to the family
 * chosen last: at 96 kHz, once per 1 s chunk of 4096-sample frames instead
 * of twice, which encodes 1 s of the NP Ultra file 10-15% faster at the same
 * CR.  96 kHz has its own code in the frame header: no extra header bytes. */
#define NOMINAL_RATE 96000

typedef struct {
    int level;
    uint32_t blocksize; /* 0: libFLAC's default */
    uint32_t sample_rate;
    int subset;
    int ours; /* our layout: length prefix, no VORBIS_COMMENT, no seeking back, no MD5 */
    int exhaustive_stereo; /* ours: 0 lets libFLAC pick the stereo mode by its cheap estimate */
} enc_settings_t;

/* Code nc channels as one complete FLAC stream appended to out: either
 * channels [c0, c0 + nc) of src, loaded through piece (EPHYS_PIECE * nc
 * samples), or, when planar is given, planar[k * n_samples + t] (channel
 * major), which src then only describes (dtype, sample count). */
static int flac_encode_stream(const enc_settings_t *s, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                              int32_t *piece, const int32_t *planar, ephys_buf_t *out)
{
    size_t n_samples = src->n_samples;
    uint32_t bps = 8 * (uint32_t)ephys_dtype_size(src->dtype);
    if (!nc || nc > EPHYS_FLAC_MAX_CHANNELS || src->dtype == EPHYS_DTYPE_FLOAT32 || !bps ||
        (uint64_t)n_samples >= ((uint64_t)1 << 36) || s->level < 0 || s->level > 8 ||
        (s->blocksize && (s->blocksize < EPHYS_FLAC_MIN_BLOCKSIZE || s->blocksize > EPHYS_FLAC_MAX_BLOCKSIZE)))
        return EPHYS_ERR_ARGS;
    if ((int)bps > ephys_flac_max_bits_per_sample()) return EPHYS_ERR_RANGE;
    FLAC__StreamEncoder *e = FLAC__stream_encoder_new();
    if (!e) return EPHYS_ERR_NOMEM;
    enc_out_t o = {*out, out->len, s->ours, EPHYS_OK};
    size_t start = out->len;
    int err = EPHYS_OK;
    if (s->ours) {
        uint8_t len_placeholder[STREAM_LEN_BYTES] = {0};
        err = ephys_buf_append(&o.buf, len_placeholder, sizeof(len_placeholder));
        o.pos = o.buf.len;
    }
    /* The same calls, in the same order, as pyFLAC's encoder in flac-numcodecs. */
    FLAC__bool ok = FLAC__stream_encoder_set_channels(e, nc) &&
                    FLAC__stream_encoder_set_bits_per_sample(e, bps) &&
                    FLAC__stream_encoder_set_sample_rate(e, s->sample_rate) &&
                    FLAC__stream_encoder_set_blocksize(e, s->blocksize) &&
                    FLAC__stream_encoder_set_compression_level(e, (uint32_t)s->level) &&
                    FLAC__stream_encoder_set_streamable_subset(e, s->subset) &&
                    FLAC__stream_encoder_set_verify(e, false);
    if (ok && s->ours) ok = FLAC__stream_encoder_set_total_samples_estimate(e, n_samples);
    if (ok && s->ours && !s->exhaustive_stereo) ok = FLAC__stream_encoder_set_loose_mid_side_stereo(e, true);
#ifdef HAVE_WEAK_SET_DO_MD5
    if (ok && s->ours && FLAC__stream_encoder_set_do_md5) ok = FLAC__stream_encoder_set_do_md5(e, false);
#endif
    if (!err && !ok) err = EPHYS_ERR_LIBRARY;
    if (!err) {
        FLAC__StreamEncoderInitStatus st = FLAC__stream_encoder_init_stream(
            e, enc_write, s->ours ? NULL : enc_seek, s->ours ? NULL : enc_tell, NULL, &o);
        if (st != FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
            err = st == FLAC__STREAM_ENCODER_INIT_STATUS_INVALID_BITS_PER_SAMPLE ? EPHYS_ERR_RANGE
                  : st == FLAC__STREAM_ENCODER_INIT_STATUS_ENCODER_ERROR ? (o.err ? o.err : EPHYS_ERR_LIBRARY)
                  : EPHYS_ERR_ARGS;
        } else {
            for (size_t t = 0; !err && t < n_samples; t += EPHYS_PIECE) {
                size_t nt = n_samples - t < EPHYS_PIECE ? n_samples - t : EPHYS_PIECE;
                FLAC__bool ok;
                if (planar) {
                    const FLAC__int32 *chans[EPHYS_FLAC_MAX_CHANNELS];
                    for (uint32_t k = 0; k < nc; k++) chans[k] = planar + (size_t)k * n_samples + t;
                    ok = FLAC__stream_encoder_process(e, chans, (uint32_t)nt);
                } else {
                    ephys_view_load(src, t, nt, c0, nc, piece);
                    ok = FLAC__stream_encoder_process_interleaved(e, piece, (uint32_t)nt);
                }
                if (!ok) err = o.err ? o.err : EPHYS_ERR_LIBRARY;
            }
            if (!FLAC__stream_encoder_finish(e) && !err) err = o.err ? o.err : EPHYS_ERR_LIBRARY;
        }
    }
    FLAC__stream_encoder_delete(e);
    if (!err && o.err) err = o.err;
    if (!err && s->ours) {
        size_t len = o.buf.len - start - STREAM_LEN_BYTES;
        if (len > UINT32_MAX) err = EPHYS_ERR_ARGS;
        for (int i = 0; i < STREAM_LEN_BYTES; i++) o.buf.data[start + i] = (uint8_t)(len >> (8 * i));
    }
    *out = o.buf;
    if (err) out->len = start;
    return err;
}

/* ---- channel-major scratch ----
 * Loading two channels at a time straight from a (samples, 384) chunk touches
 * one cache line per sample for 4 useful bytes, and that for every stream.
 * Instead a block's channels are moved, a sub-block at a time, to a
 * channel-major scratch through small tiles of rows that stay in L1; the
 * streams then read (or, decoding, write) their channels sequentially. */

#define SCRATCH_BYTES ((size_t)16 << 20)
#define TILE_ROWS 64

/* Channels per sub-block: a multiple of per that keeps the scratch near SCRATCH_BYTES. */
static uint32_t sub_block_channels(size_t n_samples, uint32_t per, uint32_t nc)
{
    size_t fit = SCRATCH_BYTES / (n_samples * sizeof(int32_t));
    uint32_t sub = fit >= nc ? nc : (uint32_t)fit;
    sub -= sub % per;
    return sub ? sub : per < nc ? per : nc;
}

/* Encoding: channels [c0, c0 + nc) of v to planar, as the int32 libFLAC takes. */
#define TRANSPOSE_IN(T)                                                                          \
    for (size_t t0 = 0; t0 < n; t0 += TILE_ROWS) {                                             \
        size_t t1 = n - t0 < TILE_ROWS ? n : t0 + TILE_ROWS;                                   \
        for (uint32_t c = 0; c < nc; c++) {                                                    \
            const char *s = EPHYS_AT(v, T, 0, c0 + c);                                         \
            int32_t *d = planar + (size_t)c * n;                                               \
            for (size_t t = t0; t < t1; t++) d[t] = ephys_load_##T(s + (int64_t)t * ss);       \
        }                                                                                      \
    }

static void load_planar(const ephys_view_t *v, uint64_t c0, uint32_t nc, int32_t *planar)
{
    size_t n = v->n_samples;
    int64_t ss = v->sample_stride * (int64_t)ephys_dtype_size(v->dtype); /* bytes */
    switch (v->dtype) {
    case EPHYS_DTYPE_INT8: TRANSPOSE_IN(int8_t) break;
    case EPHYS_DTYPE_INT16: TRANSPOSE_IN(int16_t) break;
    default: TRANSPOSE_IN(int32_t) break;
    }
}

/* Decoding: a channel-major scratch in the chunk's own type (half the memory
 * traffic of int32 for int16 data) to channels [c0, c0 + nc) of v; here rows
 * [t0, t1) of channels [ca, nc), what the block moves below leave. */
#define TRANSPOSE_OUT(T)                                                                         \
    for (size_t ta = t0; ta < t1; ta += TILE_ROWS) {                                           \
        size_t tb = t1 - ta < TILE_ROWS ? t1 : ta + TILE_ROWS;                                 \
        for (uint32_t c = ca; c < nc; c++) {                                                   \
            char *d = EPHYS_AT(v, T, 0, c0 + c);                                               \
            const T *s = (const T *)planar + (size_t)c * n;                                    \
            for (size_t t = ta; t < tb; t++) ephys_store_##T(d + (int64_t)t * ss, s[t]);       \
        }                                                                                      \
    }

static void store_rect(const ephys_view_t *v, uint64_t c0, uint32_t nc, const void *planar, size_t t0, size_t t1,
                       uint32_t ca)
{
    size_t n = v->n_samples;
    int64_t ss = v->sample_stride * (int64_t)ephys_dtype_size(v->dtype); /* bytes */
    switch (v->dtype) {
    case EPHYS_DTYPE_INT8: TRANSPOSE_OUT(int8_t) break;
    case EPHYS_DTYPE_INT16: TRANSPOSE_OUT(int16_t) break;
    default: TRANSPOSE_OUT(int32_t) break;
    }
}

#ifdef __SSE2__
#include <emmintrin.h>
/* int16 chunks with adjacent channels (a C-order (samples, channels) array)
 * move 8 x 8 samples at a time through SSE2 registers: element by element,
 * the move costs an eighth of the decoding time. */
static void transpose8x8_epi16(__m128i r[8])
{
    __m128i a[8], b[8];
    for (int i = 0; i < 4; i++) {
        a[2 * i] = _mm_unpacklo_epi16(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm_unpackhi_epi16(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            b[4 * i + 2 * j] = _mm_unpacklo_epi32(a[4 * i + j], a[4 * i + j + 2]);
            b[4 * i + 2 * j + 1] = _mm_unpackhi_epi32(a[4 * i + j], a[4 * i + j + 2]);
        }
    for (int i = 0; i < 4; i++) {
        r[2 * i] = _mm_unpacklo_epi64(b[i], b[i + 4]);
        r[2 * i + 1] = _mm_unpackhi_epi64(b[i], b[i + 4]);
    }
}

static void store_planar(const ephys_view_t *v, uint64_t c0, uint32_t nc, const void *planar)
{
    size_t n = v->n_samples, n8 = 0;
    uint32_t nc8 = 0;
    if (v->dtype == EPHYS_DTYPE_INT16 && v->channel_stride == 1) {
        n8 = n & ~(size_t)7, nc8 = nc & ~7u;
        for (size_t t = 0; t < n8; t += 8) {
            char *row = EPHYS_AT(v, int16_t, t, c0);
            for (uint32_t c = 0; c < nc8; c += 8) {
                __m128i r[8];
                for (int j = 0; j < 8; j++)
                    r[j] = _mm_loadu_si128((const __m128i *)((const int16_t *)planar + (size_t)(c + j) * n + t));
                transpose8x8_epi16(r);
                for (int i = 0; i < 8; i++)
                    _mm_storeu_si128((__m128i *)(row + ((int64_t)i * v->sample_stride + c) * 2), r[i]);
            }
        }
    }
    store_rect(v, c0, nc, planar, 0, n8, nc8); /* the channels left over */
    store_rect(v, c0, nc, planar, n8, n, 0);   /* the rows left over */
}
#else
static void store_planar(const ephys_view_t *v, uint64_t c0, uint32_t nc, const void *planar)
{
    store_rect(v, c0, nc, planar, 0, v->n_samples, 0);
}
#endif

static int flac_encode_block(const void *params, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                             ephys_buf_t *out)
{
    const ephys_flac_params_t *p = params;
    uint32_t per = p->channels_per_stream;
    size_t n = src->n_samples;
    if (per < 1 || per > EPHYS_FLAC_MAX_CHANNELS || p->blocksize < EPHYS_FLAC_MIN_BLOCKSIZE || !n || !nc)
        return EPHYS_ERR_ARGS;
    enc_settings_t s = {p->level, p->blocksize, NOMINAL_RATE, 0, 1, p->exhaustive_stereo};
    uint32_t sub = sub_block_channels(n, per, nc);
    if (n > SIZE_MAX / sizeof(int32_t) / sub) return EPHYS_ERR_NOMEM;
    int32_t *planar = malloc(n * sub * sizeof(int32_t));
    if (!planar) return EPHYS_ERR_NOMEM;
    int err = EPHYS_OK;
    for (uint32_t s0 = 0; !err && s0 < nc; s0 += sub) {
        uint32_t sn = nc - s0 < sub ? nc - s0 : sub;
        load_planar(src, c0 + s0, sn, planar);
        for (uint32_t g = 0; !err && g < sn; g += per)
            err = flac_encode_stream(&s, src, 0, sn - g < per ? sn - g : per, NULL, planar + (size_t)g * n, out);
    }
    free(planar);
    return err;
}

/* ---- decoding ---- */

typedef struct {
    const uint8_t *pos, *end;
    const ephys_view_t *dst;
    uint64_t c0;
    uint32_t min_channels, max_channels; /* what STREAMINFO may say */
    uint32_t min_bps, max_bps;
    uint64_t n_samples, written;
    uint32_t channels, bps; /* from STREAMINFO */
    int got_info, err;
    void *planar; /* if set: channel k goes to planar[k * n_samples + t] (dst's type), not to dst */
} dec_ctx_t;

static FLAC__StreamDecoderReadStatus dec_read(const FLAC__StreamDecoder *d, FLAC__byte buffer[], size_t *bytes,
                                              void *cd)
{
    dec_ctx_t *c = cd;
    if (c->err) return FLAC__STREAM_DECODER_READ_STATUS_ABORT;
    size_t avail = (size_t)(c->end - c->pos), n = *bytes < avail ? *bytes : avail;
    if (!n) {
        *bytes = 0;
        return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
    }
    memcpy(buffer, c->pos, n);
    c->pos += n;
    *bytes = n;
    return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
}

static void dec_metadata(const FLAC__StreamDecoder *d, const FLAC__StreamMetadata *m, void *cd)
{
    dec_ctx_t *c = cd;
    if (m->type != FLAC__METADATA_TYPE_STREAMINFO) return;
    const FLAC__StreamMetadata_StreamInfo *si = &m->data.stream_info;
    if (c->got_info || si->channels < c->min_channels || si->channels > c->max_channels ||
        si->bits_per_sample < c->min_bps || si->bits_per_sample > c->max_bps || si->total_samples != c->n_samples)
        c->err = EPHYS_ERR_CORRUPT;
    c->got_info = 1;
    c->channels = si->channels;
    c->bps = si->bits_per_sample;
}

static void dec_error(const FLAC__StreamDecoder *d, FLAC__StreamDecoderErrorStatus status, void *cd)
{
    ((dec_ctx_t *)cd)->err = EPHYS_ERR_CORRUPT;
}


/* A frame to the scratch (channel-major, the chunk's type) or else straight to dst. */
#define STORE_FRAME(T, LO, HI)                                                                     \
    if (c->planar) {                                                                               \
        for (uint32_t ch = 0; ch < nch; ch++) {                                                    \
            T *d = (T *)c->planar + (size_t)ch * c->n_samples + c->written;                        \
            for (uint32_t i = 0; i < bs; i++) d[i] = (T)ephys_clamp_i32(buffer[ch][i], LO, HI);            \
        }                                                                                          \
    } else {                                                                                       \
        char *row = EPHYS_AT(v, T, c->written, c->c0);                                             \
        for (uint32_t i = 0; i < bs; i++, row += v->sample_stride * (int64_t)sizeof(T))            \
            for (uint32_t ch = 0; ch < nch; ch++)                                                  \
                ephys_store_##T(row + (int64_t)ch * cs * (int64_t)sizeof(T), (T)ephys_clamp_i32(buffer[ch][i], LO, HI)); \
    }

static FLAC__StreamDecoderWriteStatus dec_write(const FLAC__StreamDecoder *d, const FLAC__Frame *frame,
                                                const FLAC__int32 *const buffer[], void *cd)
{
    dec_ctx_t *c = cd;
    const FLAC__FrameHeader *h = &frame->header;
    uint32_t bs = h->blocksize, nch = c->channels;
    if (c->err || !c->got_info || h->channels != nch || h->bits_per_sample != c->bps || !bs ||
        bs > c->n_samples - c->written ||
        (h->number_type == FLAC__FRAME_NUMBER_TYPE_SAMPLE_NUMBER && h->number.sample_number != c->written)) {
        c->err = EPHYS_ERR_CORRUPT;
        return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    const ephys_view_t *v = c->dst;
    int64_t cs = v->channel_stride;
    switch (v->dtype) {
    case EPHYS_DTYPE_INT8: STORE_FRAME(int8_t, INT8_MIN, INT8_MAX); break;
    case EPHYS_DTYPE_INT16: STORE_FRAME(int16_t, INT16_MIN, INT16_MAX); break;
    default: STORE_FRAME(int32_t, INT32_MIN, INT32_MAX); break;
    }
    c->written += bs;
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

/* Decode the FLAC stream in c->pos..c->end into c->dst; the caller has set the
 * bounds STREAMINFO must meet.  Fails unless every sample was decoded cleanly. */
static int flac_decode_stream(dec_ctx_t *c, int check_md5)
{
    FLAC__StreamDecoder *d = FLAC__stream_decoder_new();
    if (!d) return EPHYS_ERR_NOMEM;
    int err = EPHYS_OK;
    FLAC__stream_decoder_set_md5_checking(d, check_md5);
    if (FLAC__stream_decoder_init_stream(d, dec_read, NULL, NULL, NULL, NULL, dec_write, dec_metadata, dec_error,
                                         c) != FLAC__STREAM_DECODER_INIT_STATUS_OK) {
        err = EPHYS_ERR_LIBRARY;
    } else {
        FLAC__bool ok = FLAC__stream_decoder_process_until_end_of_stream(d);
        FLAC__StreamDecoderState st = FLAC__stream_decoder_get_state(d);
        /* finish() is where the MD5 is compared, and it must run anyway to free the stream state */
        FLAC__bool md5_ok = FLAC__stream_decoder_finish(d);
        if (c->err) err = c->err;
        else if (st == FLAC__STREAM_DECODER_MEMORY_ALLOCATION_ERROR) err = EPHYS_ERR_NOMEM;
        else if (!ok || !c->got_info || c->written != c->n_samples || (check_md5 && !md5_ok))
            err = EPHYS_ERR_CORRUPT;
    }
    FLAC__stream_decoder_delete(d);
    return err;
}


/* The channel count a stream's STREAMINFO announces, or the FLAC maximum if it
 * is not readable (the decoder then rejects the stream anyway). */
static uint32_t peek_channels(const uint8_t *p, size_t n)
{
    if (n < FLAC_HEADER_BYTES || memcmp(p, "fLaC", 4) || (p[4] & 0x7f) != META_STREAMINFO)
        return EPHYS_FLAC_MAX_CHANNELS;
    return ((p[20] >> 1) & 7) + 1;
}

/* ---- checking stream headers before anything is allocated ----
 * What a stream's STREAMINFO and first frame header say, checked for
 * consistency with each other and with the stream's length: a hostile chunk
 * may claim any number of samples, and the output is allocated from that
 * claim, so a claim the stream itself does not back is refused first. */

typedef struct {
    uint32_t channels, bps, max_blocksize;
    uint64_t total;
} flac_header_t;

static int flac_check_header(const uint8_t *p, size_t n, flac_header_t *h)
{
    if (n < FLAC_HEADER_BYTES || memcmp(p, "fLaC", 4)) return EPHYS_ERR_CORRUPT;
    const uint8_t *si = p + 8;
    if ((p[4] & 0x7f) != META_STREAMINFO || p[5] || p[6] || p[7] != 34) return EPHYS_ERR_CORRUPT;
    uint32_t min_bs = (uint32_t)si[0] << 8 | si[1], max_bs = (uint32_t)si[2] << 8 | si[3];
    uint32_t min_frame = (uint32_t)si[4] << 16 | (uint32_t)si[5] << 8 | si[6];
    h->channels = ((si[12] >> 1) & 7) + 1;
    h->bps = (((uint32_t)(si[12] & 1) << 4) | (si[13] >> 4)) + 1;
    h->total = (uint64_t)(si[13] & 0x0f) << 32 | (uint64_t)si[14] << 24 | (uint64_t)si[15] << 16 |
               (uint64_t)si[16] << 8 | si[17];
    h->max_blocksize = max_bs;
    if (min_bs < 16 || max_bs < min_bs || h->bps < 4 || !h->total) return EPHYS_ERR_CORRUPT;
    /* skip the other metadata blocks to the first frame */
    size_t pos = 4;
    for (;;) {
        if (n - pos < 4) return EPHYS_ERR_CORRUPT;
        uint32_t last = p[pos] & 0x80, length = (uint32_t)p[pos + 1] << 16 | (uint32_t)p[pos + 2] << 8 | p[pos + 3];
        if (length > n - pos - 4) return EPHYS_ERR_CORRUPT;
        pos += 4 + (size_t)length;
        if (last) break;
    }
    /* frame header: sync 0xfff8 (fixed) or 0xfff9 (variable blocksize), then the
     * channel assignment, which must give STREAMINFO's channel count */
    if (n - pos < 6 || p[pos] != 0xff || (p[pos + 1] & 0xfe) != 0xf8) return EPHYS_ERR_CORRUPT;
    uint32_t assignment = p[pos + 3] >> 4, frame_channels = assignment < 8 ? assignment + 1 : assignment < 11 ? 2 : 0;
    if (frame_channels != h->channels) return EPHYS_ERR_CORRUPT;
    /* every frame codes at most max_bs samples in at least min_frame (or the
     * fewest possible) bytes: that bounds the samples the stream can hold */
    uint64_t frame_bytes = min_frame > frames_min_bytes(1, h->channels) ? min_frame : frames_min_bytes(1, h->channels);
    if (h->total > (uint64_t)((n - pos) / frame_bytes + 1) * max_bs) return EPHYS_ERR_CORRUPT;
    return EPHYS_OK;
}

/* A container block: streams whose headers add up to nc channels of
 * n_samples samples of the chunk's dtype, filling the block exactly. */
static int flac_check_block(const uint8_t *in, size_t len, uint64_t n_samples, uint32_t nc, int dtype)
{
    uint32_t bits = 8 * (uint32_t)ephys_dtype_size(dtype), ch = 0;
    size_t pos = 0;
    if (dtype == EPHYS_DTYPE_FLOAT32 || dtype == EPHYS_DTYPE_FLOAT64) return EPHYS_ERR_HEADER;
    while (ch < nc) {
        if (len - pos < STREAM_LEN_BYTES) return EPHYS_ERR_CORRUPT;
        uint64_t n = ephys_get_le32(in + pos);
        pos += STREAM_LEN_BYTES;
        if (n > len - pos) return EPHYS_ERR_CORRUPT;
        flac_header_t h;
        int err = flac_check_header(in + pos, (size_t)n, &h);
        if (err) return err;
        if (h.channels > nc - ch || h.bps != bits || h.total != n_samples) return EPHYS_ERR_CORRUPT;
        ch += h.channels;
        pos += (size_t)n;
    }
    return pos == len ? EPHYS_OK : EPHYS_ERR_CORRUPT;
}

static int flac_decode_block(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    uint32_t bps = 8 * (uint32_t)ephys_dtype_size(dst->dtype);
    size_t n_samples = dst->n_samples;
    if (dst->dtype == EPHYS_DTYPE_FLOAT32 || !bps || !n_samples) return EPHYS_ERR_CORRUPT;
    /* Streams decode into a channel-major window of up to cap channels, moved
     * to dst when the next stream would not fit; without room for a widest
     * stream (very long chunks), frames go straight to dst. */
    size_t item = ephys_dtype_size(dst->dtype), fit = SCRATCH_BYTES / (n_samples * item);
    uint32_t cap = fit < nc ? (uint32_t)fit : nc;
    uint8_t *planar = NULL;
    if (cap >= EPHYS_FLAC_MAX_CHANNELS || cap == nc) {
        planar = malloc(n_samples * cap * item);
        if (!planar) return EPHYS_ERR_NOMEM;
    }
    size_t pos = 0;
    uint32_t ch = 0, w0 = 0; /* window holds channels [w0, ch) */
    int err = EPHYS_OK;
    while (!err && ch < nc) {
        if (len - pos < STREAM_LEN_BYTES) { err = EPHYS_ERR_CORRUPT; break; }
        uint64_t n = ephys_get_le32(in + pos);
        pos += STREAM_LEN_BYTES;
        if (n > len - pos) { err = EPHYS_ERR_CORRUPT; break; }
        uint32_t left = nc - ch, room = left < EPHYS_FLAC_MAX_CHANNELS ? left : EPHYS_FLAC_MAX_CHANNELS;
        if (planar) {
            if (ch - w0 + (peek_channels(in + pos, (size_t)n) < room ? peek_channels(in + pos, (size_t)n) : room) > cap) {
                store_planar(dst, c0 + w0, ch - w0, planar);
                w0 = ch;
            }
            if (room > cap - (ch - w0)) room = cap - (ch - w0);
        }
        dec_ctx_t c = {in + pos, in + pos + n, dst, c0 + ch, 1, room, bps, bps, n_samples, 0, 0, 0, 0, EPHYS_OK,
                       planar ? planar + (size_t)(ch - w0) * n_samples * item : NULL};
        err = flac_decode_stream(&c, 0);
        ch += c.channels;
        pos += (size_t)n;
    }
    if (!err && pos != len) err = EPHYS_ERR_CORRUPT;
    if (!err && planar && ch > w0) store_planar(dst, c0 + w0, ch - w0, planar);
    free(planar);
    return err;
}

static const ephys_block_codec_t flac_codec = {EPHYS_CODEC_FLAC, flac_encode_block, flac_decode_block, flac_min_bytes,
                                               flac_check_block, NULL, NULL, NULL, NULL};

int ephys_flac_encode(const ephys_flac_params_t *params, const ephys_view_t *src,
                      int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                      int num_threads, uint8_t **out, size_t *out_len)
{
    if (!params || !src || params->level < 0 || params->level > 8 ||
        params->blocksize < EPHYS_FLAC_MIN_BLOCKSIZE || params->blocksize > EPHYS_FLAC_MAX_BLOCKSIZE ||
        params->channels_per_stream < 1 || params->channels_per_stream > EPHYS_FLAC_MAX_CHANNELS ||
        src->dtype == EPHYS_DTYPE_FLOAT32)
        return EPHYS_ERR_ARGS;
    if (8 * (int)ephys_dtype_size(src->dtype) > ephys_flac_max_bits_per_sample()) return EPHYS_ERR_RANGE;
    return ephys_chunk_encode(&flac_codec, params, src, ndim, shape, flags, channels_per_block, num_threads, out, out_len);
}

int ephys_flac_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info)
{
    int err = ephys_chunk_parse(&flac_codec, buf, len, info, NULL);
    if (!err && info->dtype == EPHYS_DTYPE_FLOAT32) err = EPHYS_ERR_HEADER;
    return err;
}

int ephys_flac_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads)
{
    ephys_chunk_info_t info;
    int err = ephys_flac_info(buf, len, &info);
    if (err) return err;
    return ephys_chunk_decode(&flac_codec, buf, len, dst, num_threads);
}

int ephys_flac_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                             const ephys_view_t *dst, int num_threads)
{
    ephys_chunk_info_t info;
    int err = ephys_flac_info(buf, len, &info);
    if (err) return err;
    return ephys_chunk_decode_blocks(&flac_codec, buf, len, first_block, n_blocks, dst, num_threads);
}

/* ---- bare FLAC files (flac-numcodecs) ---- */

int ephys_flac_stream_encode(const ephys_flac_stream_params_t *params, const ephys_view_t *src,
                             uint8_t **out, size_t *out_len)
{
    if (!params || !src || !out || !out_len || !src->n_samples || !src->n_channels ||
        src->n_channels > EPHYS_FLAC_MAX_CHANNELS || !params->sample_rate ||
        params->sample_rate > FLAC__MAX_SAMPLE_RATE)
        return EPHYS_ERR_ARGS;
    uint32_t nc = (uint32_t)src->n_channels;
    enc_settings_t s = {params->level, params->blocksize, params->sample_rate, 1, 0, 1};
    int32_t *piece = malloc((size_t)EPHYS_PIECE * nc * sizeof(int32_t));
    if (!piece) return EPHYS_ERR_NOMEM;
    ephys_buf_t buf = {0};
    int err = flac_encode_stream(&s, src, 0, nc, piece, NULL, &buf);
    free(piece);
    if (err) {
        free(buf.data);
        return err;
    }
    *out = buf.data;
    *out_len = buf.len;
    return EPHYS_OK;
}

/* STREAMINFO must be the first metadata block; read it without libFLAC. */
int ephys_flac_stream_info(const uint8_t *buf, size_t len, uint64_t *n_samples,
                           uint32_t *n_channels, uint32_t *bits_per_sample)
{
    if (!buf || !n_samples || !n_channels || !bits_per_sample) return EPHYS_ERR_ARGS;
    if (len < 4) return EPHYS_ERR_TRUNCATED;
    if (memcmp(buf, "fLaC", 4)) return EPHYS_ERR_MAGIC;
    if (len < FLAC_HEADER_BYTES) return EPHYS_ERR_TRUNCATED;
    flac_header_t h;
    int err = flac_check_header(buf, len, &h);
    if (err) return err;
    *n_samples = h.total;
    *n_channels = h.channels;
    *bits_per_sample = h.bps;
    return EPHYS_OK;
}

int ephys_flac_stream_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst)
{
    uint64_t n;
    uint32_t nc, bps;
    if (!buf || !dst || (dst->dtype != EPHYS_DTYPE_INT16 && dst->dtype != EPHYS_DTYPE_INT32)) return EPHYS_ERR_ARGS;
    int err = ephys_flac_stream_info(buf, len, &n, &nc, &bps);
    if (err) return err;
    if (dst->n_samples != n || dst->n_channels != nc) return EPHYS_ERR_OUT_SIZE;
    uint32_t max_bps = dst->dtype == EPHYS_DTYPE_INT16 ? 16 : 32;
    if (bps > max_bps) return EPHYS_ERR_OUT_SIZE;
    dec_ctx_t c = {buf, buf + len, dst, 0, nc, nc, 4, max_bps, n, 0, 0, 0, 0, EPHYS_OK, NULL};
    return flac_decode_stream(&c, 1);
}
