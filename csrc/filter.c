/* Header shared by the filters; see filter.h for the layout. */
#include <string.h>

#include "block_codec.h"
#include "chunk.h"
#include "filter.h"
#include "filter_frame.h"

#define FILTER_MAGIC "EPHF"
#define FILTER_VERSION 2
#define LIMIT ((uint64_t)1 << 62)
#define FLAGS_AT 9
#define SAMPLES_CRC_AT 32
#define HEADER_CRC_AT 36

/* bytes before the shape */
static uint64_t fixed_bytes(int version) { return version == 1 ? 32 : 40; }
static uint64_t header_bytes(int version, int ndim) { return fixed_bytes(version) + 8 * (uint64_t)ndim; }


/* a * b, or LIMIT when it would exceed LIMIT */
static uint64_t mul_cap(uint64_t a, uint64_t b)
{
    if (a && b > LIMIT / a) return LIMIT;
    return a * b;
}

static int layout(int version, int filter, int itemsize, int ndim, const uint64_t *shape, int param,
                  uint64_t table_rows, uint64_t n_escapes, ephys_filter_info_t *info)
{
    if (!info || ndim < 0 || ndim > 8 || (ndim && !shape)) return EPHYS_ERR_ARGS;
    if (itemsize != 1 && itemsize != 2 && itemsize != 4 && itemsize != 8) return EPHYS_ERR_ARGS;
    memset(info, 0, sizeof(*info));
    info->version = version;
    info->filter = filter;
    info->itemsize = itemsize;
    info->ndim = ndim;
    info->param = param;
    uint64_t channels = 1;
    for (int d = 0; d < ndim; d++) {
        info->shape[d] = shape[d];
        if (shape[d] >= LIMIT) return EPHYS_ERR_ARGS;
        if (d > 0) channels = mul_cap(channels, shape[d]);
    }
    info->n_samples = ndim ? shape[0] : 1;
    info->n_channels = channels;
    if (channels >= LIMIT || mul_cap(info->n_samples, channels) >= LIMIT / 8) return EPHYS_ERR_ARGS;
    /* no channels: a flat array of items holding only the header */
    info->row_bytes = channels ? channels * (uint64_t)itemsize : (uint64_t)itemsize;
    uint64_t hb = header_bytes(version, ndim);
    info->header_rows = (hb + info->row_bytes - 1) / info->row_bytes;
    info->table_rows = table_rows;
    info->n_escapes = n_escapes;
    uint64_t esc_rows = (mul_cap(n_escapes, 16) + info->row_bytes - 1) / info->row_bytes;
    uint64_t data_rows = channels ? info->n_samples : 0;
    if (table_rows >= LIMIT || esc_rows >= LIMIT) return EPHYS_ERR_ARGS;
    uint64_t rows = info->header_rows + table_rows + data_rows + esc_rows;
    info->payload_offset = (info->header_rows + table_rows) * info->row_bytes;
    info->total_bytes = mul_cap(rows, info->row_bytes);
    if (info->total_bytes >= LIMIT) return EPHYS_ERR_ARGS;
    return EPHYS_OK;
}

int ephys_filter_threads(uint64_t nbytes, int num_threads)
{
    return num_threads > 1 && nbytes >= EPHYS_FILTER_PARALLEL_BYTES ? num_threads : 1;
}

int ephys_filter_samples_ok(size_t len, int itemsize, uint64_t n_samples, uint64_t n_channels)
{
    if (itemsize != 1 && itemsize != 2 && itemsize != 4 && itemsize != 8) return 0;
    if (n_channels && n_samples > (uint64_t)SIZE_MAX / (uint64_t)itemsize / n_channels) return 0;
    return (uint64_t)len == n_samples * n_channels * (uint64_t)itemsize;
}

int ephys_filter_overlap(const void *a, const void *b, size_t len)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x != y && x < y + len && y < x + len;
}

int ephys_filter_layout(int filter, int itemsize, int ndim, const uint64_t *shape, int param,
                        uint64_t table_rows, uint64_t n_escapes, ephys_filter_info_t *info)
{
    return layout(FILTER_VERSION, filter, itemsize, ndim, shape, param, table_rows, n_escapes, info);
}

void ephys_filter_write_header(const ephys_filter_info_t *info, uint8_t *out)
{
    memset(out, 0, info->header_rows * info->row_bytes);
    memcpy(out, FILTER_MAGIC, 4);
    out[4] = (uint8_t)info->version;
    out[5] = (uint8_t)info->filter;
    out[6] = (uint8_t)info->itemsize;
    out[7] = (uint8_t)info->ndim;
    out[8] = (uint8_t)info->param;
    ephys_put_le32(out + 12, (uint32_t)info->table_rows);
    ephys_put_le64(out + 16, info->n_escapes);
    ephys_put_le64(out + 24, info->params_hash);
    uint64_t so = fixed_bytes(info->version);
    for (int d = 0; d < info->ndim; d++) ephys_put_le64(out + so + 8 * d, info->shape[d]);
}

