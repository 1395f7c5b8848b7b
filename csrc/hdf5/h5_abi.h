/* The few HDF5 declarations a filter plugin needs, written out so that the
 * plugins build without HDF5's headers and never link libhdf5: the functions
 * are looked up at run time in the libhdf5 that calls the filter (h5_api.c).
 * Values and layouts are HDF5's public ABI since 1.10 (hid_t is 64-bit),
 * unchanged through 2.0. */
#ifndef EPHYS_H5_ABI_H
#define EPHYS_H5_ABI_H
#include <stddef.h>
#include <stdint.h>

typedef int herr_t;
typedef int htri_t;
typedef int64_t hid_t;
typedef unsigned long long hsize_t;
typedef int H5Z_filter_t;

#define H5Z_FLAG_OPTIONAL 0x0001
#define H5Z_FLAG_REVERSE 0x0100
#define H5Z_CLASS_T_VERS 1
#define H5S_MAX_RANK 32

typedef enum { H5PL_TYPE_ERROR = -1, H5PL_TYPE_FILTER = 0, H5PL_TYPE_NONE = 1 } H5PL_type_t;
/* H5T_class_t, H5T_order_t, H5T_sign_t values we test against */
enum { H5T_INTEGER = 0, H5T_FLOAT = 1 };
enum { H5T_ORDER_LE = 0 };
enum { H5T_SGN_NONE = 0, H5T_SGN_2 = 1 };

typedef htri_t (*H5Z_can_apply_func_t)(hid_t dcpl_id, hid_t type_id, hid_t space_id);
typedef herr_t (*H5Z_set_local_func_t)(hid_t dcpl_id, hid_t type_id, hid_t space_id);
typedef size_t (*H5Z_func_t)(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[],
                             size_t nbytes, size_t *buf_size, void **buf);

typedef struct H5Z_class2_t {
    int version;
    H5Z_filter_t id;
    unsigned encoder_present;
    unsigned decoder_present;
    const char *name;
    H5Z_can_apply_func_t can_apply;
    H5Z_set_local_func_t set_local;
    H5Z_func_t filter;
} H5Z_class2_t;

#endif
