/* Header shared by the filters; see filter.h for the layout. */
#include <string.h>

#include "chunk.h"
#include "filter.h"

#define FILTER_MAGIC "EPHF"
#define FILTER_VERSION 1
#define LIMIT ((uint64_t)1 << 62)

static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint64_t get_u64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

/* a * b, or LIMIT when it would exceed LIMIT */
static uint64_t mul_cap(uint64_t a, uint64_t b)
{
    if (a && b > LIMIT / a) return LIMIT;
    return a * b;
}

int ephys_filter_layout(int filter, int itemsize, int ndim, const uint64_t *shape, int param,
                        uint64_t table_rows, uint64_t n_escapes, ephys_filter_info_t *info)
{
    if (!info || ndim < 0 || ndim > 8 || (ndim && !shape)) return EPHYS_ERR_ARGS;
    if (itemsize != 1 && itemsize != 2 && itemsize != 4 && itemsize != 8) return EPHYS_ERR_ARGS;
    memset(info, 0, sizeof(*info));
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
    uint64_t hb = EPHYS_FILTER_HEADER_FIXED + 8 * (uint64_t)ndim;
    info->header_rows = (hb + info->row_bytes - 1) / info->row_bytes;
    info->table_rows = table_rows;
    info->extra_a = n_escapes;
    uint64_t esc_rows = (mul_cap(n_escapes, 16) + info->row_bytes - 1) / info->row_bytes;
    uint64_t data_rows = channels ? info->n_samples : 0;
    if (table_rows >= LIMIT || esc_rows >= LIMIT) return EPHYS_ERR_ARGS;
    uint64_t rows = info->header_rows + table_rows + data_rows + esc_rows;
    info->payload_offset = (info->header_rows + table_rows) * info->row_bytes;
    info->total_bytes = mul_cap(rows, info->row_bytes);
    if (info->total_bytes >= LIMIT) return EPHYS_ERR_ARGS;
    return EPHYS_OK;
}

void ephys_filter_write_header(const ephys_filter_info_t *info, uint8_t *out)
{
    memset(out, 0, info->header_rows * info->row_bytes);
    memcpy(out, FILTER_MAGIC, 4);
    out[4] = FILTER_VERSION;
    out[5] = (uint8_t)info->filter;
    out[6] = (uint8_t)info->itemsize;
    out[7] = (uint8_t)info->ndim;
    out[8] = (uint8_t)info->param;
    out[12] = (uint8_t)info->table_rows;
    out[13] = (uint8_t)(info->table_rows >> 8);
    out[14] = (uint8_t)(info->table_rows >> 16);
    out[15] = (uint8_t)(info->table_rows >> 24);
    put_u64(out + 16, info->extra_a);
    put_u64(out + 24, info->extra_b);
    for (int d = 0; d < info->ndim; d++) put_u64(out + 32 + 8 * d, info->shape[d]);
}

static uint8_t pad_byte(const ephys_filter_info_t *info, const uint8_t *buf, uint64_t i)
{
    uint64_t start = info->header_rows * info->row_bytes;
    return info->total_bytes > start ? buf[start + i % info->row_bytes] : 0;
}

void ephys_filter_pad_header(const ephys_filter_info_t *info, uint8_t *out)
{
    uint64_t hb = EPHYS_FILTER_HEADER_FIXED + 8 * (uint64_t)info->ndim;
    for (uint64_t i = hb; i < info->header_rows * info->row_bytes; i++) out[i] = pad_byte(info, out, i);
}

int ephys_filter_parse(const uint8_t *buf, size_t len, int filter, ephys_filter_info_t *info)
{
    if (!info || (!buf && len)) return EPHYS_ERR_ARGS;
    if (len < 4) return EPHYS_ERR_TRUNCATED;
    if (memcmp(buf, FILTER_MAGIC, 4)) return EPHYS_ERR_MAGIC;
    if (len < EPHYS_FILTER_HEADER_FIXED) return EPHYS_ERR_TRUNCATED;
    if (buf[4] != FILTER_VERSION) return EPHYS_ERR_VERSION;
    if (buf[5] != filter) return EPHYS_ERR_CODEC;
    int ndim = buf[7];
    if (ndim > 8 || buf[9] || buf[10] || buf[11]) return EPHYS_ERR_HEADER;
    if (len < EPHYS_FILTER_HEADER_FIXED + 8 * (size_t)ndim) return EPHYS_ERR_TRUNCATED;
    uint64_t shape[8];
    for (int d = 0; d < ndim; d++) shape[d] = get_u64(buf + 32 + 8 * d);
    uint64_t table_rows = (uint64_t)buf[12] | (uint64_t)buf[13] << 8 | (uint64_t)buf[14] << 16 | (uint64_t)buf[15] << 24;
    uint64_t escapes = get_u64(buf + 16);
    if (escapes >= LIMIT / 16) return EPHYS_ERR_HEADER;
    int err = ephys_filter_layout(filter, buf[6], ndim, shape, buf[8], table_rows, escapes, info);
    if (err) return EPHYS_ERR_HEADER;
    info->extra_b = get_u64(buf + 24);
    if (info->total_bytes != len) return info->total_bytes > len ? EPHYS_ERR_TRUNCATED : EPHYS_ERR_CORRUPT;
    /* the padding after the header must be what the encoder wrote */
    uint64_t hb = EPHYS_FILTER_HEADER_FIXED + 8 * (uint64_t)ndim;
    for (uint64_t i = hb; i < info->header_rows * info->row_bytes; i++)
        if (buf[i] != pad_byte(info, buf, i)) return EPHYS_ERR_HEADER;
    return EPHYS_OK;
}