int ephys_filter_begin_encode(int filter, int itemsize, int ndim, const uint64_t *shape, int param,
                              const void *in, size_t in_len, uint8_t *out, size_t out_len,
                              ephys_filter_info_t *info)
{
    int err = ephys_filter_layout(filter, itemsize, ndim, shape, param, 0, 0, info);
    if (err) return err;
    uint64_t data_bytes = info->n_channels * info->n_samples * (uint64_t)itemsize;
    if (!out || out_len != info->total_bytes || in_len != data_bytes || (data_bytes && !in)) return EPHYS_ERR_ARGS;
    ephys_filter_write_header(info, out);
    return EPHYS_OK;
}

static uint8_t pad_byte(const ephys_filter_info_t *info, const uint8_t *buf, uint64_t i)
{
    uint64_t start = info->header_rows * info->row_bytes;
    return info->total_bytes > start ? buf[start + i % info->row_bytes] : 0;
}

void ephys_filter_pad_header(const ephys_filter_info_t *info, uint8_t *out)
{
    uint64_t hb = header_bytes(info->version, info->ndim);
    for (uint64_t i = hb; i < info->header_rows * info->row_bytes; i++) out[i] = pad_byte(info, out, i);
}

static uint32_t header_crc(const uint8_t *buf, int ndim)
{
    uint32_t crc = ephys_crc32c(0, buf, HEADER_CRC_AT);
    return ephys_crc32c(crc, buf + fixed_bytes(2), 8 * (size_t)ndim);
}

int ephys_filter_parse(const uint8_t *buf, size_t len, int filter, ephys_filter_info_t *info)
{
    if (!info || (!buf && len)) return EPHYS_ERR_ARGS;
    if (len < 4) return EPHYS_ERR_TRUNCATED;
    if (memcmp(buf, FILTER_MAGIC, 4)) return EPHYS_ERR_MAGIC;
    if (len < 32) return EPHYS_ERR_TRUNCATED;
    int version = buf[4];
    if (version != 1 && version != FILTER_VERSION) return EPHYS_ERR_VERSION;
    if (buf[5] != filter) return EPHYS_ERR_CODEC;
    int ndim = buf[7], flags = version == 1 ? buf[FLAGS_AT] : buf[FLAGS_AT] & ~(EPHYS_FILTER_FORTRAN | EPHYS_FILTER_UNCHECKED);
    if (ndim > 8 || flags || buf[10] || buf[11]) return EPHYS_ERR_HEADER;
    if (len < header_bytes(version, ndim)) return EPHYS_ERR_TRUNCATED;
    if (version >= 2 && header_crc(buf, ndim) != ephys_get_le32(buf + HEADER_CRC_AT)) return EPHYS_ERR_HEADER;
    uint64_t shape[8], so = fixed_bytes(version);
    for (int d = 0; d < ndim; d++) shape[d] = ephys_get_le64(buf + so + 8 * d);
    uint64_t table_rows = ephys_get_le32(buf + 12);
    uint64_t escapes = ephys_get_le64(buf + 16);
    if (escapes >= LIMIT / 16) return EPHYS_ERR_HEADER;
    int err = layout(version, filter, buf[6], ndim, shape, buf[8], table_rows, escapes, info);
    if (err) return EPHYS_ERR_HEADER;
    info->flags = version >= 2 ? buf[FLAGS_AT] : 0;
    info->params_hash = ephys_get_le64(buf + 24);
    if (info->total_bytes != len) return info->total_bytes > len ? EPHYS_ERR_TRUNCATED : EPHYS_ERR_CORRUPT;
    /* the padding after the header must be what the encoder wrote */
    uint64_t hb = header_bytes(version, ndim);
    for (uint64_t i = hb; i < info->header_rows * info->row_bytes; i++)
        if (buf[i] != pad_byte(info, buf, i)) return EPHYS_ERR_HEADER;
    return EPHYS_OK;
}

int ephys_filter_seal(uint8_t *buf, size_t len, int flags, const void *samples, size_t samples_len)
{
    if (!buf || len < fixed_bytes(FILTER_VERSION) || buf[4] != FILTER_VERSION ||
        (flags & ~(EPHYS_FILTER_FORTRAN | EPHYS_FILTER_UNCHECKED)) ||
        (!(flags & EPHYS_FILTER_UNCHECKED) && !samples && samples_len))
        return EPHYS_ERR_ARGS;
    int ndim = buf[7];
    if (ndim > 8 || len < header_bytes(FILTER_VERSION, ndim)) return EPHYS_ERR_ARGS;
    buf[FLAGS_AT] = (uint8_t)flags;
    ephys_put_le32(buf + SAMPLES_CRC_AT, flags & EPHYS_FILTER_UNCHECKED ? 0 : ephys_crc32c(0, samples, samples_len));
    ephys_put_le32(buf + HEADER_CRC_AT, header_crc(buf, ndim));
    return EPHYS_OK;
}

int ephys_filter_verify(const uint8_t *buf, size_t len, const void *samples, size_t samples_len)
{
    if (!buf || len < 32 || (!samples && samples_len)) return EPHYS_ERR_ARGS;
    if (buf[4] == 1 || (buf[FLAGS_AT] & EPHYS_FILTER_UNCHECKED)) return EPHYS_OK;
    if (len < fixed_bytes(FILTER_VERSION)) return EPHYS_ERR_ARGS;
    return ephys_crc32c(0, samples, samples_len) == ephys_get_le32(buf + SAMPLES_CRC_AT) ? EPHYS_OK : EPHYS_ERR_CHECKSUM;
}
